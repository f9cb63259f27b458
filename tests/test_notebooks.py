"""Every study notebook runs end to end on the smoke profile (through the study runner)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mattinglib.study import discover_notebooks, run_study
from mattinglib.study.notebooks import needed_data
from mattinglib.study.provenance import datasets_found

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = discover_notebooks(REPO / "notebooks")
NOTEBOOKS_BY_NAME = {p.stem: p for p in NOTEBOOKS}


def test_the_study_has_notebooks_with_a_parameters_cell():
    names = [p.stem for p in NOTEBOOKS]
    assert {"00_overview", "01_data_and_labels", "02_ddc_loss"} <= set(names)
    assert names[-1] == "00_overview"  # it reads the others' results, so it runs last


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    # Training runs go to a fresh folder (the kernels inherit the variable): a smoke test must
    # train, not find the runs of an earlier test session.
    previous = os.environ.get("MATTINGLIB_RUNS")
    os.environ["MATTINGLIB_RUNS"] = str(tmp_path_factory.mktemp("runs"))
    try:
        runs = run_study("smoke", results_dir=results, notebooks_dir=REPO / "notebooks", timeout=600)
    finally:
        if previous is None:
            del os.environ["MATTINGLIB_RUNS"]
        else:
            os.environ["MATTINGLIB_RUNS"] = previous
    return results, {run.name: run for run in runs}


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_the_smoke_profile(smoke_results, name):
    results, runs = smoke_results
    assert runs[name].status == "ok", runs[name].error
    folder = results / name
    assert (folder / f"{name}.ipynb").is_file() and (folder / f"{name}.html").is_file()
    assert json.loads((folder / "run.json").read_text())["profile"] == "smoke"
    found = datasets_found()
    if name != "00_overview" and all(found.get(folder_name) for folder_name in needed_data(NOTEBOOKS_BY_NAME[name])):
        assert list(folder.glob("*.png")) and list(folder.glob("*.pdf")), "every experiment draws a figure"
        assert list(folder.glob("*.csv")), "every experiment writes a table"


def test_overview_reads_back_the_claims(smoke_results):
    results, _ = smoke_results
    headline = (results / "00_overview" / "headline.csv").read_text()
    claims = json.loads((results / "02_ddc_loss" / "claims.json").read_text())
    assert claims and all(c["claim"] in headline for c in claims)
    assert (results / "README.md").is_file()


@pytest.mark.parametrize("notebook", ["60_real_trimap_input", "70_real_image_only"])
def test_the_real_track_reports_every_regime_it_tried(smoke_results, notebook):
    """Each real track's regime table: the profile's regime first (cost 1), every other regime
    tried after it, and the gate column computed from the ratio to closed-form matting."""
    import pandas as pd

    from mattinglib.study.findings import CLASSICAL_FACTOR

    results, _ = smoke_results
    if not datasets_found().get("alphamatting-lowres"):
        pytest.skip(f"the alphamatting.com scenes are absent: notebook {notebook} has nothing to tune or score")
    table = pd.read_csv(results / notebook / "regimes.csv")
    assert list(table["regime"]) == ["profile", "width 32"]  # smoke keeps the regimes that keep the steps and sizes
    assert table["cost"].iloc[0] == 1 and table["cost"].iloc[1] > 1
    assert table["parameters"].iloc[1] > table["parameters"].iloc[0]
    assert (table["within the gate"] == (table["x closed-form"] <= CLASSICAL_FACTOR)).all()
    reading = (results / notebook / f"{notebook}.ipynb").read_text()
    assert "**Regimes**" in reading
