"""A user's own folder of photos and trimaps: held-out share, its score, defaults, time estimate."""
import json
import math

import numpy as np
import pytest
from PIL import Image

from mattinglib.build import build_datasets
from mattinglib.config import TrainConfig
from mattinglib.evaluate import describe_own_scores, known_region_error
from mattinglib.own_images import (IMAGE_ONLY_DEFAULTS, OWN_IMAGES_DEFAULTS, default_threads, estimate_training_time,
                                   own_images_config)
from mattinglib.study.grid import run_dir
from mattinglib.study.profiles import base_config
from mattinglib.train import train

SIZE = 40
#: Tiny-run overrides of the own-images defaults: seconds on a loaded 2-core machine (a width-8
#: U-Net in place of the default pretrained network: these tests check the loop, not the model).
TINY = dict(steps=4, crop_size=32, eval_every=2, checkpoint_every=2, batch_size=2, warmup_steps=1, model="unet",
            model_width=8, kernel_size=5, topk=5, threads=1, progress=False)


def write_user_folder(root, count=5, alphas=True):
    """``count`` 40x40 photos of a disc over a gradient, their 0/128/255 trimaps, and alphas."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    rng = np.random.default_rng(0)
    for folder in ("images", "trimaps") + (("alphas",) if alphas else ()):
        (root / folder).mkdir(parents=True)
    for index in range(count):
        cy, cx, radius = rng.uniform(14, 26), rng.uniform(14, 26), rng.uniform(7, 12)
        distance = np.hypot(rows - cy, cols - cx) - radius
        alpha = np.clip(0.5 - distance / 3, 0, 1)
        background = np.stack([cols / SIZE, rows / SIZE, np.full((SIZE, SIZE), 0.3)], -1)
        image = alpha[..., None] * np.array([0.9, 0.2, 0.1]) + (1 - alpha[..., None]) * background
        trimap = np.where(distance < -4, 255, np.where(distance > 4, 0, 128)).astype(np.uint8)
        name = f"photo{index}"
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(root / "images" / f"{name}.png")
        Image.fromarray(trimap).save(root / "trimaps" / f"{name}.png")
        if alphas:
            Image.fromarray(np.round(alpha * 255).astype(np.uint8)).save(root / "alphas" / f"{name}.png")
    return root


@pytest.mark.parametrize("alphas", [False, True])
def test_training_holds_out_and_scores_a_share_of_the_users_images(tmp_path, capsys, alphas):
    root = write_user_folder(tmp_path / "mine", alphas=alphas)
    config = own_images_config(root, tmp_path / "run", **TINY)
    train_set, test_set = build_datasets(config)
    assert len(test_set) == 1 and len(train_set) == 4  # round(0.2 * 5), drawn apart
    assert not set(test_set.names) & set(train_set.names)
    assert sorted(train_set.names + test_set.names) == [f"photo{i}" for i in range(5)]
    # The held-out images do not move with the training seed.
    assert build_datasets(config.replace(seed=3))[1].names == test_set.names
    # The user's own trimap, whole image, as given.
    sample = test_set[0]
    assert tuple(sample["image"].shape) == (3, SIZE, SIZE)
    assert set(np.unique(sample["trimap"].numpy())) == {0.0, 0.5, 1.0}

    result = train(config)
    evaluations = result.evaluations
    assert list(evaluations["step"]) == [2, 4]
    assert np.isfinite(evaluations["known_region_error"]).all()
    assert ((evaluations["known_region_error"] >= 0) & (evaluations["known_region_error"] <= 1)).all()
    assert ("sad" in evaluations) == alphas
    if alphas:
        assert np.isfinite(evaluations["sad"]).all()
    # The progress line says which score it shows.
    out = capsys.readouterr()
    printed = out.out + out.err
    assert "known-region error" in printed
    assert ("no alphas, so no SAD" in printed) != alphas


def test_a_folder_of_one_image_trains_on_it_and_scores_nothing(tmp_path):
    root = write_user_folder(tmp_path / "mine", count=1)
    with pytest.warns(UserWarning, match="too few to hold one out"):
        train_set, test_set = build_datasets(own_images_config(root, tmp_path / "run", **TINY))
    assert len(train_set) == 1 and test_set is None


def test_no_holdout_keeps_the_folder_whole(tmp_path):
    root = write_user_folder(tmp_path / "mine")
    train_set, test_set = build_datasets(own_images_config(root, tmp_path / "run", holdout_fraction=0.0, **TINY))
    assert len(train_set) == 5 and test_set is None


def test_estimate_training_time_is_positive_and_writes_nothing(tmp_path):
    root = write_user_folder(tmp_path / "mine", alphas=False)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    config = own_images_config(root, tmp_path / "run", **TINY)
    seconds = estimate_training_time(config, probe_steps=1)
    assert seconds > 0 and math.isfinite(seconds)
    assert not (tmp_path / "run").exists()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    with pytest.raises(ValueError, match="probe_steps"):
        estimate_training_time(config, probe_steps=0)


def test_holdout_fraction_is_checked():
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="holdout_fraction must lie in"):
            TrainConfig(dataset="folder", holdout_fraction=bad)
    for other in (dict(dataset="synthetic"), dict(dataset="folder", folder_layout="am2k")):
        with pytest.raises(ValueError, match="a user's own folder"):
            TrainConfig(holdout_fraction=0.2, **other)
    with pytest.raises(TypeError, match="holdout_fraction"):
        TrainConfig(dataset="folder", holdout_fraction="0.2")


def test_study_run_folders_keep_their_names(tmp_path):
    # Pinned as in tests/test_grid.py: the new key at its neutral value stays out of the identity.
    config = base_config("cpu", supervision="fine", seed=1)
    assert run_dir(tmp_path, config).name == "fine-seed1-e952ca05ea65"
    assert "holdout_fraction" not in config.identity()
    assert own_images_config(tmp_path, tmp_path / "run").identity()["holdout_fraction"] == 0.2


def test_known_region_error():
    trimap = np.array([[0, 128, 255]], dtype=np.uint8)
    assert known_region_error(np.array([[0.0, 0.3, 1.0]]), trimap) == 0.0
    assert known_region_error(np.full((1, 3), 0.5), trimap) == 0.5
    assert known_region_error(np.array([[1.5, 0.0, -1.0]]), np.array([[0.0, 0.5, 1.0]])) == 1.0  # clipped first
    assert math.isnan(known_region_error(np.zeros((1, 2)), np.full((1, 2), 0.5)))
    with pytest.raises(ValueError, match="does not match"):
        known_region_error(np.zeros((2, 2)), trimap)
    assert "no SAD" in describe_own_scores({"known_region_error": 0.1})
    assert "SAD 1.000" in describe_own_scores({"known_region_error": 0.1, "sad": 1.0, "mse": 0.01})


def test_defaults_and_threads(tmp_path):
    assert own_images_config(tmp_path, tmp_path / "a").in_channels == 4
    # The default network is the study's pretrained real-track network, started from ImageNet weights.
    from mattinglib.study.profiles import PRETRAINED_TRACK

    config = own_images_config(tmp_path, tmp_path / "a")
    track = PRETRAINED_TRACK["cpu"]
    assert (config.model, config.model_width) == (track["model"], track["model_width"])
    # ... at the study's learning rate and steps (written twice: the library does not import the study).
    from mattinglib.study.profiles import pretrained_track_config

    study = pretrained_track_config("cpu", "trimap-input")
    assert (config.lr, config.steps, config.warmup_steps) == (study.lr, study.steps, study.warmup_steps)
    assert config.pretrained is not False
    image_only = own_images_config(tmp_path, tmp_path / "a", trimaps_at_prediction=False, steps=7)
    assert image_only.in_channels == 3 and image_only.steps == 7
    assert {k: v for k, v in IMAGE_ONLY_DEFAULTS.items() if k != "in_channels"} == \
        {k: v for k, v in OWN_IMAGES_DEFAULTS.items() if k != "in_channels"}
    assert default_threads(cores=2, load=0.0) == 1
    assert default_threads(cores=8, load=0.0) == 4
    assert default_threads(cores=3, load=0.1) == 3
    assert default_threads(cores=8, load=1.0) == 1
    assert 1 <= default_threads() <= 4
    # A resumed run keeps the thread count it was started with (part of its identity).
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.json").write_text(json.dumps({"threads": 3}))
    assert own_images_config(tmp_path, tmp_path / "b").threads == 3
    assert own_images_config(tmp_path, tmp_path / "b", threads=2).threads == 2


@pytest.mark.parametrize("image_only", [False, True])
def test_the_cli_trains_a_users_folder_with_the_own_images_defaults(tmp_path, capsys, image_only):
    from mattinglib.__main__ import main

    root = write_user_folder(tmp_path / "mine", alphas=False)
    argv = ["train", "--own-images", str(root), "--set", "steps=2", "crop_size=32", "eval_every=1",
            "checkpoint_every=1"] + (["--image-only"] if image_only else [])
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "about" in err and "min on this machine now" in err and "held out" in err
    stored = json.loads((root / "run" / "config.json").read_text())  # out_dir defaults to DIR/run
    assert stored["in_channels"] == (3 if image_only else 4)
    assert (stored["supervision"], stored["holdout_fraction"]) == ("known+ddc", 0.2)


def test_image_only_without_a_folder_is_one_line(capsys):
    from mattinglib.__main__ import main

    assert main(["train", "--image-only", "--set", "steps=2"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
