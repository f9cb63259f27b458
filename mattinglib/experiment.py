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
from .data.alphamatting import data_root
from .labels import degrade_alpha, make_coarse_mask, make_release_trimap, make_scribbles, make_trimap, mask_to_trimap
from .models import build_model, load_backbone_checkpoint

#: The held-out sets do not move with the training seed: every run of a study is scored on
#: the same images.
TEST_SEED = 0
#: Width range (px per side) of the fixed test trimaps of the synthetic sets.
TEST_TRIMAP_WIDTH = (3, 12)
#: Folder of each public dataset's tree under the data root (as the datasets unpack).
LAYOUT_SUBFOLDERS = {"am2k": "AM-2K", "p3m10k": "P3M-10K"}
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
        label = self.draw(sample["alpha"][0].numpy().astype(np.float64), rng)
        return sample | {"trimap": torch.from_numpy(label.astype(np.float32))[None]}

    def draw(self, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The label of one (H, W) matte in [0, 1]: (H, W) values in {0, 0.5, 1}."""
        if self.kind == "trimap":
            return make_trimap(alpha, self.trimap_width, rng=rng)
        if self.kind == "trimap-release":
            return make_release_trimap(alpha, rng)
        if self.kind == "mask":
            return mask_to_trimap(make_coarse_mask(alpha, rng), self.mask_band)
        if self.kind == "scribble":
            return make_scribbles(alpha, rng)
        raise ValueError(f"unknown label kind {self.kind!r}")


class DegradeAlpha:
    """Transform: replace ``sample["alpha"]`` by an imperfect alpha label (training sets only).

    ``kind`` as in :func:`mattinglib.labels.degrade_alpha`. Applied after the coarse label is
    drawn, so trimaps still come from the exact matte; only fine supervision reads the alpha.
    """

    def __init__(self, kind: str):
        self.kind = kind

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if sample.get("alpha") is None:
            raise ValueError(f"sample {sample.get('name')!r} has no alpha to degrade into a {self.kind!r} label")
        alpha = degrade_alpha(sample["alpha"][0].numpy().astype(np.float64), self.kind, rng)
        return sample | {"alpha": torch.from_numpy(alpha.astype(np.float32))[None]}


def _data_root(config: TrainConfig) -> Path:
    return data_root(config.data_root, needed_by=f"dataset {config.dataset!r}")


def cache_dir() -> Path:
    """Where derived data (estimated foregrounds) are cached: ``$MATTINGLIB_CACHE`` or ~/.cache/mattinglib."""
    return Path(os.environ.get("MATTINGLIB_CACHE", Path.home() / ".cache" / "mattinglib"))


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
    if config.folder_layout != "generic":
        # AM-2K / P3M-10K: like the paper, training labels are drawn from the alphas of the
        # training split; the held-out set is the first validation split with its own trimaps.
        root = _data_root(config) / LAYOUT_SUBFOLDERS[config.folder_layout]
        test_split = {"am2k": "validation", "p3m10k": "P3M-500-P"}[config.folder_layout]
        label = MakeLabel(config.label, config.trimap_width, config.mask_band)
        train = FolderMattingDataset(root, layout=config.folder_layout, split="train", seed=config.seed,
                                     transform=train_transform(config, relabel=False), trimap_fn=label.draw)
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


def evaluation_sets(config: TrainConfig, data_root: str | None = None, download: bool = False,
                    max_scenes: int | None = None) -> dict[str, object]:
    """The held-out sets every network of the study is scored on, by name.

    ``config``'s own held-out set ("synthetic" composites, or the validation split of an
    AM-2K / P3M-10K tree); then, when the 27 alphamatting.com scenes can be had (``data_root``
    or ``$MATTINGLIB_DATA``; fetched when ``download``), "real-foreground composites" (the
    held-out scenes' foregrounds over held-out photos, ``config.test_length`` of them at
    ``config.image_size``) and "real photos" (the held-out scenes themselves, at most
    ``max_scenes``, with their Trimap1). Without the scenes a message says what is missing and
    only the first set is returned.
    """
    from .data.alphamatting import open_alphamatting

    own = build_datasets(config)[1]
    if own is None:
        raise ValueError("a user's folder has no held-out set: evaluate on named sets instead")
    sets = {"synthetic" if config.dataset == "synthetic" else config.folder_layout: own}
    scenes = open_alphamatting(data_root, download=download)
    if scenes is None:
        return sets
    realfg = config.replace(dataset="realfg", data_root=str(Path(scenes.root).parent), folder_layout="generic")
    sets["real-foreground composites"] = build_datasets(realfg)[1]
    _, test_scenes = split_scenes(scenes.scene_names, TEST_FRACTION, seed=TEST_SEED)
    sets["real photos"] = AlphaMattingDataset(scenes.root, scenes=test_scenes[:max_scenes])
    return sets


#: Environment variable naming the folder where the study's training runs are kept.
RUNS_ENV = "MATTINGLIB_RUNS"


def runs_root(profile: str, runs_dir: str | None = None) -> Path:
    """Folder of a profile's training runs: ``runs_dir`` or ``$MATTINGLIB_RUNS`` or ``runs/``, then
    ``<profile>/``.

    The network notebooks share it, so a run two of them ask for (the fine-label baseline)
    trains once; see :func:`mattinglib.grid.run_dir`.
    """
    return Path(runs_dir or os.environ.get(RUNS_ENV) or "runs") / profile


def describe_training_labels(configs: dict[str, TrainConfig], dataset, count: int = 16):
    """How much each config's training label says, on the mattes of ``dataset``.

    For each name -> config, the label that config trains from (``label``,
    ``trimap_width``, ``mask_band``) is drawn from the true alpha of the first ``count``
    samples and described by :func:`mattinglib.labels.describe_label`.

    Returns
    -------
    DataFrame
        One row per name: ``known_fraction``, ``unknown_fraction``, ``soft_covered``,
        ``known_error`` (means over the samples).
    """
    import pandas as pd

    from .evaluate import sample_arrays
    from .labels import describe_label

    rows = []
    for name, config in configs.items():
        maker = MakeLabel(config.label, config.trimap_width, config.mask_band)
        stats = [describe_label(maker.draw(alpha, np.random.default_rng((TEST_SEED, index))), alpha)
                 for index in range(min(count, len(dataset)))
                 for alpha in [sample_arrays(dataset[index])[1]]]
        rows.append({"label": name} | pd.DataFrame(stats).mean().to_dict())
    return pd.DataFrame(rows)
