"""Every study notebook runs end to end on the smoke profile (through the study runner).

The real-image track's two notebooks are tested in ``test_notebooks_real_track.py``: their runs
(real foregrounds) are no other notebook's, so they run as a study of their own, in a second
pytest-xdist worker beside this file's (``make test``). The notebooks here share their tuning runs
on synthetic composites, trained once in their shared runs folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mattinglib.study import discover_notebooks
from mattinglib.study.notebooks import needed_data
from mattinglib.study.provenance import datasets_found

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = discover_notebooks(REPO / "notebooks")
NOTEBOOKS_BY_NAME = {p.stem: p for p in NOTEBOOKS}
#: Tested in test_notebooks_real_track.py.
REAL_TRACK = ("60_real_trimap_input", "70_real_image_only")
#: Tested here, the overview last (a summary: it reads back what the others wrote).
SYNTHETIC = tuple(p.stem for p in NOTEBOOKS if p.stem not in REAL_TRACK)


def test_the_study_has_notebooks_with_a_parameters_cell():
    names = [p.stem for p in NOTEBOOKS]
    assert {"00_overview", "01_data_and_labels", "02_ddc_loss"} <= set(names)
    assert names[-1] == "00_overview"  # it reads the others' results, so it runs last
    assert set(REAL_TRACK) < set(names)


def check_smoke_run(results: Path, runs: dict, name: str) -> None:
    """Notebook ``name`` ran on the smoke profile and wrote its notebook, page, run record, and
    (with its data) figures and tables into ``results/name``."""
    assert runs[name].status == "ok", runs[name].error
    folder = results / name
    assert (folder / f"{name}.ipynb").is_file() and (folder / f"{name}.html").is_file()
    assert json.loads((folder / "run.json").read_text())["profile"] == "smoke"
    found = datasets_found()
    if name != "00_overview" and all(found.get(folder_name) for folder_name in needed_data(NOTEBOOKS_BY_NAME[name])):
        assert list(folder.glob("*.png")) and list(folder.glob("*.pdf")), "every experiment draws a figure"
        assert list(folder.glob("*.csv")), "every experiment writes a table"


@pytest.mark.parametrize("name", SYNTHETIC)
def test_notebook_runs_on_the_smoke_profile(smoke_study, name):
    check_smoke_run(*smoke_study(SYNTHETIC), name)


def test_overview_reads_back_the_claims(smoke_study):
    results, _ = smoke_study(SYNTHETIC)
    headline = (results / "00_overview" / "headline.csv").read_text()
    claims = json.loads((results / "02_ddc_loss" / "claims.json").read_text())
    assert claims and all(c["claim"] in headline for c in claims)
    assert (results / "README.md").is_file()
