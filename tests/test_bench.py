"""The DDC benchmark at a tiny size: it runs, prints its table, saves JSON, and the two
implementations agree."""
from __future__ import annotations

import json

import pytest

from mattinglib import bench


def test_ddc_bench_tiny(tmp_path, capsys):
    json_path = tmp_path / "bench" / "ddc.json"
    report = bench.main(["ddc", "--sizes", "24", "--batch", "1", "--repeats", "1", "--kernel-size", "5",
                         "--topk", "5", "--json", str(json_path)])
    printed = capsys.readouterr().out
    for measure in ("step fwd+bwd (s)", "selection (s)", "step peak mem (MiB)", "selection peak mem (MiB)",
                    "|loss difference|", "max |distance diff|"):
        assert measure in printed
    assert "target selection >= 10x at 24 px" in printed
    saved = json.loads(json_path.read_text())
    assert saved["settings"]["kernel_size"] == 5 and saved["settings"]["threads"] == 1
    assert len(saved["rows"]) == 4 and saved == json.loads(json.dumps(report))
    (agreement,) = saved["agreement"]
    assert agreement["met"]
    assert agreement["loss_difference"] <= 1e-5 and agreement["distance_difference"] <= 1e-5
    assert agreement["grad_relative_difference"] <= 1e-5
    for row in saved["rows"]:
        assert row["reference"] > 0 and row["ours"] >= 0


def test_bench_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kernel-size"):
        bench.main(["ddc", "--kernel-size", "4"])
    with pytest.raises(SystemExit):
        bench.main([])  # a subcommand is required


def test_models_benchmark_reports_every_model(tmp_path, capsys):
    from mattinglib.bench import main

    out = tmp_path / "models.json"
    result = main(["models", "--models", "unet:8", "unet:12", "--steps", "1", "--crop", "48", "--batch", "2",
                   "--image", "40", "56", "--threads", "1", "--json", str(out)])
    assert [r["model"] for r in result["rows"]] == ["unet:8", "unet:12"]
    assert all(r["train_steps_per_s"] > 0 and r["inference_s"] > 0 for r in result["rows"])
    assert json.loads(out.read_text()) == result
    assert "train steps/s" in capsys.readouterr().out
