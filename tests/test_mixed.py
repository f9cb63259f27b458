"""Synthetic composites mixed into the real-foreground training set (config key synthetic_share)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate

from mattinglib.build import TEST_FRACTION, TEST_SEED, VALIDATION_FRACTION, build_datasets
from mattinglib.config import TrainConfig
from mattinglib.data.mixed import MixedDataset
from mattinglib.data.photos import load_photo_pool, photo_splits
from mattinglib.study.grid import run_dir
from mattinglib.study.profiles import real_track_config


class Items:
    """A dataset of labelled dicts that records the epochs it is told."""

    def __init__(self, label: str, length: int, extra: tuple[str, ...] = ()):
        self.label, self.length, self.extra, self.epochs = label, length, extra, []

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return {"source": self.label, "index": index} | {key: 0 for key in self.extra}

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


@pytest.mark.parametrize("share", [0.5, 0.25, 0.1, 0.9])
def test_the_share_is_exact_and_spread_evenly(share):
    mixed = MixedDataset(Items("real", 200), Items("synthetic", 300), share)
    sources = [mixed[i]["source"] for i in range(len(mixed))]
    assert len(mixed) == 200 and sources.count("synthetic") == round(200 * share)
    # any 20 consecutive items hold floor(20 * share) or one more synthetic ones
    for start in range(0, 180):
        assert sources[start:start + 20].count("synthetic") in (int(20 * share), int(20 * share) + 1)
    # an item keeps its index in the dataset it comes from
    assert all(mixed[i]["index"] == i for i in range(len(mixed)))


def test_dropped_keys_epochs_and_bad_arguments():
    real, synthetic = Items("real", 10), Items("synthetic", 10, extra=("fg", "bg"))
    mixed = MixedDataset(real, synthetic, 0.5)
    assert set(mixed[1]) == {"source", "index"} and mixed[1]["source"] == "synthetic"
    assert mixed[-1] == mixed[9]
    mixed.set_epoch(3)
    assert real.epochs == synthetic.epochs == [3]
    with pytest.raises(IndexError):
        mixed[10]
    for share in (0.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match="share"):
            MixedDataset(real, synthetic, share)
    with pytest.raises(ValueError, match="fewer"):
        MixedDataset(Items("real", 10), Items("synthetic", 9), 0.5)


def test_the_key_is_checked_and_neutral_at_zero(tmp_path):
    with pytest.raises(ValueError, match="synthetic_share must lie in"):
        TrainConfig(dataset="realfg", synthetic_share=1.0)
    with pytest.raises(ValueError, match="real-foreground composites"):
        TrainConfig(dataset="synthetic", synthetic_share=0.5)
    config = real_track_config("cpu", "trimap-input")
    assert "synthetic_share" not in config.identity()
    assert run_dir(tmp_path, config.replace(synthetic_share=0.5)) != run_dir(tmp_path, config)


def test_a_real_track_training_set_with_half_synthetic_items(alphamatting_root):
    config = real_track_config("cpu", "trimap-input", data_root=str(alphamatting_root.parent), train_length=8,
                               synthetic_share=0.5)
    train, _ = build_datasets(config)
    plain, _ = build_datasets(config.replace(synthetic_share=0.0))
    assert isinstance(train, MixedDataset) and len(train) == 8
    items = [train[i] for i in range(4)]
    # the real items are the plain run's, bit for bit; the others are synthetic composites
    for i in (0, 2):
        assert torch.equal(items[i]["image"], plain[i]["image"]) and items[i]["name"] == plain[i]["name"]
    for i in (1, 3):
        assert items[i]["name"].startswith("synthetic-train")
    batch = default_collate(items)  # both kinds collate into one batch
    assert batch["image"].shape == (4, 3, config.crop_size, config.crop_size)
    assert set(np.unique(batch["trimap"].numpy())) <= {0.0, 0.5, 1.0}
    # the synthetic items draw on the training photographs only
    pool = load_photo_pool(config.photo_dirs)
    held_out = {p.name for split in ("validation", "test") for p in photo_splits(pool, TEST_FRACTION, VALIDATION_FRACTION, TEST_SEED)[split]}
    assert not held_out & {p.name for p in train.other.photos}
