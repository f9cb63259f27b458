"""The study runner on two tiny fixture notebooks (smoke profile, a few seconds per kernel)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mattinglib import study
from mattinglib.study import execution, provenance
from mattinglib.study.__main__ import main as study_main

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notebooks"
REAL_CODE_VERSION = provenance.code_version  # kept before fixed_code_version pins it


@pytest.fixture(scope="module", autouse=True)
def fixed_code_version():
    """Pin the code version: an edit of mattinglib/*.py while these tests run (a developer
    saving a file) would otherwise, rightly, invalidate the cache the tests expect to hit.
    That the key follows the code is tested on run_key itself."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(provenance, "code_version", lambda *args: "code-version-of-the-tests")
        patch.setattr(execution, "code_version", lambda *args: "code-version-of-the-tests")  # its own import
        yield


@pytest.fixture(scope="module")
def study_dirs(tmp_path_factory) -> tuple[Path, Path]:
    """Copies of the fixture notebooks and an empty results folder."""
    root = tmp_path_factory.mktemp("study")
    notebooks = root / "notebooks"
    shutil.copytree(FIXTURES, notebooks)
    return notebooks, root / "results"


@pytest.fixture(scope="module")
def first_run(study_dirs) -> list[study.NotebookRun]:
    """Both fixtures run once, in parallel (two worker processes)."""
    notebooks, results = study_dirs
    return study.run_study("smoke", jobs=2, results_dir=results, notebooks_dir=notebooks)


def _write_notebook(path: Path, parameters_source: str, code: str = "x = 1", metadata: dict | None = None) -> None:
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": parameters_source,
              "outputs": [], "execution_count": None},
             {"cell_type": "code", "metadata": {}, "source": code, "outputs": [], "execution_count": None}]
    path.write_text(json.dumps({"cells": cells, "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}))


# ----------------------------------------------------------------------------- no kernel needed

def test_read_parameters_gives_the_literal_defaults():
    values = study.read_parameters(FIXTURES / "hello.ipynb")
    assert values == {"PROFILE": "cpu", "SEED": 0, "OUTPUT_DIR": "results/hello", "GREETING": "hello"}


@pytest.mark.parametrize("source, message", [
    ("PROFILE = 'cpu'\nSTEPS = 10 * 2", "not a literal"),
    ("PROFILE = 'cpu'\nprint(PROFILE)", "only assignments"),
    ("PROFILE = 'cpu'\nSTEPS = (", "syntax error"),
])
def test_read_parameters_refuses_a_cell_that_is_not_literal_assignments(tmp_path, source, message):
    path = tmp_path / "bad.ipynb"
    _write_notebook(path, source)
    with pytest.raises(ValueError, match=message) as info:
        study.read_parameters(path)
    assert "bad.ipynb" in str(info.value)


def test_a_notebook_without_parameters_cell_is_refused(tmp_path):
    path = tmp_path / "untagged.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": "A = 1",
                                           "outputs": [], "execution_count": None}],
                                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    with pytest.raises(ValueError, match="untagged.ipynb: no cell is tagged 'parameters'"):
        study.read_parameters(path)


def test_overrides_parse_as_json_else_as_text():
    assert study.parse_override("STEPS", "300") == ("STEPS", 300)
    assert study.parse_override("LR", "1e-3") == ("LR", 1e-3)
    assert study.parse_override("FLAG", "true") == ("FLAG", True)
    assert study.parse_override("SIZES", "[64, 128]") == ("SIZES", [64, 128])
    assert study.parse_override("NAME", "known+ddc") == ("NAME", "known+ddc")
    with pytest.raises(ValueError, match="set by the runner"):
        study.parse_override("OUTPUT_DIR", "elsewhere")


def test_claims_are_checked(tmp_path):
    from mattinglib.study.claims import make_claim, no_gate

    good = make_claim("c", "inconclusive", "f", metric="sad", candidate="a", reference="b", eval_set="s",
                      profile="cpu", gate=no_gate("none"), effect=0.1, ci_low=-0.1, ci_high=0.3)
    path = tmp_path / "claims.json"
    path.write_text(json.dumps([good]))
    assert study.read_claims(path)[0]["status"] == "inconclusive"
    path.write_text(json.dumps([good | {"status": "sort of"}]))
    with pytest.raises(ValueError, match="claim 0: status 'sort of'"):
        study.read_claims(path)
    path.write_text(json.dumps({"claim": "c"}))
    with pytest.raises(ValueError, match="must hold a list"):
        study.read_claims(path)


def test_code_version_changes_with_the_sources(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("A = 1\n")
    (package / "sub" / "b.py").write_text("B = 2\n")
    before = REAL_CODE_VERSION(package)
    assert REAL_CODE_VERSION(package) == before
    (package / "sub" / "b.py").write_text("B = 3\n")
    assert REAL_CODE_VERSION(package) != before
    assert len(REAL_CODE_VERSION()) == 64  # the installed package


def test_run_key_follows_notebook_parameters_code_and_profile(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    _write_notebook(notebook, "PROFILE = 'cpu'\nOUTPUT_DIR = 'x'\nSTEPS = 1")
    key, parts = study.run_key(notebook, {"PROFILE": "smoke"}, "smoke", "code-a")
    assert parts["code_version"] == "code-a" and parts["parameters"] == {"PROFILE": "smoke"}
    assert study.run_key(notebook, {"PROFILE": "smoke"}, "smoke", "code-a")[0] == key
    assert study.run_key(notebook, {"PROFILE": "smoke"}, "smoke", "code-b")[0] != key
    assert study.run_key(notebook, {"PROFILE": "smoke", "STEPS": 2}, "smoke", "code-a")[0] != key
    assert study.run_key(notebook, {"PROFILE": "cpu"}, "cpu", "code-a")[0] != key
    _write_notebook(notebook, "PROFILE = 'cpu'\nOUTPUT_DIR = 'x'\nSTEPS = 1", code="x = 2")
    assert study.run_key(notebook, {"PROFILE": "smoke"}, "smoke", "code-a")[0] != key


def test_rerun_reason_names_what_changed(tmp_path):
    notebook = tmp_path / "nb.ipynb"
    _write_notebook(notebook, "PROFILE = 'cpu'\nOUTPUT_DIR = 'x'\nSTEPS = 1")
    files = {"train.py": "a", "evaluate.py": "b", "metrics.py": "c"}
    _, parts = study.run_key(notebook, {"PROFILE": "smoke", "STEPS": 2}, "smoke", "code-a",
                             data={"alphamatting-lowres": False})
    earlier = {"status": "ok", "key_parts": parts, "code_files": files}
    assert provenance.rerun_reason(None, parts, files) == "no earlier run"
    assert provenance.rerun_reason(earlier, parts, files, forced=True) == "forced (--force)"
    assert provenance.rerun_reason(earlier | {"status": "failed"}, parts, files) == "earlier run did not finish"
    edited = {**files, "train.py": "a2", "evaluate.py": "b2", "new.py": "d"}
    _, now = study.run_key(notebook, {"PROFILE": "smoke", "STEPS": 3, "SEEDS": [0]}, "smoke", "code-b",
                           data={"alphamatting-lowres": True})
    assert provenance.rerun_reason(earlier, now, edited) == (
        "parameters changed (SEEDS, STEPS); code changed (mattinglib/evaluate.py, mattinglib/new.py, "
        "mattinglib/train.py); data changed (alphamatting-lowres now found)")
    _write_notebook(notebook, "PROFILE = 'cpu'\nOUTPUT_DIR = 'x'\nSTEPS = 1", code="x = 2")
    _, now = study.run_key(notebook, {"PROFILE": "cpu", "STEPS": 2}, "cpu", "code-b",
                           data={"alphamatting-lowres": False})
    assert provenance.rerun_reason({"status": "ok", "key_parts": parts}, now, files) == (
        "notebook changed; parameters changed (PROFILE); code changed (the earlier run recorded no files)")


def test_an_interrupted_swap_is_undone(tmp_path):
    final, old = tmp_path / "nb", tmp_path / ".nb.old"
    old.mkdir()
    (old / "table.csv").write_text("a\n1\n")
    execution._restore_interrupted_swap(final, old)
    assert (final / "table.csv").exists() and not old.exists()


# ----------------------------------------------------------------------------- with kernels

def test_first_run_writes_notebook_html_and_run_json(first_run, study_dirs):
    _, results = study_dirs
    assert [(run.name, run.status) for run in first_run] == [("flaky", "ok"), ("hello", "ok")]
    hello = results / "hello"
    for name in ("hello.ipynb", "hello.html", "run.json", "greetings.csv", "greetings.md", "values.png",
                 "values.pdf", "claims.json"):
        assert (hello / name).is_file(), name
    record = json.loads((hello / "run.json").read_text())
    assert record["status"] == "ok" and record["profile"] == "smoke"
    assert record["parameters"] == {"PROFILE": "smoke", "OUTPUT_DIR": hello.resolve().as_posix()}
    assert record["key"] == first_run[1].key
    assert set(provenance.RECORDED_PACKAGES) <= set(record["packages"])
    assert record["packages"]["numpy"] and record["wall_seconds"] > 0
    assert "sha" in record["commit"] and "dirty" in record["commit"]
    # The smoke profile reached the notebook: it wrote two repeats (cpu would write three).
    assert len((hello / "greetings.csv").read_text().strip().splitlines()) == 1 + 2
    # The HTML rendering shows outputs but not the code.
    html = (hello / "hello.html").read_text()
    assert "Hello fixture" in html and "write_table(table" not in html
    # No temporary folders are left behind.
    assert sorted(p.name for p in results.iterdir()) == ["README.md", "flaky", "hello"]


def test_readme_embeds_claims_tables_and_figures(first_run, study_dirs):
    _, results = study_dirs
    readme = (results / "README.md").read_text()
    assert "profile **smoke**" in readme
    assert "## Hello fixture" in readme and "## Flaky fixture" in readme
    assert "| The fixture greets | reproduced | It wrote 2 rows saying 'hello'. |" in readme
    assert "| greeting | repeat | value |" in readme
    assert "![values](hello/values.png)" in readme
    assert readme.index("## Flaky fixture") < readme.index("## Hello fixture")  # notebooks in name order


def test_unknown_parameter_is_an_error_naming_notebook_and_parameter(first_run, study_dirs, capsys):
    notebooks, results = study_dirs
    with pytest.raises(ValueError, match=r"hello\.ipynb: unknown parameter\(s\) NOT_A_PARAMETER"):
        study.run_study("smoke", only=["hello"], results_dir=results, notebooks_dir=notebooks,
                        overrides={"NOT_A_PARAMETER": 1})
    status = study_main(["--profile", "smoke", "--notebooks", str(notebooks), "--results", str(results),
                         "-p", "SHOULD_FAIL", "true"])
    assert status == 2
    # flaky declares SHOULD_FAIL, hello does not: the error names hello only.
    error = capsys.readouterr().err
    assert "hello.ipynb: unknown parameter(s) SHOULD_FAIL" in error and "flaky.ipynb" not in error


def test_unchanged_run_is_cached_and_a_changed_parameter_reruns(first_run, study_dirs, capsys):
    notebooks, results = study_dirs
    first = json.loads((results / "hello" / "run.json").read_text())
    assert first["reason"] == "no earlier run" and "evaluate.py" in first["code_files"]
    again = study.run_study("smoke", results_dir=results, notebooks_dir=notebooks)
    assert [run.status for run in again] == ["cached", "cached"]
    assert [run.key for run in again] == [run.key for run in first_run]

    capsys.readouterr()
    changed = study.run_study("smoke", only=["hello"], results_dir=results, notebooks_dir=notebooks,
                              overrides={"GREETING": "bye"})
    assert [(run.name, run.status) for run in changed] == [("hello", "ok")]
    # The line saying why it ran (the code is pinned by fixed_code_version: no code line).
    assert "[study] hello: re-executed: parameters changed (GREETING)\n" in capsys.readouterr().out
    assert changed[0].key != first_run[1].key
    assert "bye" in (results / "hello" / "greetings.csv").read_text()
    record = json.loads((results / "hello" / "run.json").read_text())
    assert record["parameters"]["GREETING"] == "bye"
    assert record["reason"] == "parameters changed (GREETING)"
    # The README still lists every notebook, not only the one that ran.
    assert "## Flaky fixture" in (results / "README.md").read_text()


def test_failing_notebook_keeps_old_results_and_main_names_it(first_run, study_dirs, capsys):
    notebooks, results = study_dirs
    status = study_main(["--profile", "smoke", "--notebooks", str(notebooks), "--results", str(results),
                         "--only", "flaky", "-p", "SHOULD_FAIL", "true"])
    assert status == 1
    captured = capsys.readouterr()
    assert "failed notebooks: flaky" in captured.err
    assert "RuntimeError: flaky fixture was asked to fail" in captured.out  # the summary table

    # The previous successful results of flaky are untouched, and so are hello's.
    assert (results / "flaky" / "note.txt").is_file()
    assert json.loads((results / "flaky" / "run.json").read_text())["status"] == "ok"
    assert (results / "hello" / "hello.ipynb").is_file()
    # The failed attempt is kept aside with its traceback.
    failed = results / ".flaky.failed"
    assert json.loads((failed / "run.json").read_text())["status"] == "failed"
    assert "flaky fixture was asked to fail" in (failed / "flaky.ipynb").read_text()
    assert not (results / ".flaky.tmp").exists()
    readme = (results / "README.md").read_text()
    assert "**The latest run failed**" in readme and "RuntimeError: flaky fixture was asked to fail" in readme


def _with_summary(tmp_path, name="00_summary") -> Path:
    """The fixtures plus a summary notebook (marked in its metadata) that lists what it read."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES, notebooks)
    _write_notebook(notebooks / f"{name}.ipynb", 'PROFILE = "cpu"\nOUTPUT_DIR = "out"',
                    "from pathlib import Path\n"
                    "seen = sorted(p.name for p in Path(OUTPUT_DIR).parent.parent.iterdir() if p.is_dir())\n"
                    "print(seen)", metadata={"mattinglib": {"summary": True}})
    return notebooks


def test_the_summary_is_chosen_by_its_mark_not_its_name(tmp_path):
    notebooks = _with_summary(tmp_path, name="00_headline")
    _write_notebook(notebooks / "05_overview_of_data.ipynb", 'PROFILE = "cpu"\nOUTPUT_DIR = "out"')
    assert study.is_summary(notebooks / "00_headline.ipynb")
    assert not study.is_summary(notebooks / "05_overview_of_data.ipynb")
    assert [p.stem for p in study.discover_notebooks(notebooks)] == [
        "05_overview_of_data", "flaky", "hello", "00_headline"]


def test_a_summary_reruns_after_any_notebook_that_ran(tmp_path):
    # The summary reads the others' results: cached on its own key, it would show stale claims.
    notebooks = _with_summary(tmp_path)
    results = tmp_path / "results"
    first = study.run_study("smoke", jobs=2, results_dir=results, notebooks_dir=notebooks)
    assert [run.name for run in first] == ["flaky", "hello", "00_summary"]
    assert all(run.status == "ok" for run in first)
    assert [run.status for run in study.run_study("smoke", results_dir=results, notebooks_dir=notebooks)] == \
        ["cached"] * 3
    # hello changes (its claim is reworded) and is rerun alone: the summary is not run now...
    hello = notebooks / "hello.ipynb"
    hello.write_text(hello.read_text().replace("The fixture greets", "The fixture says hello"))
    only = study.run_study("smoke", only=["hello"], results_dir=results, notebooks_dir=notebooks)
    assert [(run.name, run.status) for run in only] == [("hello", "ok")]
    # ...but the next full call, with every other notebook up to date, reruns it.
    again = study.run_study("smoke", jobs=2, results_dir=results, notebooks_dir=notebooks)
    assert [(run.name, run.status) for run in again] == [("flaky", "cached"), ("hello", "cached"),
                                                          ("00_summary", "ok")]
    # A notebook rerun with the same outputs (--force) leaves what the summary read unchanged.
    forced = study.run_study("smoke", only=["hello"], force=True, results_dir=results, notebooks_dir=notebooks)
    assert [run.status for run in forced] == ["ok"]
    assert [run.status for run in study.run_study("smoke", results_dir=results, notebooks_dir=notebooks)] == \
        ["cached"] * 3
    record = json.loads((results / "00_summary" / "run.json").read_text())
    assert "hello/claims.json" in record["key_parts"]["inputs"]


def test_a_summary_reruns_when_a_claims_file_it_reads_changed(tmp_path):
    notebooks = _with_summary(tmp_path)
    results = tmp_path / "results"
    study.run_study("smoke", results_dir=results, notebooks_dir=notebooks)
    claims = results / "hello" / "claims.json"
    claims.write_text(claims.read_text().replace("reproduced", "not reproduced"))  # e.g. results edited by hand
    again = study.run_study("smoke", results_dir=results, notebooks_dir=notebooks)
    assert [(run.name, run.status) for run in again] == [("flaky", "cached"), ("hello", "cached"),
                                                          ("00_summary", "ok")]
