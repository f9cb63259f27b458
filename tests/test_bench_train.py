"""The training-step benchmark at a tiny size: it runs the three ways, prints, saves JSON."""
from __future__ import annotations

import argparse
import json

import pytest

from mattinglib.bench import train as bench_train
from mattinglib.data import realfg
from mattinglib.data.synthetic import dataset as synthetic

TINY = ["--steps", "1", "--batch", "2", "--width", "8", "--kernel-size", "5", "--topk", "5",
        "--synthetic-size", "40", "32", "--realfg-size", "48", "32", "--train-length", "8", "--run-steps", "6"]


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench_train.add_arguments(parser)
    return parser.parse_args(argv)


def test_train_bench_tiny_synthetic(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MATTINGLIB_DATA", raising=False)
    path = tmp_path / "out" / "train.json"
    report = bench_train.run(_args(TINY + ["--json", str(path)]))
    printed = capsys.readouterr().out
    assert "realfg: skipped (" in printed and "MATTINGLIB_DATA" in printed
    assert "models: skipped (" in printed  # the models table is timed at the real track's scale
    for word in ("today", "release", "ours", "first run", "later run", "stored", "x today", "x release"):
        assert word in printed
    saved = json.loads(path.read_text())
    assert saved == json.loads(json.dumps(report)) and saved["settings"]["batch"] == 2
    assert "skipped" in saved["scales"]["realfg"]
    result = saved["scales"]["synthetic"]
    assert result["cold_fraction"] == pytest.approx(8 / 12)
    assert set(result["ways"]) == {"today", "release", "ours"}
    for way in result["ways"].values():
        for phase in ("cold", "warm", "stored", "run", "later run"):
            assert way[phase]["steps_per_s"] > 0 and 0 < way[phase]["data_share"] < 1
    assert set(result["ratios"]["run"]) == set(result["ratios"]["later run"]) == {"ours/today", "ours/release"}
    # The benchmark leaves the switches as it found them, and its item store in a folder of its own.
    assert synthetic.ITEM_CACHE_BYTES > 0 and synthetic.STORE_ENABLED and realfg.REUSE_PREPARED


def test_train_bench_tiny_realfg(alphamatting_root, monkeypatch, capsys):
    monkeypatch.setenv("MATTINGLIB_DATA", str(alphamatting_root.parent))
    report = bench_train.run(_args(TINY + ["--scales", "realfg"]))
    assert set(report["scales"]) == {"realfg"} and report["scales"]["realfg"]["config"]["in_channels"] == 4
    printed = capsys.readouterr().out
    assert "realfg: 32 px crops of 48 px, 4 channels" in printed
    rows = report["models"]["models"]
    assert [(r["model"], r["variant"]) for r in rows][:2] == [("unet", "as built"), ("efficientnet-lite0-unet", "as built")]
    assert {r["variant"] for r in rows} == set(bench_train.MODEL_VARIANTS)
    assert rows[0]["x_first"] == 1.0 and all(r["steps_per_s"] > 0 and 0 < r["data_share"] < 1 for r in rows)
    assert "frozen encoder" in printed and "x as built" in printed


def test_train_bench_names_the_model_choice(capsys):
    with pytest.raises(SystemExit):
        _args(["--help"])
    assert "--models" in capsys.readouterr().out


def test_train_bench_rejects_bad_arguments():
    with pytest.raises(ValueError, match="train-length"):
        bench_train.run(_args(TINY + ["--train-length", "3"]))
    with pytest.raises(ValueError, match="CROP <= IMAGE"):
        bench_train.run(_args(TINY + ["--synthetic-size", "32", "40"]))
    with pytest.raises(ValueError, match="steps"):
        bench_train.run(_args(TINY + ["--steps", "0"]))
