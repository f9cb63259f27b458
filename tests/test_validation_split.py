"""The validation split: disjoint from training and test, and the only set tuning reads."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mattinglib.build import build_datasets, build_validation_set
from mattinglib.data import FolderMattingDataset, split_pool, split_scenes
from mattinglib.study.profiles import base_config
from mattinglib.study import score_cache
from mattinglib.study import tuning as tuning_module
from mattinglib.study.tuning import KNOBS, LR_FACTORS, search, tune


def test_synthetic_splits_share_no_photo_and_no_composite():
    config = base_config("cpu", train_length=30, test_length=6)
    train, test = build_datasets(config)
    validation = build_validation_set(config)
    photos = {split: {p.name for p in dataset.photos}
              for split, dataset in (("train", train), ("validation", validation), ("test", test))}
    assert all(photos.values())
    assert not photos["train"] & photos["validation"]
    assert not photos["train"] & photos["test"]
    assert not photos["validation"] & photos["test"]
    # Every composite's photos come from its own split; names (seed streams) never repeat across splits.
    for dataset, split in ((validation, "validation"), (test, "test")):
        for index in range(len(dataset)):
            assert set(dataset.photo_names(index)) <= photos[split]
    names = [dataset[i]["name"] for dataset in (validation, test) for i in range(len(dataset))]
    assert len(set(names)) == len(names)
    # Validation is scored like the test set: whole composites with fixed trimaps, no crops.
    sample = validation[0]
    assert sample["image"].shape[-1] == config.image_size
    assert np.array_equal(validation[0]["trimap"].numpy(), validation[0]["trimap"].numpy())


def test_validation_split_leaves_the_test_split_as_it_was():
    names = [f"GT{i:02d}" for i in range(1, 28)]
    train, validation, test = split_pool(names, 0.2, 0.25, seed=0).values()
    assert test == split_scenes(names, 0.2, seed=0)[1]
    assert sorted(train + validation + test) == sorted(names)
    assert not set(train) & set(validation) and not set(validation) & set(test) and not set(train) & set(test)
    assert split_pool(names, 0.2, 0.0, seed=0)["validation"] == []


def test_real_foreground_splits_are_disjoint(alphamatting_root):
    config = base_config("cpu", dataset="realfg", data_root=str(alphamatting_root.parent), in_channels=4,
                         image_size=64, crop_size=48, train_length=4, test_length=3)
    train, test = build_datasets(config)
    validation = build_validation_set(config)
    scenes = [set(d.scene_names) for d in (train, validation, test)]
    assert all(scenes)
    assert not scenes[0] & scenes[1] and not scenes[1] & scenes[2] and not scenes[0] & scenes[2]
    backgrounds = [{b.tobytes() for b in d.backgrounds} for d in (train, validation, test)]
    assert not backgrounds[0] & backgrounds[1] and not backgrounds[1] & backgrounds[2]


def test_folder_names_keep_a_part_of_the_folder(tmp_path):
    for folder in ("images", "trimaps"):
        (tmp_path / folder).mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "images" / f"{name}.png")
        Image.fromarray(np.full((8, 8), 128, np.uint8)).save(tmp_path / "trimaps" / f"{name}.png")
    part = FolderMattingDataset(tmp_path, names=["c", "a"])
    assert part.names == ["a", "c"] and len(part) == 2
    with pytest.raises(ValueError, match="no image"):
        FolderMattingDataset(tmp_path, names=["d"])


def test_every_arm_gets_the_same_learning_rate_search():
    base = base_config("smoke")
    for supervision, knobs in KNOBS.items():
        settings = search(base, {"supervision": supervision})
        expected = len(LR_FACTORS) * int(np.prod([len(v) for v in knobs.values()] or [1]))
        assert len(settings) == expected
        assert sorted({s["lr"] for s in settings.values()}) == sorted(base.lr * f for f in LR_FACTORS)
        # The recipe (the profile's own values) is one of the settings tried.
        assert any(all(s[k] == getattr(base, k) for k in ("lr", *knobs)) for s in settings.values())


def test_tuning_scores_only_the_validation_split_and_chooses_the_best(monkeypatch, tmp_path):
    scored = []
    real_evaluate = score_cache.evaluate_protocols

    def recording_evaluate(model, dataset, protocols, **kwargs):
        scored.append(dataset.split)
        return real_evaluate(model, dataset, protocols, **kwargs)

    # run_grid scores through the score cache, which predicts with evaluate_protocols.
    monkeypatch.setattr(score_cache, "evaluate_protocols", recording_evaluate)
    base = base_config("smoke")
    result = tune(base, {"known": {"supervision": "known"}, "fine": {"supervision": "fine"}}, tmp_path,
                  lr_factors=(1.0, 2.0), knobs={"fine": {"laplacian_weight": (0.0, 1.0)}}, progress=False)
    assert scored and set(scored) == {"validation"}
    table = result.table
    assert len(table) == 2 + 4 and set(table["eval_set"]) == {"validation"}
    for arm, rows in table.groupby("arm"):
        best = rows.loc[rows["sad"].idxmin()]
        assert rows["chosen"].sum() == 1 and bool(best["chosen"])
        assert result.chosen[arm]["lr"] == best["lr"]
        assert rows["recipe"].sum() == 1
        assert rows.loc[rows["recipe"], "lr"].iloc[0] == base.lr
