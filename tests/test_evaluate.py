"""Evaluation, classical baselines, prediction for a folder and the command line."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from mattinglib.__main__ import main
from mattinglib.baselines import BASELINES, baseline_predictor
from mattinglib.config import TrainConfig
from mattinglib.data import AlphaMattingDataset, SyntheticMattingDataset
from mattinglib.evaluate import evaluate, predict_alpha
from mattinglib.train import train


@pytest.fixture(scope="module")
def composites():
    return SyntheticMattingDataset(size=64, length=3, seed=0, split="test")


def test_truth_scores_zero_and_trimap_scores_worse(composites):
    truth = evaluate(lambda image, trimap: None or _alpha_of(composites, image), composites, "whole")
    assert (truth.per_image.drop(columns=["name", "alpha_soft", "alpha_soft_true"]) == 0).all().all()
    trimap = evaluate(baseline_predictor("trimap"), composites, "unknown")
    assert list(trimap.per_image.columns) == ["name", "sad", "mse", "grad", "conn"]
    assert (trimap.per_image["sad"] > 0).all() and len(trimap.per_image) == 3


def _alpha_of(dataset, image):
    for i in range(len(dataset)):
        sample = dataset[i]
        if np.allclose(sample["image"].numpy().transpose(1, 2, 0), image):
            return sample["alpha"][0].numpy().astype(np.float64)
    raise AssertionError("image not in dataset")


@pytest.mark.parametrize("method", [m for m in BASELINES if m != "trimap"])
def test_classical_baselines_beat_nothing(composites, method):
    scores = evaluate(baseline_predictor(method), composites, "unknown").mean
    zeros = evaluate(lambda image, trimap: np.where(trimap == 1, 1.0, 0.0), composites, "unknown").mean
    assert scores["sad"] < zeros["sad"], method


def test_the_trimap_baseline_predicts_one_half_where_unsure(composites):
    scores = evaluate(baseline_predictor("trimap"), composites, "unknown").per_image
    for index in range(len(composites)):
        sample = composites[index]
        alpha, trimap = sample["alpha"][0].numpy().astype(np.float64), sample["trimap"][0].numpy()
        by_hand = np.abs(0.5 - alpha)[trimap == 0.5].sum() / 1000
        assert scores["sad"][index] == pytest.approx(by_hand)


def test_unknown_baseline_is_refused():
    with pytest.raises(ValueError, match="closed-form"):
        baseline_predictor("magic")


@pytest.mark.shared
def test_closed_form_on_a_real_scene(alphamatting_root):
    scene = AlphaMattingDataset(alphamatting_root, scenes=["GT25"])
    closed_form = evaluate(baseline_predictor("closed-form"), scene, "unknown").mean
    trimap = evaluate(baseline_predictor("trimap"), scene, "unknown").mean
    assert closed_form["sad"] < 0.5 * trimap["sad"]


def test_predict_alpha_pads_any_size_and_needs_trimap_for_4_channels():
    from mattinglib.models import build_model
    image = np.random.default_rng(0).random((37, 53, 3))
    alpha = predict_alpha(build_model("unet", width=8), image)
    assert alpha.shape == (37, 53) and alpha.min() >= 0 and alpha.max() <= 1
    with pytest.raises(ValueError, match="trimap"):
        predict_alpha(build_model("unet", in_channels=4, width=8), image)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig(image_size=56, crop_size=48, train_length=8, test_length=2, model_width=8, batch_size=2,
                      steps=2, warmup_steps=1, progress=False, out_dir=str(out), kernel_size=5, topk=5))
    return out / "checkpoint.pt"


def test_cli_predict_writes_8bit_pngs_and_refuses_an_empty_folder(tmp_path, checkpoint, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, size in (("a", (30, 20)), ("b", (17, 41))):
        Image.fromarray(np.random.default_rng(1).integers(0, 255, size + (3,), dtype=np.uint8)).save(photos / f"{name}.png")
    assert main(["predict", "--checkpoint", str(checkpoint), "--input", str(photos), "--output",
                 str(tmp_path / "alphas")]) == 0
    written = sorted((tmp_path / "alphas").iterdir())
    assert [p.name for p in written] == ["a.png", "b.png"]
    with Image.open(written[1]) as im:
        assert im.mode == "L" and im.size == (41, 17)
    empty = tmp_path / "empty"
    empty.mkdir()
    capsys.readouterr()
    assert main(["predict", "--checkpoint", str(checkpoint), "--input", str(empty), "--output",
                 str(tmp_path / "x")]) == 2  # bad input: one line on stderr (tests/test_cli_errors.py)
    assert "no image" in capsys.readouterr().err


def test_cli_evaluate_a_checkpoint_and_a_baseline(tmp_path, checkpoint, capsys):
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--csv", str(tmp_path / "scores.csv")]) == 0
    assert "mean (whole protocol, 2 images)" in capsys.readouterr().out
    assert (tmp_path / "scores.csv").read_text().startswith("name,sad,")
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--baseline", "trimap"]) == 2
    assert "exactly one of" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "bench"])
def test_every_command_has_help(command):
    done = subprocess.run([sys.executable, "-m", "mattinglib", command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage" in done.stdout.lower(), done.stderr


def test_cli_train_rejects_unknown_keys(tmp_path, capsys):
    assert main(["train", "--set", "stesp=3", f"out_dir={tmp_path}"]) == 2
    assert "stesp" in capsys.readouterr().err


def test_cli_trains_on_a_users_folder_with_trimaps_only(tmp_path):
    """The user story: own photos + trimaps, no alpha anywhere, then predict."""
    rng = np.random.default_rng(0)
    for folder in ("images", "trimaps"):
        (tmp_path / "mine" / folder).mkdir(parents=True)
    for k in range(3):
        h, w = 60 + 4 * k, 70
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / "mine" / "images" / f"p{k}.jpg")
        trimap = np.zeros((h, w), np.uint8)
        trimap[15:45, 20:50] = 128
        trimap[22:38, 28:42] = 255
        Image.fromarray(trimap).save(tmp_path / "mine" / "trimaps" / f"p{k}.png")
    out = tmp_path / "run"
    assert main(["train", "--set", "dataset=folder", f"data_root={tmp_path / 'mine'}", "supervision=known+ddc",
                 "crop_size=48", "model_width=8", "batch_size=2", "steps=2", "warmup_steps=1", "kernel_size=5",
                 "topk=5", "progress=false", f"out_dir={out}"]) == 0
    assert main(["predict", "--checkpoint", str(out / "checkpoint.pt"), "--input", str(tmp_path / "mine" / "images"),
                 "--output", str(tmp_path / "alphas")]) == 0
    assert sorted(p.name for p in (tmp_path / "alphas").iterdir()) == ["p0.png", "p1.png", "p2.png"]


def test_cli_train_starts_from_a_profile_config(tmp_path, capsys):
    from mattinglib.study.__main__ import main as study_main

    assert study_main(["--profile", "smoke", "--show-config"]) == 0
    (tmp_path / "smoke.json").write_text(capsys.readouterr().out)
    main(["train", "--config", str(tmp_path / "smoke.json"), "--set", f"out_dir={tmp_path / 'run'}", "steps=2"])
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["model_width"], saved["crop_size"], saved["steps"]) == (8, 48, 2)  # profile, then --set
    assert "training steps/s" in capsys.readouterr().out
