"""The environment variables mattinglib reads, all of them, in this one module.

=========================  =====================================================================
variable                   meaning
=========================  =====================================================================
``MATTINGLIB_DATA``        folder holding the datasets (``alphamatting-lowres/``, ``AM-2K/``, ...)
``MATTINGLIB_CACHE``       where derived data (estimated foregrounds, synthetic items) are kept;
                           default ``~/.cache/mattinglib``
``MATTINGLIB_ITEM_STORE``  where synthetic training items are kept on disk for later runs;
                           default ``$MATTINGLIB_CACHE/synthetic-items``; ``0`` or ``off``: none
``MATTINGLIB_RUNS``        folder of the study's training runs; default ``runs/`` (the study adds
                           the profile's name)
``RANK``,                  set by ``torchrun``: this process's rank, the number of processes and
``WORLD_SIZE``,            the rank on this machine (multi-GPU training)
``LOCAL_RANK``
``CI``                     set by continuous integration: no progress bars
``OMP_NUM_THREADS``,       thread counts of the numerical libraries, read only to key stored
``MKL_NUM_THREADS``,       scores by them (:mod:`mattinglib.study.score_cache`: floating-point
``OPENBLAS_NUM_THREADS``,  sums may differ with the thread count)
``NUMBA_NUM_THREADS``
=========================  =====================================================================

Every other module asks these functions, so a variable is named, defaulted and documented
once.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

DATA_ENV = "MATTINGLIB_DATA"
CACHE_ENV = "MATTINGLIB_CACHE"
RUNS_ENV = "MATTINGLIB_RUNS"
ITEM_STORE_ENV = "MATTINGLIB_ITEM_STORE"
#: Variables that set the thread counts of OpenMP, MKL, OpenBLAS and numba.
THREAD_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def data_root_from_env() -> Path | None:
    """``$MATTINGLIB_DATA`` as a path, or None when it is unset or empty."""
    value = os.environ.get(DATA_ENV)
    return Path(value) if value else None


def cache_dir() -> Path:
    """Where derived data are cached: ``$MATTINGLIB_CACHE`` or ``~/.cache/mattinglib``."""
    value = os.environ.get(CACHE_ENV)
    return Path(value) if value else Path.home() / ".cache" / "mattinglib"


def item_store_dir() -> Path | None:
    """Where synthetic training items are stored (:mod:`mattinglib.data.synthetic.store`):
    ``$MATTINGLIB_ITEM_STORE``, default ``cache_dir() / "synthetic-items"``; None when the
    variable is ``0`` or ``off``."""
    value = os.environ.get(ITEM_STORE_ENV)
    if value is not None and value.strip().lower() in {"0", "off"}:
        return None
    return Path(value) if value else cache_dir() / "synthetic-items"


def runs_dir_from_env() -> Path | None:
    """``$MATTINGLIB_RUNS`` as a path, or None when it is unset or empty."""
    value = os.environ.get(RUNS_ENV)
    return Path(value) if value else None


def thread_variables() -> dict[str, str | None]:
    """Each of :data:`THREAD_ENVS` as set (None where unset)."""
    return {name: os.environ.get(name) for name in THREAD_ENVS}


@contextlib.contextmanager
def default_thread_variables(threads: int, names: tuple[str, ...] = THREAD_ENVS):
    """Set each of ``names`` that is unset to ``threads`` for the ``with`` block, then unset it again.

    For child processes started inside the block (a notebook's kernel): they inherit the
    variables, while this process is left as it was, since numba refuses a changed
    ``NUMBA_NUM_THREADS`` once its threads run. A value the user set is kept.
    """
    added = [name for name in names if os.environ.get(name) is None]
    for name in added:
        os.environ[name] = str(threads)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def torchrun_ranks() -> tuple[int, int, int | None]:
    """``(RANK, WORLD_SIZE, LOCAL_RANK)`` as torchrun sets them; ``(0, 1, None)`` outside it."""
    if "RANK" not in os.environ:
        return 0, 1, None
    local = os.environ.get("LOCAL_RANK")
    return int(os.environ["RANK"]), int(os.environ.get("WORLD_SIZE", "1")), None if local is None else int(local)

