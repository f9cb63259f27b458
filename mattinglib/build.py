"""From a :class:`~mattinglib.config.TrainConfig` to the objects of a run.

The data sets (with the training labels and augmentation), the model and the criterion are
built here, in one place, so that the training loop, the CLI, the benchmarks and the
notebooks agree on what a config means. The held-out sets are fixed here too: they do not
move with the training seed, so every run of a study is scored on the same images.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from .config import TrainConfig
from .data import (AddNeighbors, AlphaMattingDataset, Compose, FolderMattingDataset, RandomCrop, RandomFlip,
                   RandomScale, RealForegroundCompositeDataset, SyntheticMattingDataset, load_photo_pool,
                   photo_splits, split_pool)
from .data.alphamatting import SUBFOLDER, data_root
from .data.labelling import DegradeAlpha, MakeLabel
from .data.mixed import MixedDataset
from .data.splits import validation_seed
from .environment import cache_dir, item_store_dir
from .losses import MattingCriterion
from .models import PRETRAINED_ENCODER_OF, build_model, load_encoder_checkpoint
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
#: Share of what the test split leaves (photos, scenes, files) held out for validation, and
#: the seed of that draw (:func:`~mattinglib.data.splits.split_pool` draws it).
VALIDATION_FRACTION = 0.25
VALIDATION_SEED = validation_seed(TEST_SEED)
#: Seed of the composites (or drawn labels) of each held-out split: fixed, never a training seed's stream.
HELD_OUT_SEEDS = {"test": TEST_SEED, "validation": VALIDATION_SEED}
#: Seed of the draw of a user's held-out images (``holdout_fraction``): fixed, like every held-out set.
HOLDOUT_SEED = TEST_SEED
#: Seed of the composites of :func:`build_seen_scene_set`: far from any training seed, so that no
#: held-out item repeats a training item's draw (its scene crop) while the scene list is the same.
SEEN_SCENE_SEEDS = {split: 10_000 + seed for split, seed in HELD_OUT_SEEDS.items()}


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
    """``(train_set, test_set)`` of a run; for a user's folder ``test_set`` is its held-out
    share (``holdout_fraction``, :func:`own_folder_split`), None when nothing is held out.

    The training set leaves out the validation split (:func:`build_validation_set`) as well
    as the test split, so a setting chosen on validation never saw a test image.
    """
    return _build_split(config, "train"), _build_split(config, "test")


def build_held_out_set(config: TrainConfig, split: str = "test"):
    """One held-out set of a run, without building its training set.

    ``split`` "test" gives the second item of :func:`build_datasets` (None for a user's folder
    with nothing held out), "validation" that of :func:`build_validation_set`: the same items,
    for less work (no training scenes' foregrounds estimated, no training folder relabelled).
    """
    if split not in HELD_OUT_SEEDS:
        raise ValueError(f"split must be one of {tuple(HELD_OUT_SEEDS)}; got {split!r}")
    return _build_split(config, split)


def build_validation_set(config: TrainConfig):
    """The validation split of a run's training data: where settings are chosen.

    Disjoint from the training set and from the test set of :func:`build_datasets` in
    photographs (synthetic composites, real-foreground backgrounds), in scenes (real
    foregrounds, alphamatting.com) or in files (AM-2K / P3M-10K: a share of the training
    folder), and in seed streams; scored like the test set (fixed trimaps, no augmentation,
    ``config.test_length`` items where composites are drawn). ``VALIDATION_FRACTION`` of what
    the test split leaves is held out, drawn with ``VALIDATION_SEED``. None for a user's folder.
    """
    return _build_split(config, "validation")


def scene_splits(names: Sequence[str]) -> dict[str, list[str]]:
    """``{"train", "validation", "test"}`` names of the alphamatting.com scenes ``names`` (all of
    them, in their order): :func:`~mattinglib.data.splits.split_pool` with the held-out fractions
    and seed, as every real-scene set of a run (scenes, real-foreground composites) splits them."""
    return split_pool(names, TEST_FRACTION, VALIDATION_FRACTION, seed=TEST_SEED)


def _photo_splits(config: TrainConfig) -> dict[str, list]:
    return photo_splits(load_photo_pool(config.photo_dirs), TEST_FRACTION, VALIDATION_FRACTION, TEST_SEED)


def _build_split(config: TrainConfig, split: str):
    """One split ("train", "validation" or "test") of the data a config names."""
    training = split == "train"
    if config.dataset == "synthetic":
        # The synthetic dataset draws the standard trimap itself; other label kinds relabel.
        relabel = config.label != "trimap"
        common = dict(size=config.image_size, split=split, photos=load_photo_pool(config.photo_dirs),
                      test_fraction=TEST_FRACTION, validation_fraction=VALIDATION_FRACTION)
        if training:
            # Every run on the same items (arms, learning rates) shares them through the store.
            return SyntheticMattingDataset(length=config.train_length, seed=config.seed, **common,
                                           transform=train_transform(config, relabel),
                                           trimap_width=config.trimap_width, store=item_store_dir())
        return SyntheticMattingDataset(length=config.test_length, seed=HELD_OUT_SEEDS[split], **common,
                                       trimap_width=TEST_TRIMAP_WIDTH)
    if config.dataset == "realfg":
        scenes = AlphaMattingDataset(_data_root(config) / SUBFOLDER)
        backgrounds = [p.pixels for p in _photo_splits(config)[split]]
        common = dict(size=config.image_size, test=TEST_FRACTION, validation=VALIDATION_FRACTION,
                      split_seed=TEST_SEED, cache_dir=cache_dir(), split=split)
        if training:
            real = RealForegroundCompositeDataset(scenes, backgrounds, config.train_length, seed=config.seed,
                                                  transform=train_transform(config, relabel=True),
                                                  foreground_jitter=config.colour_jitter,
                                                  translucent_share=config.translucent_share, **common)
            if not config.synthetic_share:
                return real
            # Synthetic composites over the same training photographs, relabelled like the real
            # ones, for the edges the 16 training foregrounds do not show.
            synthetic = SyntheticMattingDataset(length=config.train_length, seed=config.seed, size=config.image_size,
                                                split="train", photos=load_photo_pool(config.photo_dirs),
                                                test_fraction=TEST_FRACTION, validation_fraction=VALIDATION_FRACTION,
                                                transform=train_transform(config, relabel=True),
                                                trimap_width=config.trimap_width, store=item_store_dir())
            return MixedDataset(real, synthetic, config.synthetic_share)
        return RealForegroundCompositeDataset(scenes, backgrounds, config.test_length,
                                              seed=HELD_OUT_SEEDS[split], **common)
    if config.dataset == "alphamatting":
        root = _data_root(config) / SUBFOLDER
        parts = scene_splits(AlphaMattingDataset(root).scene_names)
        if training:
            # The real scenes come with their trimaps: those are the labels (no alpha is used).
            return AlphaMattingDataset(root, scenes=parts[split], seed=config.seed,
                                       transform=train_transform(config, relabel=False))
        return AlphaMattingDataset(root, scenes=parts[split])
    if config.folder_layout != "generic":
        # AM-2K / P3M-10K: like the paper, training labels are drawn from the alphas of the
        # training split; the test set is the first official validation split with its own
        # trimaps, and our validation split a share of the training folder (labels drawn with
        # the held-out seed, fixed).
        root = _data_root(config) / LAYOUT_SUBFOLDERS[config.folder_layout]
        if split == "test":
            return FolderMattingDataset(root, layout=config.folder_layout, split=LAYOUT_TEST_SPLITS[config.folder_layout])
        label = MakeLabel(config.label, config.trimap_width, config.mask_band)
        every = FolderMattingDataset(root, layout=config.folder_layout, split="train", trimap_fn=label.draw).names
        # No test draw here (the test set is the official split): only the validation draw.
        parts = split_pool(every, 0.0, VALIDATION_FRACTION, seed=TEST_SEED)
        if training:
            return FolderMattingDataset(root, layout=config.folder_layout, split="train", seed=config.seed,
                                        transform=train_transform(config, relabel=False), trimap_fn=label.draw,
                                        names=parts["train"])
        fixed = MakeLabel("trimap", TEST_TRIMAP_WIDTH, config.mask_band)
        return FolderMattingDataset(root, layout=config.folder_layout, split="train", seed=HELD_OUT_SEEDS[split],
                                    trimap_fn=fixed.draw, names=parts["validation"])
    # A user's own folder: images/ + trimaps/ (alphas/ optional, needed by fine supervision).
    # Its held-out share (holdout_fraction) is the test set; it has no validation split.
    if split == "validation":
        return None
    root = _data_root(config)
    train_names, held_out = own_folder_split(root, config.holdout_fraction)
    if not training:
        # The user's own trimaps as given, whole images, no augmentation: scored like a test set.
        return FolderMattingDataset(root, layout="generic", names=held_out) if held_out else None
    return FolderMattingDataset(root, layout="generic", seed=config.seed, names=train_names,
                                transform=train_transform(config, relabel=False))


def build_seen_scene_set(config: TrainConfig, split: str = "test", length: int | None = None):
    """Composites of a real-foreground run's *training* scenes over the ``split``'s photographs.

    The in-distribution held-out set of the image-only track: the foregrounds are those the
    network trains on, the background photographs are held out from training ("test", or
    "validation" to choose settings on), and the crops are drawn from a seed stream no training
    run uses (:data:`SEEN_SCENE_SEEDS`), at the scenes' own scale, without augmentation. The
    trimaps are the scenes' benchmark Trimap1, cropped.

    Parameters
    ----------
    config : TrainConfig
        A ``dataset="realfg"`` config (its data root, photo folders and ``image_size``).
    split : {"test", "validation"}
        Whose background photographs.
    length : int, optional
        Number of composites; default ``config.test_length``.

    Returns
    -------
    RealForegroundCompositeDataset
        ``length`` composites of ``config.image_size`` px.
    """
    if config.dataset != "realfg":
        raise ValueError(f"seen-scene composites are of real foregrounds (dataset='realfg'); got {config.dataset!r}")
    if split not in SEEN_SCENE_SEEDS:
        raise ValueError(f"split must be one of {tuple(SEEN_SCENE_SEEDS)}; got {split!r}")
    scenes = AlphaMattingDataset(_data_root(config) / SUBFOLDER)
    backgrounds = [p.pixels for p in _photo_splits(config)[split]]
    return RealForegroundCompositeDataset(scenes, backgrounds, length or config.test_length,
                                          seed=SEEN_SCENE_SEEDS[split], size=config.image_size, split="train",
                                          test=TEST_FRACTION, validation=VALIDATION_FRACTION,
                                          split_seed=TEST_SEED, cache_dir=cache_dir())


def own_folder_split(root: str | Path, holdout_fraction: float) -> tuple[list[str] | None, list[str]]:
    """``(training names, held-out names)`` of a user's folder (``root/images``, ``root/trimaps``).

    Parameters
    ----------
    root : path
        The folder's root (generic layout of :class:`~mattinglib.data.FolderMattingDataset`).
    holdout_fraction : float in [0, 1)
        Share of the images held out: ``round(fraction * n)`` of the ``n`` images, at least one
        and at least one left to train on, drawn with :data:`HOLDOUT_SEED` (the same images
        whatever the training seed, so runs of one folder are scored alike).

    Returns
    -------
    train, held_out : list of str or None, list of str
        File stems, in the folder's order. ``train`` is None (every image) and ``held_out``
        empty when the fraction is 0 or the folder has fewer than two images (then a
        warning says that nothing is scored).
    """
    if not holdout_fraction:
        return None, []
    names = FolderMattingDataset(root, layout="generic").names
    if len(names) < 2:
        warnings.warn(f"{Path(root) / 'images'}: {len(names)} image(s), too few to hold one out "
                      f"(holdout_fraction={holdout_fraction}); training on all, nothing is scored: add images",
                      stacklevel=2)
        return None, []
    parts = split_pool(names, holdout_fraction, 0.0, seed=HOLDOUT_SEED)
    return parts["train"], parts["test"]


def build_model_for(config: TrainConfig) -> torch.nn.Module:
    """The network of a config (seeded), with its backbone or whole-model initialisation."""
    overrides = {} if config.model_width is None else {"width": config.model_width}
    pretrained = config.pretrained
    if config.backbone_checkpoint and config.model in PRETRAINED_ENCODER_OF:
        if pretrained is False:
            raise ValueError("pretrained=False asks for a random encoder, backbone_checkpoint for the weights of "
                             f"{config.backbone_checkpoint}: drop one of the two")
        # The file replaces the installed weights (not read, nor hashed, first); it holds
        # pretrained statistics, so they stay frozen as the installed ones would.
        pretrained, overrides = False, overrides | {"freeze_batchnorm": True}
    model = build_model(config.model, in_channels=config.in_channels, seed=config.seed,
                        pretrained=pretrained, **overrides)
    if config.backbone_checkpoint:
        load_encoder_checkpoint(model, config.backbone_checkpoint)
    if config.init_checkpoint:
        path = Path(config.init_checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"init_checkpoint {path} does not exist")
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"] if "model" in state else state)
    return model


def build_criterion(config: TrainConfig) -> MattingCriterion:
    """The weighted losses of the config's supervision mode (:mod:`mattinglib.supervision`)."""
    weights = SUPERVISIONS[config.supervision].loss_weights(config.ddc_weight, config.laplacian_weight)
    return MattingCriterion(weights, kernel_size=config.kernel_size, topk=config.topk,
                            known_balanced=config.known_balanced)


def build_eval_set(name: str, data_root: str | None = None, trimap: str = "Trimap1", checkpoint: str | None = None):
    """An evaluation set by name: "test" (the checkpoint's own held-out set) or "alphamatting"."""
    if name == "alphamatting":
        root = Path(data_root) / SUBFOLDER if data_root else None
        return AlphaMattingDataset(root, trimap=trimap)
    if name == "test":
        if checkpoint is None:
            raise ValueError("the 'test' set is the held-out set of a run: pass its checkpoint")
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        test = build_held_out_set(TrainConfig.from_dict(state["config"]))
        if test is None:
            raise ValueError(f"the run of {checkpoint} has no held-out set (a user's folder trained with "
                             "holdout_fraction=0)")
        return test
    raise ValueError(f"unknown evaluation set {name!r}: 'test' or 'alphamatting'")
