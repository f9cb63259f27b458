"""The project's own promises: pins agree, README names the two commands, CI runs only them."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {}
    for dep in deps:
        name, sep, version = dep.partition("==")
        assert sep, f"pyproject.toml: {dep!r} is not pinned with =="
        pins[name.strip().lower()] = version.strip()
    return pins


def _environment_pins() -> dict[str, str]:
    text = (REPO / "environment.yml").read_text()
    assert re.search(r"^\s*-\s*python=3\.11\s*$", text, re.M), "environment.yml must ask for python=3.11"
    assert "conda-forge" in text
    pins = {}
    for name, version in re.findall(r"^\s+-\s+([A-Za-z0-9_.\-]+)==([^\s#]+)", text, re.M):
        pins[name.lower()] = version
    return pins


def test_environment_yml_agrees_with_pyproject():
    pyproject, environment = _pyproject_pins(), _environment_pins()
    assert pyproject == environment
    assert pyproject["torch"] == "2.13.0"
    for required in ("jupyterlab", "papermill", "matplotlib", "seaborn", "pandas", "numpy", "scikit-image",
                     "pymatting", "tqdm", "pytest"):
        assert required in pyproject, required


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    readme = (REPO / "README.md").read_text()
    assert "make study" in readme and "make test" in readme
    ci = (REPO / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines()
                if line.strip() and not line.strip().startswith(("#", "set ", "cd ", "export "))]
    assert commands == ["exec make test"], commands


def test_makefile_targets_exist():
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^study:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "-m pytest" in makefile
