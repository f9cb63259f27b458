"""The helpers the network notebooks share: evaluation sets, run folders, label statistics, figures."""
from __future__ import annotations

import numpy as np
import pytest

from mattinglib.build import TEST_FRACTION, TEST_SEED
from mattinglib.data import AlphaMattingDataset, split_scenes
from mattinglib.evaluate import prediction_statistics
from mattinglib.models import build_model
from mattinglib.study.evalsets import describe_training_labels, evaluation_sets, runs_root
from mattinglib.study.figures import disagreement_rows, prediction_rows
from mattinglib.study.profiles import base_config


def test_evaluation_sets_without_the_scenes_keep_the_synthetic_set(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("MATTINGLIB_DATA", raising=False)
    sets = evaluation_sets(base_config("smoke"))
    assert list(sets) == ["synthetic"] and len(sets["synthetic"]) == 3
    assert "MATTINGLIB_DATA" in capsys.readouterr().out  # says what is missing


def test_evaluation_sets_with_the_scenes(alphamatting_root):
    sets = evaluation_sets(base_config("smoke"), data_root=str(alphamatting_root.parent), max_scenes=2)
    assert list(sets) == ["synthetic", "real-foreground composites", "real photos"]
    assert len(sets["real photos"]) == 2 and len(sets["real-foreground composites"]) == 3
    names = AlphaMattingDataset(alphamatting_root).scene_names
    train_scenes, test_scenes = split_scenes(names, TEST_FRACTION, seed=TEST_SEED)
    assert sets["real photos"].scene_names == test_scenes[:2]  # never a scene the networks trained on
    assert set(test_scenes).isdisjoint(train_scenes)


def test_runs_root_order_of_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("MATTINGLIB_RUNS", raising=False)
    assert str(runs_root("cpu")) == "runs/cpu"
    monkeypatch.setenv("MATTINGLIB_RUNS", str(tmp_path))
    assert runs_root("smoke") == tmp_path / "smoke"
    assert runs_root("smoke", "elsewhere") == runs_root("smoke", "elsewhere").parent / "smoke"
    assert str(runs_root("paper", "elsewhere")) == "elsewhere/paper"


def test_label_statistics_order_labels_by_what_they_say():
    base = base_config("smoke")
    test_set = evaluation_sets(base)["synthetic"]
    table = describe_training_labels({"narrow": base.replace(trimap_width=(1, 2)),
                                      "wide": base.replace(trimap_width=(8, 10)),
                                      "scribble": base.replace(label="scribble"),
                                      "mask": base.replace(label="mask")}, test_set, count=3).set_index("label")
    assert table.loc["narrow", "known_fraction"] > table.loc["wide", "known_fraction"] > \
        table.loc["scribble", "known_fraction"]
    assert table.loc["narrow", "soft_covered"] == 1.0 and table.loc["narrow", "known_error"] == 0.0
    np.testing.assert_allclose(table["known_fraction"] + table["unknown_fraction"], 1.0)


def test_prediction_and_disagreement_panels():
    base = base_config("smoke")
    sets = evaluation_sets(base)
    model = build_model("unet", width=8)
    rows = prediction_rows(sets, {"a": model, "b": model}, index=99)
    assert [title for title, *_ in rows[0]] == ["synthetic", "truth", "a", "b"]
    panels, names = disagreement_rows(model, sets["synthetic"], count=2)
    assert len(panels) == 2 and len(names) == 2 and panels[0][3][2] == "error"
    gaps = [float(p[0][0].split("MAD ")[1]) for p in panels]
    assert gaps[0] >= gaps[1]


def test_metric_grid_has_a_row_per_evaluation_set():
    import pandas as pd

    from mattinglib.study.figures import plot_metric_grid

    runs = pd.DataFrame({"eval_set": ["a", "a", "b", "b"] * 2, "window": [3, 11] * 4, "sad": [1.0, 2.0, 300.0, 200.0] * 2})
    fig = plot_metric_grid(runs, {"window": (runs, "window"), "again": (runs, "window")}, log_columns=["again"])
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "window: a"
    assert fig.axes[3].get_xscale() == "log"


def test_trimap_conditioned_networks_get_the_trimap_in_every_prediction_helper():
    sets = evaluation_sets(base_config("smoke"))
    model = build_model("unet", width=8, in_channels=4)
    table = prediction_statistics({"4-channel": model}, sets["synthetic"], count=2)
    assert 0 <= table.loc[0, "mean_alpha"] <= 1
    rows = prediction_rows(sets, {"4-channel": model})
    assert rows[0][2][1].shape == rows[0][1][1].shape
    panels, _ = disagreement_rows(model, sets["synthetic"], count=1)
    assert panels[0][2][1].shape == panels[0][1][1].shape


def test_prediction_statistics_tell_a_network_that_misses_from_the_truth():
    import torch

    class Constant(torch.nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value = value
            self.dummy = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            return torch.full_like(x[:, :1], self.value) + 0 * self.dummy

    test_set = evaluation_sets(base_config("smoke"))["synthetic"]
    table = prediction_statistics({"zeros": Constant(0.0), "grey": Constant(0.5)}, test_set, count=2).set_index("network")
    assert table.loc["zeros", "mean_alpha"] == 0.0 and table.loc["zeros", "grey_share"] == 0.0
    assert table.loc["grey", "mean_alpha"] == pytest.approx(0.5) and table.loc["grey", "grey_share"] == 1.0
    assert 0 < table.loc["grey", "true_mean_alpha"] < 1 and 0 <= table.loc["grey", "true_grey_share"] < 1
