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
    for measure in ("step fwd+bwd, selection included (s)", "step fwd+bwd, neighbours given (s)", "selection (s)",
                    "selection vs previous kernel (s)", "step peak mem, neighbours given (MiB)",
                    "selection peak mem (MiB)", "|loss difference|", "max |distance diff|",
                    "pixels whose neighbours differ"):
        assert measure in printed, measure
    # Both step ratios, and which of them a training step of the study pays.
    assert "target step fwd+bwd, selection included >= 50x at 24 px" in printed
    assert "target step fwd+bwd, neighbours given >= 100x at 24 px" in printed
    assert "target selection >= 60x at 24 px" in printed
    assert "A training step of the study pays 'selection included'" in printed
    saved = json.loads(json_path.read_text())
    assert saved["settings"]["kernel_size"] == 5 and saved["settings"]["threads"] == 1
    assert saved == json.loads(json.dumps(report))
    assert [row["key"] for row in saved["rows"]] == ["step_included", "step_given", "select", "select_previous",
                                                   "step_memory", "select_memory"]
    (agreement,) = saved["agreement"]
    assert agreement["met"]
    assert agreement["loss_difference"] <= 1e-5 and agreement["distance_difference"] <= 1e-5
    assert agreement["grad_relative_difference"] <= 1e-5
    assert agreement["pixels_differing_from_previous"] == 0 and agreement["bit_identical_to_previous"]
    for row in saved["rows"]:
        # Times are always positive; a peak-memory increase of a few KiB at 24 px can read 0 MiB in a child
        # process whose allocator reuses freed pages (seen once in ~5 full runs), so memory rows may be 0.
        assert (row["baseline"] >= 0 if row["key"].endswith("_memory") else row["baseline"] > 0) and row["ours"] >= 0
        assert row["baseline_name"] == ("previous kernel" if row["key"] == "select_previous" else "release")
        assert (row["target"] is None) == (row["met"] is None)
    assert {side["side"] for side in saved["raw"]} == {"reference", "ours", "previous"}


def test_bench_package_layout():
    # `python -m mattinglib.bench` and `from mattinglib import bench` keep working as a package.
    import importlib.util

    assert importlib.util.find_spec("mattinglib.bench.__main__") is not None
    assert set(bench.SUBCOMMANDS) == {"ddc", "train", "models"}


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
    assert all(r["train_steps_per_s"] > 0 and r["inference_s"] > 0 and r["onnx_inference_s"] > 0
               for r in result["rows"])
    assert json.loads(out.read_text()) == result
    printed = capsys.readouterr().out
    assert "train steps/s" in printed and "onnx s/MP" in printed and "onnx x torch" in printed
