"""The environment variables mattinglib reads and sets."""
from __future__ import annotations

import os

import pytest

from mattinglib.environment import default_thread_variables


def test_thread_variables_are_set_for_the_block_and_unset_after(monkeypatch):
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    with default_thread_variables(1, ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")):
        assert os.environ["NUMBA_NUM_THREADS"] == "1"  # unset: given for the child processes
        assert os.environ["OMP_NUM_THREADS"] == "7"    # the user's value is kept
    # This process is left as it was: numba refuses a changed value once its threads run.
    assert "NUMBA_NUM_THREADS" not in os.environ and os.environ["OMP_NUM_THREADS"] == "7"


def test_thread_variables_are_unset_after_an_error_too(monkeypatch):
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    with pytest.raises(RuntimeError), default_thread_variables(2, ("MKL_NUM_THREADS",)):
        raise RuntimeError("a failed notebook")
    assert "MKL_NUM_THREADS" not in os.environ
