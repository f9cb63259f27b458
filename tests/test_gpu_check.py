"""The short GPU check (mattinglib.study.gpu_check): its plumbing at smoke scale on the CPU, and
its one-line refusals (no CUDA, no scenes). Whether it trains well on a GPU is what it is for,
and is not tested here."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from mattinglib.study import gpu_check

BOTH_TRACKS = {"trimap-input", "image-only"}
BOTH_ARMS = {"known+ddc", "fine"}


@pytest.mark.shared
def test_the_smoke_check_trains_both_tracks_and_arms_and_writes_the_table(alphamatting_root, tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("MATTINGLIB_DATA", str(alphamatting_root.parent))
    out = tmp_path / "out"
    # One held-out scene keeps the full-size scoring (and closed-form matting) to seconds.
    status = gpu_check.main(["--profile", "smoke", "--device", "cpu", "--steps", "2", "--max-scenes", "1",
                             "--out", str(out), "--runs", str(tmp_path / "runs")])
    printed = capsys.readouterr().out
    assert status == 0, printed

    report = json.loads((out / "gpu_check.json").read_text())
    assert report["complete"] and report["profile"] == "smoke" and report["device"] == "cpu"
    assert report["torch"] == torch.__version__ and report["steps"] == 2 and report["warmup_steps"] == 1
    assert report["scenes"] and report["wall_s"] > 0
    runs = [row for row in report["rows"] if row["track"] != "(classical)"]
    assert {(row["track"], row["arm"]) for row in runs} == {(t, a) for t in BOTH_TRACKS for a in BOTH_ARMS}
    for row in runs:
        assert row["steps"] == 2 and row["train_s"] > 0 and not row["reused"]
        assert math.isfinite(row["unknown_sad"]) and math.isfinite(row["whole_sad"])
        assert Path(row["run_dir"]).parent == tmp_path / "runs" / "smoke"  # runs_root: DIR, then the profile
    classical = {row["arm"]: row for row in report["rows"] if row["track"] == "(classical)"}
    assert set(classical) == {"closed-form", "trimap as alpha"}
    assert classical["closed-form"]["unknown_vs_closed_form"] == 1.0
    # Closed-form matting is a real matte: far better than the trimap taken as alpha.
    assert classical["closed-form"]["unknown_sad"] < classical["trimap as alpha"]["unknown_sad"]
    # Every scored image of every network and method, both protocols.
    per_image = pd.DataFrame(report["per_image"])
    assert set(per_image["protocol"]) == {"unknown", "whole"}
    assert len(per_image) == (len(runs) + len(classical)) * 2 * len(report["scenes"])

    table = pd.read_csv(out / "gpu_check.csv")
    assert set(table["track"]) == BOTH_TRACKS | {"(classical)"}
    assert set(table["arm"]) == BOTH_ARMS | {"closed-form", "trimap as alpha"}
    assert list(table.columns[:8]) == ["track", "arm", "steps", "steps_per_second", "train_s", "score_s",
                                       "unknown_sad", "whole_sad"]
    # The printed lines: one per run with the projection, then the table.
    assert printed.count("projected total") == 4
    table_lines = [line for line in printed.splitlines() if line.strip().startswith(("(classical)", "trimap-input",
                                                                                  "image-only"))]
    assert len(table_lines) == 6 and "x closed-form" in printed
    # Nothing is left half-written beside the results.
    assert sorted(path.name for path in out.iterdir()) == ["gpu_check.csv", "gpu_check.json"]


def test_without_cuda_the_gpu_profile_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for argv in ([], ["--profile", "gpu"], ["--profile", "smoke", "--device", "cuda"]):
        status = gpu_check.main(argv + ["--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert status == 2, (argv, err)
        assert len(err.splitlines()) == 1, err
        assert err.startswith("gpu_check: CUDA is not available") and "--device cpu" in err
    assert not (tmp_path / "out").exists()


def test_missing_scenes_stop_in_one_line_naming_the_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MATTINGLIB_DATA", raising=False)
    for extra in ([], ["--data-root", str(tmp_path / "empty")]):
        status = gpu_check.main(["--profile", "smoke", "--out", str(tmp_path / "out"), *extra])
        err = capsys.readouterr().err
        assert status == 3, (extra, err)
        assert len(err.splitlines()) == 1 and "MATTINGLIB_DATA" in err and "alphamatting-lowres" in err, err
    assert not (tmp_path / "out").exists()


def test_the_projection_uses_each_arms_own_time_once_it_has_one():
    rows = [{"arm": "closed-form", "train_s": None, "score_s": None},
            {"arm": "known+ddc", "train_s": 90.0, "score_s": 10.0}]
    # Before a fine run exists, fine is projected at the slower DDC run's time: an upper bound.
    assert gpu_check._remaining_s(rows, [("image-only", "known+ddc"), ("image-only", "fine")]) == 200.0
    rows.append({"arm": "fine", "train_s": 35.0, "score_s": 5.0})
    assert gpu_check._remaining_s(rows, [("image-only", "known+ddc"), ("image-only", "fine")]) == 140.0
    assert gpu_check._remaining_s(rows, []) == 0.0
