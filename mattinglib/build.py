"""From a :class:`~mattinglib.config.TrainConfig` to the objects of a run.

The data sets (with the training labels and augmentation), the model and the criterion are
built here, in one place, so that the training loop, the CLI, the benchmarks and the
notebooks agree on what a config means. The held-out sets are fixed here too: they do not
move with the training seed, so every run of a study is scored on the same images.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .config import TrainConfig
from .data import (AddNeighbors, AlphaMattingDataset, Compose, FolderMattingDataset, RandomCrop, RandomFlip,
                   RandomScale, RealForegroundCompositeDataset, SyntheticMattingDataset, load_photo_pool,
                   split_photo_pool, split_scenes)
from .data.alphamatting import data_root
from .data.labelling import DegradeAlpha, MakeLabel
from .environment import cache_dir
from .losses import MattingCriterion
from .models import build_model, load_backbone_checkpoint
from .supervision import SUPERVISIONS

#: Seed of every held-out set: they do not move with the training seed.
TEST_SEED = 0
#: Width range (px per side) of the fixed test trimaps of the synthetic sets.
TEST_TRIMAP_WIDTH = (3, 12)
#: Folder of each public dataset's tree under the data root (as the datasets unpack).
LAYOUT_SUBFOLDERS = {"am2k": "AM-2K", "p3m10k": "P3M-10K"}
#: The held-out split of each public dataset's tree.
LAYOUT_TEST_SPLITS = {"am2k": "validation", "p3m10k": "P3M-500-P"}
#: Held-out fraction of photos (synthetic and real-foreground backgrounds) and of real scenes.
TEST_FRACTION = 0.2


def train_transform(config: TrainConfig, relabel: bool) -> Compose:
    """Label (when ``relabel``), scale, crop around the unknown band, flip, then the DDC neighbours."""
    steps = [MakeLabel(config.label, config.trimap_width, config.mask_band)] if relabel else []
    if config.alpha_label != "exact":
        steps.append(DegradeAlpha(config.alpha_label))
    if tuple(config.scale_range) != (1.0, 1.0):
        steps.append(RandomScale(config.scale_range))
    steps.append(RandomCrop(config.crop_size, unknown_centred=True))
    if config.flip:
        steps.append(RandomFlip())
    if SUPERVISIONS[config.supervision].needs_neighbors:
        # Selected per crop in the data pipeline: the training step never selects neighbours itself.
        steps.append(AddNeighbors(config.kernel_size, config.topk))
    return Compose(steps)


def _data_root(config: TrainConfig) -> Path:
    return data_root(config.data_root, needed_by=f"dataset {config.dataset!r}")


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
    if config.folder_layout != "generic":
        # AM-2K / P3M-10K: like the paper, training labels are drawn from the alphas of the
        # training split; the held-out set is the first validation split with its own trimaps.
        root = _data_root(config) / LAYOUT_SUBFOLDERS[config.folder_layout]
        label = MakeLabel(config.label, config.trimap_width, config.mask_band)
        train = FolderMattingDataset(root, layout=config.folder_layout, split="train", seed=config.seed,
                                     transform=train_transform(config, relabel=False), trimap_fn=label.draw)
        test_split = LAYOUT_TEST_SPLITS[config.folder_layout]
        return train, FolderMattingDataset(root, layout=config.folder_layout, split=test_split)
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


def build_criterion(config: TrainConfig) -> MattingCriterion:
    """The weighted losses of the config's supervision mode (:mod:`mattinglib.supervision`)."""
    weights = SUPERVISIONS[config.supervision].loss_weights(config.ddc_weight)
    return MattingCriterion(weights, kernel_size=config.kernel_size, topk=config.topk,
                            known_balanced=config.known_balanced)


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
