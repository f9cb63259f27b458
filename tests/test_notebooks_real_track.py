"""The real-image track's notebooks (60, 70) run end to end on the smoke profile.

A study of their own (results and runs folders): no other notebook trains their runs, so they
run in a pytest-xdist worker of their own beside the other notebooks (test_notebooks.py).
"""
from __future__ import annotations

import pandas as pd
import pytest

from mattinglib.study.findings import CLASSICAL_FACTOR
from mattinglib.study.provenance import datasets_found
from test_notebooks import REAL_TRACK, check_smoke_run


@pytest.mark.parametrize("name", REAL_TRACK)
def test_notebook_runs_on_the_smoke_profile(smoke_study, name):
    check_smoke_run(*smoke_study(REAL_TRACK), name)


@pytest.mark.parametrize("notebook", REAL_TRACK)
def test_the_real_track_reports_every_regime_it_tried(smoke_study, notebook):
    """Each real track's regime table: the profile's regime first (cost 1), every other regime
    tried after it, and the gate column computed from the ratio to closed-form matting."""
    results, _ = smoke_study(REAL_TRACK)
    if not datasets_found().get("alphamatting-lowres"):
        pytest.skip(f"the alphamatting.com scenes are absent: notebook {notebook} has nothing to tune or score")
    table = pd.read_csv(results / notebook / "regimes.csv")
    # smoke keeps the first two levers at no extra work; one regime is adopted
    assert list(table["regime"]) == ["profile", "see-through 30 %", "encoder lr x 0.3"]
    assert (table["cost"] == 1).all()
    assert (table["within the gate"] == (table["x closed-form"] <= CLASSICAL_FACTOR)).all()
    reading = (results / notebook / f"{notebook}.ipynb").read_text()
    assert "**Regimes**" in reading
