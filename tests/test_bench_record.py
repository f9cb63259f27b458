"""A benchmark whose ``--json`` file is up to date is not rerun (mattinglib.bench.record).

``make study`` calls ``python -m mattinglib.bench ddc --json results/benchmarks/ddc.json`` and
``... train --json results/benchmarks/train.json`` every time. With nothing changed they must
print the saved table, time nothing and leave their files byte for byte as they were (a clean
git tree); with the code, the machine, the packages, the settings or (``train``) the data sets
found changed, or with ``--force``, they must measure again.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mattinglib import bench
from mattinglib.bench import ddc as bench_ddc
from mattinglib.bench import record
from mattinglib.bench import train as bench_train

#: The tiniest settings (tests/test_bench.py): one 24 px size, one repeat.
DDC = ["ddc", "--sizes", "24", "--batch", "1", "--repeats", "1", "--kernel-size", "5", "--topk", "5"]
#: tests/test_bench_train.py's tiny settings, the synthetic scale only and no model table (neither
#: needs the real scenes).
TRAIN = ["train", "--steps", "1", "--batch", "2", "--width", "8", "--kernel-size", "5", "--topk", "5",
         "--synthetic-size", "40", "32", "--realfg-size", "48", "32", "--train-length", "8", "--run-steps", "6",
         "--scales", "synthetic", "--models"]
#: The same with no scale and no model: it measures nothing, prints its header and writes its
#: report with its stamp, which is all the tests of what reruns need.
NOTHING = TRAIN[:-3] + ["--scales", "--models"]


class Measured(Exception):
    """Raised by a timing function that a test expects to be reached."""


def _spy(monkeypatch, module, name: str) -> list[tuple]:
    """Count the calls of ``module.name`` (which still runs); returns the list of their arguments."""
    calls, timing = [], getattr(module, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return timing(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


def _refuse(monkeypatch, module, name: str) -> None:
    """Make ``module.name`` raise :class:`Measured`: what reaches it is measuring."""
    def measuring(*args, **kwargs):
        raise Measured(name)

    monkeypatch.setattr(module, name, measuring)


def _state(path: Path) -> tuple[bytes, int, int]:
    """Bytes, inode and modification time: an atomic rewrite, even with equal bytes, changes the inode."""
    status = path.stat()
    return path.read_bytes(), status.st_ino, status.st_mtime_ns


def test_ddc_benchmark_unchanged_is_not_rerun(tmp_path, capsys, monkeypatch):
    path = tmp_path / "benchmarks" / "ddc.json"
    children = _spy(monkeypatch, bench_ddc, "run_in_child")  # each side of each size is timed in a child
    first = bench.main(DDC + ["--json", str(path)])
    measured = capsys.readouterr().out
    assert len(children) == 3 and path.is_file()
    before = _state(path)
    saved = json.loads(before[0])
    assert saved == json.loads(json.dumps(first)) and saved["provenance"]["command"] == "ddc"

    again = bench.main(DDC + ["--json", str(path)])
    cached = capsys.readouterr().out
    assert len(children) == 3, "an up-to-date benchmark must not time anything"
    assert _state(path) == before, "an up-to-date benchmark must leave its file untouched"
    assert again == saved
    assert f"{path} is up to date" in cached and "not rerun" in cached
    # The saved table is printed as the measuring run printed it.
    table = bench_ddc._format_ddc_table(saved["rows"], saved["agreement"])
    assert table in measured and table in cached

    _refuse(monkeypatch, bench_ddc, "run_in_child")
    with pytest.raises(Measured):
        bench.main(DDC[:-4] + ["--kernel-size", "3", "--topk", "5", "--json", str(path)])


def test_train_benchmark_unchanged_is_not_rerun(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MATTINGLIB_DATA", raising=False)
    path = tmp_path / "train.json"
    scales = _spy(monkeypatch, bench_train, "_bench_scale")
    first = bench.main(TRAIN + ["--json", str(path)])
    measured = capsys.readouterr().out
    assert [call[0] for call in scales] == ["synthetic"]
    before = _state(path)
    saved = json.loads(before[0])
    assert saved == json.loads(json.dumps(first)) and "data" not in saved["provenance"]

    assert bench.main(TRAIN + ["--json", str(path)]) == saved
    cached = capsys.readouterr().out
    assert len(scales) == 1 and _state(path) == before
    assert f"{path} is up to date" in cached
    table = bench_train._format("synthetic", saved["scales"]["synthetic"])
    assert table in measured and table in cached

    _refuse(monkeypatch, bench_train, "_bench_scale")
    with pytest.raises(Measured):
        bench.main(TRAIN + ["--seed", "1", "--json", str(path)])


# What changes between the saved run and the next call: a patch of one input of the stamp
# (attribute of mattinglib.bench.record, replacement), and extra arguments of that call.
_MACHINE = record.machine
CHANGES = {
    "code": (("code_digest", lambda *args, **kwargs: "0" * 64), []),
    "machine": (("machine", lambda: _MACHINE() | {"cpu_count": 1024}), []),
    "setting": (None, ["--seed", "3"]),
    "force": (None, ["--force"]),
}


def _rerun(path: Path, argv: list[str], capsys) -> bool:
    """Call the benchmark; True when it ran (header printed, file rewritten), False when it found
    ``path`` up to date (said so, file untouched)."""
    before = _state(path)
    capsys.readouterr()  # what earlier calls printed
    bench.main(argv + ["--json", str(path)])
    printed = capsys.readouterr().out
    ran = "training-step benchmark:" in printed
    assert ran != (f"{path} is up to date" in printed)
    assert (_state(path) != before) == ran
    return ran


@pytest.mark.parametrize("change", list(CHANGES))
def test_whatever_the_numbers_depend_on_reruns_the_benchmark(change, tmp_path, monkeypatch, capsys):
    path = tmp_path / "train.json"
    bench.main(NOTHING + ["--json", str(path)])
    assert not _rerun(path, NOTHING, capsys)  # the control: nothing changed
    patch, extra = CHANGES[change]
    if patch is not None:
        monkeypatch.setattr(record, *patch)
    assert _rerun(path, NOTHING + extra, capsys), f"a changed {change} must measure again"
    # ... once: then the file is up to date for those arguments (a forced run's for the plain ones).
    assert not _rerun(path, NOTHING + (extra if change != "force" else []), capsys)


def test_changed_package_versions_rerun_the_benchmark(tmp_path, capsys):
    path = tmp_path / "train.json"
    bench.main(NOTHING + ["--json", str(path)])
    saved = json.loads(path.read_text())
    assert set(saved["provenance"]["packages"]) == set(record.TIMED_PACKAGES)
    # A file saved under another torch: what a pip upgrade leaves behind.
    saved["provenance"]["packages"]["torch"] = "0.0.1"
    path.write_text(json.dumps(saved, indent=1))
    assert _rerun(path, NOTHING, capsys)


def test_finding_the_real_scenes_reruns_the_train_benchmark(tmp_path, monkeypatch, capsys):
    """Without the scenes the real-foreground scale is skipped; once they are there it must be timed."""
    path = tmp_path / "train.json"
    argv = NOTHING[:-2] + ["--scales", "realfg", "--models"]
    monkeypatch.setattr(bench_train, "_realfg_missing", lambda: "MATTINGLIB_DATA is not set")
    bench.main(argv + ["--json", str(path)])
    assert not _rerun(path, argv, capsys)
    saved = json.loads(path.read_text())
    assert saved["scales"] == {"realfg": {"skipped": "MATTINGLIB_DATA is not set"}}
    assert list(saved["provenance"]["data"].values()) == [False]
    monkeypatch.setattr(bench_train, "_realfg_missing", lambda: None)
    _refuse(monkeypatch, bench_train, "_bench_scale")
    with pytest.raises(Measured):
        bench.main(argv + ["--json", str(path)])


def test_another_file_or_a_damaged_one_is_measured_and_a_copy_is_up_to_date(tmp_path, capsys):
    path = tmp_path / "train.json"
    bench.main(NOTHING + ["--json", str(path)])
    other = tmp_path / "elsewhere" / "train.json"
    bench.main(NOTHING + ["--json", str(other)])  # nothing saved there yet: measured
    assert other.is_file() and "is up to date" not in capsys.readouterr().out
    path.write_text(path.read_text()[:-20])  # cut short, as by a full disk
    assert _rerun(path, NOTHING, capsys)
    # Where the file is written is not a setting: a copy of an up-to-date file is up to date.
    copy = tmp_path / "copy.json"
    copy.write_bytes(path.read_bytes())
    assert not _rerun(copy, NOTHING, capsys)


def test_the_code_digest_follows_the_timed_code_only(tmp_path):
    """Editing a timed module changes the digest; the study's code, byte-code caches and other files do not."""
    package = tmp_path / "mattinglib"
    for relative in ("__init__.py", "losses/ddc.py", "study/grid.py"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text("x = 1\n")
    digest = record.code_digest(package)
    assert digest == record.code_digest(package)
    (package / "study" / "grid.py").write_text("x = 2\n")
    (package / "losses" / "__pycache__").mkdir()
    (package / "losses" / "__pycache__" / "ddc.cpython-311.pyc").write_bytes(b"\0\1")
    (package / "losses" / "notes.txt").write_text("not code\n")
    assert record.code_digest(package) == digest
    (package / "losses" / "ddc.py").write_text("x = 2\n")
    assert record.code_digest(package) != digest
    (package / "losses" / "ddc.py").write_text("x = 1\n")
    (package / "losses" / "knn.py").write_text("x = 1\n")  # a new timed module
    assert record.code_digest(package) != digest
