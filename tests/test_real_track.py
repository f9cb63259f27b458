"""The real-image track: its configs, foreground colour jitter, run identities, scene sets, helpers."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from mattinglib.config import NEUTRAL_DEFAULTS, TrainConfig, identity_of
from mattinglib.data import AlphaMattingDataset, RealForegroundCompositeDataset
from mattinglib.data.realfg import jitter_colour
from mattinglib.study.figures import detail_rows, detail_window
from mattinglib.study.grid import run_dir, score_baselines
from mattinglib.study.profiles import PROFILES, REAL_TRACKS, base_config, real_track_config


# ---- configs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("track", REAL_TRACKS)
def test_every_profile_has_both_tracks_on_real_foregrounds(profile, track):
    config = real_track_config(profile, track)
    assert config.dataset == "realfg"
    assert config.in_channels == (4 if track == "trimap-input" else 3)
    assert config.crop_size <= config.image_size
    # Trained at the held-out scenes' own scale: the random scale straddles 1.
    assert config.scale_range[0] < 1.0 < config.scale_range[1]


def test_the_cpu_track_trains_on_bands_as_wide_as_the_benchmarks():
    config = real_track_config("cpu", "trimap-input")
    assert (config.image_size, config.crop_size, config.trimap_width) == (192, 128, (8, 30))
    assert config.colour_jitter > 0
    # Changes apply last; an unknown track is refused.
    assert real_track_config("cpu", "trimap-input", steps=5).steps == 5
    with pytest.raises(ValueError, match="track must be one of"):
        real_track_config("cpu", "trimap-only")


def test_the_gpu_profile_is_the_papers_weight_on_a_gpu():
    gpu = base_config("gpu")
    assert (gpu.device, gpu.ddc_weight, gpu.batch_size) == ("cuda", 10.0, 16)
    track = real_track_config("gpu", "trimap-input")
    assert (track.crop_size, track.batch_size, track.ddc_weight, track.steps) == (512, 16, 10.0, 5625)


def test_colour_jitter_is_checked_and_only_for_real_foregrounds():
    with pytest.raises(ValueError, match="colour_jitter must lie in"):
        TrainConfig(dataset="realfg", colour_jitter=1.5)
    with pytest.raises(ValueError, match="real-foreground composites"):
        TrainConfig(dataset="synthetic", colour_jitter=0.1)


def test_a_key_at_its_neutral_value_leaves_run_folders_as_they_were(tmp_path):
    config = base_config("cpu", supervision="fine", seed=1)
    assert "colour_jitter" not in config.identity()
    # The folder name pinned before the key existed (tests/test_grid.py) is kept ...
    assert run_dir(tmp_path, config).name == "fine-seed1-e952ca05ea65"
    # ... a run that uses the key is another run ...
    jittered = config.replace(dataset="realfg", colour_jitter=0.1)
    assert jittered.identity()["colour_jitter"] == 0.1
    assert run_dir(tmp_path, jittered) != run_dir(tmp_path, config.replace(dataset="realfg"))
    # ... and a stored config.json with or without the key reads as the same identity.
    stored = json.loads(json.dumps(config.to_dict()))  # as config.json holds it
    without = {k: v for k, v in stored.items() if k not in NEUTRAL_DEFAULTS}
    assert identity_of(stored) == identity_of(without) == config.identity()


# ---- colour jitter ---------------------------------------------------------------------------

def test_jitter_colour_at_unit_factors_is_the_identity_and_stays_in_range():
    rgb = torch.rand(3, 9, 7, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(jitter_colour(rgb, (1.0, 1.0, 1.0)), rgb, atol=1e-6)
    strong = jitter_colour(rgb, (1.8, 1.8, 1.8))
    assert strong.min() >= 0 and strong.max() <= 1
    # Saturation 0 leaves each pixel's luma in all three channels (a grey image).
    grey = jitter_colour(rgb, (1.0, 1.0, 0.0))
    assert torch.allclose(grey[0], grey[1], atol=1e-6) and torch.allclose(grey[1], grey[2], atol=1e-6)
    assert torch.equal(rgb, torch.rand(3, 9, 7, generator=torch.Generator().manual_seed(0)))  # input kept


def _scenes(alphamatting_root):
    return AlphaMattingDataset(alphamatting_root, scenes=["GT01", "GT02"])


def test_foreground_jitter_changes_colours_not_the_matte(alphamatting_root, tmp_path):
    backgrounds = [np.full((80, 80, 3), 0.5, np.float32)]
    kwargs = dict(length=3, seed=4, size=48, split=None, cache_dir=tmp_path)
    plain = RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, **kwargs)
    zero = RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, foreground_jitter=0.0, **kwargs)
    jittered = RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, foreground_jitter=0.3, **kwargs)
    for index in range(3):
        a, b, c = plain[index], zero[index], jittered[index]
        assert torch.equal(a["image"], b["image"])  # 0 draws nothing: the items of the old dataset
        assert torch.equal(a["alpha"], c["alpha"]) and torch.equal(a["trimap"], c["trimap"])
        foreground = a["alpha"][0] > 0.99
        assert not torch.allclose(a["image"][:, foreground], c["image"][:, foreground])
        background = a["alpha"][0] == 0
        assert torch.allclose(a["image"][:, background], c["image"][:, background])
    with pytest.raises(ValueError, match="foreground_jitter"):
        RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, foreground_jitter=1.0, **kwargs)


def test_see_through_items_scale_the_alpha_and_draw_the_trimap_from_it(alphamatting_root, tmp_path):
    from mattinglib.data.realfg import TRANSLUCENCY_RANGE

    backgrounds = [np.full((80, 80, 3), 0.5, np.float32)]
    kwargs = dict(length=6, seed=4, size=48, split=None, cache_dir=tmp_path)
    plain = RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, **kwargs)
    zero = RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, translucent_share=0.0, **kwargs)
    every = RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, translucent_share=1.0, **kwargs)
    low, high = TRANSLUCENCY_RANGE
    for index in range(6):
        a, b, c = plain[index], zero[index], every[index]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["alpha"], b["alpha"])  # 0 draws nothing
        # Every item see-through: its alpha at most the range's top, and the image composited with it
        # (the background is uniform grey, so the composite is alpha * F + (1 - alpha) * 0.5).
        assert c["alpha"].max() <= high + 1e-6
        opaque = a["alpha"][0] == 1
        if opaque.any():  # the scale factor, read where the crop was opaque, lies in the range
            factor = c["alpha"][0][opaque]
            assert torch.allclose(factor, factor[0]) and low - 1e-6 <= float(factor[0]) <= high + 1e-6
    with pytest.raises(ValueError, match="translucent_share"):
        RealForegroundCompositeDataset(_scenes(alphamatting_root), backgrounds, translucent_share=1.5, **kwargs)
    with pytest.raises(ValueError, match="real-foreground composites"):
        TrainConfig(dataset="synthetic", translucent_share=0.2)


# ---- scene sets, baselines, figures ----------------------------------------------------------

def test_real_scene_sets_give_the_held_out_and_validation_scenes(alphamatting_root, monkeypatch):
    from mattinglib.study.evalsets import real_scene_sets

    monkeypatch.setenv("MATTINGLIB_DATA", str(alphamatting_root.parent))
    test = real_scene_sets()
    assert list(test) == ["held-out scenes, Trimap1", "held-out scenes, Trimap2"]
    assert test["held-out scenes, Trimap1"].scene_names == ["GT08", "GT09", "GT13", "GT16", "GT20"]
    validation = real_scene_sets(split="validation", trimaps=("Trimap1",), max_scenes=2)
    (name, scenes), = validation.items()
    assert name == "validation scenes, Trimap1" and len(scenes.scene_names) == 2
    assert not set(scenes.scene_names) & set(test["held-out scenes, Trimap1"].scene_names)
    with pytest.raises(ValueError, match="split must be"):
        real_scene_sets(split="train")


def test_a_baseline_predicts_each_image_once_for_both_protocols(monkeypatch):
    import mattinglib.baselines as baselines

    calls = []

    def counting(method):
        def predict(image, trimap):
            calls.append(method)
            return np.asarray(trimap, dtype=np.float64)
        return predict

    monkeypatch.setattr(baselines, "baseline_predictor", counting)
    rng = np.random.default_rng(0)
    samples = []
    for index in range(3):
        alpha = rng.random((12, 12)).astype(np.float32)
        trimap = np.where(alpha > 0.7, 1.0, np.where(alpha < 0.3, 0.0, 0.5)).astype(np.float32)
        samples.append({"image": torch.rand(3, 12, 12), "alpha": torch.from_numpy(alpha)[None],
                        "trimap": torch.from_numpy(trimap)[None], "name": f"s{index}"})
    scores = score_baselines({"set": samples}, methods={"floor": "trimap"})
    assert len(calls) == 3  # one per image, not one per image and protocol
    assert set(scores.runs["protocol"]) == {"whole", "unknown"}


def test_detail_window_finds_the_softest_window():
    alpha = np.zeros((50, 60))
    alpha[30:40, 5:15] = 0.5      # the soft patch
    alpha[:, 40:] = 1.0           # opaque: not soft
    rows, cols = detail_window(alpha, 10)
    assert (rows, cols) == (slice(30, 40), slice(5, 15))
    assert detail_window(alpha, 100) == (slice(0, 50), slice(0, 60))  # clipped to the image
    panels = detail_rows(np.zeros((50, 60, 3)), alpha, alpha, {"a": alpha, "b": alpha}, size=10, per_row=4)
    assert [len(row) for row in panels] == [4, 1] and panels[0][0][1].shape == (10, 10, 3)


def test_export_model_keeps_what_predicting_needs(tmp_path):
    from mattinglib.train import export_model, load_model, train

    config = base_config("smoke", out_dir=str(tmp_path / "run"), supervision="known", in_channels=4)
    train(config)
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    exported = export_model(checkpoint, tmp_path / "model.pt")
    assert exported.stat().st_size < checkpoint.stat().st_size
    x = torch.rand(1, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(load_model(checkpoint)(x), load_model(exported)(x))
    with pytest.raises(FileNotFoundError):
        export_model(tmp_path / "absent.pt", tmp_path / "x.pt")


def test_seen_scene_composites_use_the_training_scenes_over_held_out_photos(alphamatting_root, monkeypatch):
    from mattinglib.build import SEEN_SCENE_SEEDS, build_datasets, build_seen_scene_set, build_validation_set

    monkeypatch.setenv("MATTINGLIB_DATA", str(alphamatting_root.parent))
    config = real_track_config("smoke", "image-only", data_root=str(alphamatting_root.parent))
    train, test = build_datasets(config)
    seen = build_seen_scene_set(config, "test", length=3)
    seen_validation = build_seen_scene_set(config, "validation")
    # The foregrounds are the training scenes' (in distribution) ...
    assert seen.scene_names == train.scene_names == seen_validation.scene_names
    assert not set(seen.scene_names) & set(test.scene_names)
    # ... the photographs are the held-out sets' (test and validation), never a training one.
    assert len(seen.backgrounds) == len(test.backgrounds)
    assert len(seen_validation.backgrounds) == len(build_validation_set(config).backgrounds)
    assert all(not any(np.array_equal(b, t) for t in train.backgrounds) for b in seen.backgrounds)
    assert len(seen) == 3 and len(seen_validation) == config.test_length
    assert seen.seed == SEEN_SCENE_SEEDS["test"] != seen_validation.seed
    # Fixed: the same composites whatever the training seed; no augmentation.
    again = build_seen_scene_set(config.replace(seed=5), "test", length=3)
    assert torch.equal(seen[2]["image"], again[2]["image"]) and seen[2]["name"] == again[2]["name"]
    assert seen[0]["image"].shape[-2:] == (config.image_size, config.image_size)
    with pytest.raises(ValueError, match="real foregrounds"):
        build_seen_scene_set(base_config("smoke"))
    with pytest.raises(ValueError, match="split must be one of"):
        build_seen_scene_set(config, "train")


def test_runs_of_seed_and_export_checkpoints(tmp_path):
    from mattinglib.study.grid import export_checkpoints, runs_of_seed
    from mattinglib.train import load_model, train

    config = base_config("smoke", supervision="known", steps=2, out_dir=str(tmp_path / "run"))
    train(config)
    scores = pd.DataFrame({"variant": ["known", "known", "other"], "seed": [0, 0, 1],
                           "run_dir": [config.out_dir, config.out_dir, "elsewhere"]})
    assert runs_of_seed(scores, 0) == {"known": Path(config.out_dir)}
    with pytest.raises(ValueError, match="no run with seed 7"):
        runs_of_seed(scores, 7)
    table = export_checkpoints({"known+x": Path(config.out_dir)}, tmp_path / "out")
    assert list(table["file"]) == ["known_x.pt"] and table["MB"].iloc[0] > 0
    assert load_model(tmp_path / "out" / "known_x.pt") is not None
