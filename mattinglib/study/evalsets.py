"""Where the study's networks are trained and scored: run folders, evaluation sets, labels.

:func:`runs_root` is the folder of a profile's training runs, shared by the network
notebooks; :func:`evaluation_sets` the held-out sets every network is scored on;
:func:`describe_training_labels` how much each run's training label says.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mattinglib.build import TEST_SEED, build_held_out_set, build_validation_set, scene_splits
from mattinglib.config import TrainConfig
from mattinglib.data import AlphaMattingDataset
from mattinglib.data.alphamatting import TRIMAPS, open_alphamatting
from mattinglib.data.labelling import MakeLabel
from mattinglib.environment import runs_dir_from_env
from mattinglib.evaluate import sample_arrays
from mattinglib.labels import describe_label


def runs_root(profile: str, runs_dir: str | None = None) -> Path:
    """Folder of a profile's training runs: ``runs_dir`` or ``$MATTINGLIB_RUNS`` or ``runs/``, then
    ``<profile>/``.

    The network notebooks share it, so a run two of them ask for (the fine-label baseline)
    trains once; see :func:`mattinglib.study.grid.run_dir`.
    """
    return Path(runs_dir or runs_dir_from_env() or "runs") / profile


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
    own = build_held_out_set(config)
    if own is None:
        raise ValueError("a user's folder has no held-out set: evaluate on named sets instead")
    sets = {"synthetic" if config.dataset == "synthetic" else config.folder_layout: own}
    scenes = open_alphamatting(data_root, download=download)
    if scenes is None:
        return sets
    realfg = config.replace(dataset="realfg", data_root=str(Path(scenes.root).parent), folder_layout="generic")
    sets["real-foreground composites"] = build_held_out_set(realfg)
    test_scenes = scene_splits(scenes.scene_names)["test"]
    sets["real photos"] = AlphaMattingDataset(scenes.root, scenes=test_scenes[:max_scenes])
    return sets


def real_scene_sets(data_root: str | None = None, download: bool = False, split: str = "test",
                    trimaps: tuple[str, ...] = TRIMAPS, max_scenes: int | None = None) -> dict[str, AlphaMattingDataset]:
    """The alphamatting.com scenes of one split at full size, once per benchmark trimap.

    The real-image track's evaluation sets: ``split`` "test" gives the held-out scenes (those of
    :func:`evaluation_sets`' "real photos", which no real-foreground run trains on), "validation"
    the validation scenes its settings are chosen on (:func:`mattinglib.build.scene_splits`, the
    split :class:`~mattinglib.data.RealForegroundCompositeDataset` uses). Named
    ``"<split> scenes, <trimap>"``; empty (after a message saying what is missing) when the
    scenes cannot be had.
    """
    scenes = open_alphamatting(data_root, download=download)
    if scenes is None:
        return {}
    if split not in ("validation", "test"):
        raise ValueError(f"split must be 'validation' or 'test'; got {split!r}")
    chosen = scene_splits(scenes.scene_names)[split][:max_scenes]
    label = "held-out" if split == "test" else split
    return {f"{label} scenes, {trimap}": AlphaMattingDataset(scenes.root, trimap=trimap, scenes=chosen)
            for trimap in trimaps}


def describe_validation_set(config: TrainConfig) -> str:
    """One line naming ``config``'s validation split and what keeps it apart from the test set."""
    validation = build_validation_set(config)
    if validation is None:
        return "no validation split (a user's folder)"
    if config.dataset == "synthetic":
        photos = ", ".join(photo.name.split(":")[-1] for photo in validation.photos)
        return (f"validation split: {len(validation)} synthetic composites of {len(validation.photos)} photographs "
                f"({photos}) that no training or test composite uses")
    if config.dataset == "realfg":
        return (f"validation split: {len(validation)} composites of the scenes {', '.join(validation.scene_names)} "
                f"over {len(validation.backgrounds)} photographs, none used by training or test")
    return f"validation split: {len(validation)} images held out from the training folder, none in the test split"


def describe_training_labels(configs: dict[str, TrainConfig], dataset, count: int = 16) -> pd.DataFrame:
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
    rows = []
    for name, config in configs.items():
        maker = MakeLabel(config.label, config.trimap_width, config.mask_band)
        stats = [describe_label(maker.draw(alpha, np.random.default_rng((TEST_SEED, index))), alpha)
                 for index in range(min(count, len(dataset)))
                 for alpha in [sample_arrays(dataset[index])[1]]]
        rows.append({"label": name} | pd.DataFrame(stats).mean().to_dict())
    return pd.DataFrame(rows)
