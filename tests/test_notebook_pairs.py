"""Every study notebook has a jupytext percent script beside it, and the two hold the same cells.

The ``.py`` files are what a reviewer reads in a diff; the ``.ipynb`` files are what papermill
runs. Edit either, then ``make sync-notebooks`` (``jupytext --sync``) updates the other.
"""
from __future__ import annotations

import json
from pathlib import Path

import jupytext
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def cells_of(notebook) -> list[tuple[str, str, tuple[str, ...]]]:
    """(type, source, tags) of every cell: what the pair must agree on."""
    return [(cell.cell_type, cell.source.strip(), tuple(cell.metadata.get("tags", ()))) for cell in notebook.cells]


def differences(ipynb: Path, script: Path) -> list[str]:
    """What differs between a notebook and its percent script (empty when in sync)."""
    if not script.is_file():
        return [f"{script.name} is missing: run make sync-notebooks"]
    left, right = cells_of(jupytext.read(ipynb)), cells_of(jupytext.read(script))
    problems = [f"{ipynb.name} has {len(left)} cells, {script.name} {len(right)}"] if len(left) != len(right) else []
    for index, (a, b) in enumerate(zip(left, right)):
        if a != b:
            problems.append(f"cell {index} differs ({a[0]} {a[2]} against {b[0]} {b[2]}): {a[1][:60]!r} / {b[1][:60]!r}")
    return problems


def test_the_study_has_notebooks():
    assert len(NOTEBOOKS) >= 8


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_and_its_script_hold_the_same_cells(ipynb):
    assert differences(ipynb, ipynb.with_suffix(".py")) == []
    assert json.loads(ipynb.read_text())["metadata"]["jupytext"]["formats"] == "ipynb,py:percent"


def test_an_edit_on_one_side_is_caught(tmp_path):
    source = NOTEBOOKS[1]
    ipynb, script = tmp_path / source.name, tmp_path / source.with_suffix(".py").name
    ipynb.write_text(source.read_text())
    script.write_text(source.with_suffix(".py").read_text())
    assert differences(ipynb, script) == []
    text = script.read_text()
    script.write_text(text.replace("PROFILE = ", "PROFILE  =  ", 1))
    assert differences(ipynb, script)
    # Dropping the parameters tag is a difference too (papermill needs it).
    script.write_text(text.replace('tags=["parameters"]', "", 1))
    assert any("parameters" in problem for problem in differences(ipynb, script))
