"""From a :class:`~mattinglib.config.TrainConfig` to the objects of a run.

The data sets (with the training labels and augmentation), the model and the loss weights
of each supervision mode are built here, in one place, so that the training loop, the CLI
and the notebooks agree on what a config means.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .data import (AddNeighbors, AlphaMattingDataset, Compose, FolderMattingDataset, RandomCrop, RandomFlip,
                   RandomScale, RealForegroundCompositeDataset, SyntheticMattingDataset, load_photo_pool,
                   split_photo_pool, split_scenes)
from .labels import make_coarse_mask, make_release_trimap, make_scribbles, make_trimap, mask_to_trimap
from .models import build_model, load_backbone_checkpoint

#: The held-out sets do not move with the training seed: every run of a study is scored on
#: the same images.
TEST_SEED = 0
#: Width range (px per side) of the fixed test trimaps of the synthetic sets.
TEST_TRIMAP_WIDTH = (3, 12)
#: Held-out fraction of photos (synthetic and real-foreground backgrounds) and of real scenes.
TEST_FRACTION = 0.2


def supervision_weights(config: TrainConfig) -> dict[str, float]:
    """Loss weights by name (see :class:`mattinglib.losses.MattingCriterion`) for each mode.

    ``fine``: L1 + Laplacian-pyramid L1 to the true alpha (SPEC.md's fine baseline);
    ``known``: the known loss only; ``known+ddc`` / ``known+dc``: plus ``ddc_weight`` x DDC / DC;
    ``trimap-l1``: regress the 0 / 0.5 / 1 label everywhere.
    """
    return {
        "fine": {"l1": 1.0, "laplacian": 1.0},
        "known": {"known": 1.0},
        "known+ddc": {"known": 1.0, "ddc": config.ddc_weight},
        "known+dc": {"known": 1.0, "dc": config.ddc_weight},
        "trimap-l1": {"trimap_l1": 1.0},
    }[config.supervision]


class MakeLabel:
    """Transform: replace ``sample["trimap"]`` by a coarse training label drawn from its alpha.

    Parameters
    ----------
    kind : {"trimap", "trimap-release", "mask", "scribble"}
        See :mod:`mattinglib.labels`; a coarse mask is turned into a trimap with an unknown
        band of ``mask_band`` px on each side of its boundary.
    """

    def __init__(self, kind: str, trimap_width=(3, 12), mask_band: int = 8):
        self.kind, self.trimap_width, self.mask_band = kind, trimap_width, mask_band

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if "alpha" not in sample:
            raise ValueError(f"sample {sample.get('name')!r} has no alpha to draw a {self.kind!r} label from")
        alpha = sample["alpha"][0].numpy().astype(np.float64)
        if self.kind == "trimap":
            label = make_trimap(alpha, self.trimap_width, rng=rng)
        elif self.kind == "trimap-release":
            label = make_release_trimap(alpha, rng)
        elif self.kind == "mask":
            label = mask_to_trimap(make_coarse_mask(alpha, rng), self.mask_band)
        elif self.kind == "scribble":
            label = make_scribbles(alpha, rng)
        else:
            raise ValueError(f"unknown label kind {self.kind!r}")
        return sample | {"trimap": torch.from_numpy(label.astype(np.float32))[None]}


def _data_root(config: TrainConfig) -> Path:
    root = config.data_root or os.environ.get("MATTINGLIB_DATA")
    if not root:
        raise FileNotFoundError(f"dataset {config.dataset!r} needs a data root: set data_root in the config "
                                "or the MATTINGLIB_DATA environment variable")
    return Path(root)


def cache_dir() -> Path:
    """Where derived data (estimated foregrounds) are cached: ``$MATTINGLIB_CACHE`` or ~/.cache/mattinglib."""
    return Path(os.environ.get("MATTINGLIB_CACHE", Path.home() / ".cache" / "mattinglib"))


def train_transform(config: TrainConfig, relabel: bool) -> Compose:
    """Label (when ``relabel``), scale, crop around the unknown band, flip, then the DDC neighbours."""
    steps = [MakeLabel(config.label, config.trimap_width, config.mask_band)] if relabel else []
    if tuple(config.scale_range) != (1.0, 1.0):
        steps.append(RandomScale(config.scale_range))
    steps.append(RandomCrop(config.crop_size, unknown_centred=True))
    if config.flip:
        steps.append(RandomFlip())
    if config.supervision in ("known+ddc", "known+dc"):
        # In the DataLoader workers: the training step never selects neighbours itself.
        steps.append(AddNeighbors(config.kernel_size, config.topk))
    return Compose(steps)


def build_datasets(config: TrainConfig):
    """``(train_set, test_set)`` of a run; ``test_set`` is None for a user's folder."""
    if config.dataset == "synthetic":
        pool = load_photo_pool(config.photo_dirs)
        # The synthetic dataset draws the standard trimap itself; other label kinds relabel.
        relabel = config.label != "trimap"
        train = SyntheticMattingDataset(size=config.image_size, length=config.train_length, seed=config.seed,
                                        split="train", photos=pool, transform=train_transform(config, relabel),
                                        test_fraction=TEST_FRACTION, trimap_width=config.trimap_width)
        test = SyntheticMattingDataset(size=config.image_size, length=config.test_length, seed=TEST_SEED,
                                       split="test", photos=pool, test_fraction=TEST_FRACTION,
                                       trimap_width=TEST_TRIMAP_WIDTH)
        return train, test
    if config.dataset == "realfg":
        scenes = AlphaMattingDataset(_data_root(config) / "alphamatting-lowres")
        train_photos, test_photos = split_photo_pool(load_photo_pool(config.photo_dirs), TEST_FRACTION, TEST_SEED)
        common = dict(size=config.image_size, test=TEST_FRACTION, split_seed=TEST_SEED, cache_dir=cache_dir())
        train = RealForegroundCompositeDataset(scenes, [p.pixels for p in train_photos], config.train_length,
                                               seed=config.seed, split="train",
                                               transform=train_transform(config, relabel=True), **common)
        test = RealForegroundCompositeDataset(scenes, [p.pixels for p in test_photos], config.test_length,
                                              seed=TEST_SEED, split="test", **common)
        return train, test
    if config.dataset == "alphamatting":
        root = _data_root(config) / "alphamatting-lowres"
        names = AlphaMattingDataset(root).scene_names
        train_names, test_names = split_scenes(names, TEST_FRACTION, seed=TEST_SEED)
        # The real scenes come with their trimaps: those are the labels (no alpha is used).
        train = AlphaMattingDataset(root, scenes=train_names, seed=config.seed,
                                    transform=train_transform(config, relabel=False))
        return train, AlphaMattingDataset(root, scenes=test_names)
    # A user's own folder: images/ + trimaps/ (alphas/ optional, needed by fine supervision).
    train = FolderMattingDataset(_data_root(config), layout="generic", seed=config.seed,
                                 transform=train_transform(config, relabel=False))
    return train, None


def build_model_for(config: TrainConfig) -> torch.nn.Module:
    """The network of a config (seeded), with its backbone or whole-model initialisation."""
    overrides = {} if config.model_width is None else {"width": config.model_width}
    model = build_model(config.model, in_channels=config.in_channels, seed=config.seed, **overrides)
    if config.backbone_checkpoint:
        load_backbone_checkpoint(model, config.backbone_checkpoint)
    if config.init_checkpoint:
        path = Path(config.init_checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"init_checkpoint {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"] if "model" in state else state)
    return model


def build_eval_set(name: str, data_root: str | None = None, trimap: str = "Trimap1", checkpoint: str | None = None):
    """An evaluation set by name: "test" (the checkpoint's own held-out set) or "alphamatting"."""
    if name == "alphamatting":
        root = Path(data_root) / "alphamatting-lowres" if data_root else None
        return AlphaMattingDataset(root, trimap=trimap)
    if name == "test":
        if checkpoint is None:
            raise ValueError("the 'test' set is the held-out set of a run: pass its checkpoint")
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        test = build_datasets(TrainConfig.from_dict(state["config"]))[1]
        if test is None:
            raise ValueError(f"the run of {checkpoint} has no held-out set (a folder dataset)")
        return test
    raise ValueError(f"unknown evaluation set {name!r}: 'test' or 'alphamatting'")
