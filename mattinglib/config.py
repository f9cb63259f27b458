"""The one configuration of a training run: a strict dataclass.

Every knob of a run lives here, so a run is fully described by its config (saved next to its
checkpoints) and the same object drives the notebooks, the CLI and the tests. Unknown keys
and wrongly typed values raise instead of being ignored: a typo in a parameter must not
silently train the default.
"""
from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .labels import ALPHA_LABELS
from .losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK
from .supervision import SUPERVISIONS

#: The coarse labels a run can train from (drawn by :class:`mattinglib.data.labelling.MakeLabel`).
LABELS = ("trimap", "trimap-release", "mask", "scribble")
DATASETS = ("synthetic", "realfg", "alphamatting", "folder")
FOLDER_LAYOUTS = ("generic", "am2k", "p3m10k")
#: Keys that say how a run is carried out, not what it computes: they may differ between a run
#: and its resumption, and they are left out of a run's identity (the study's run folders).
RUNTIME_KEYS = ("out_dir", "progress", "num_workers", "eval_every", "log_every", "checkpoint_every")
#: Keys added after runs of the study existed, with the value that computes what the runs
#: before them computed: a run at that value leaves the key out of its identity, so adding a
#: key never renames (and retrains) the runs that do not use it.
NEUTRAL_DEFAULTS = {"colour_jitter": 0.0, "holdout_fraction": 0.0}


@dataclass(frozen=True)
class TrainConfig:
    """Parameters of one training run (all plain literals: JSON round-trips exactly).

    Data
        ``dataset``: "synthetic" (procedural composites over photos), "realfg" (alphamatting.com
        foregrounds over held-out photos), "alphamatting" (the 27 real scenes), "folder" (a
        user's ``images/ alphas/ trimaps/`` tree at ``data_root``; default ``$MATTINGLIB_DATA``).
        ``folder_layout`` "am2k" / "p3m10k" reads those datasets' trees, ``AM-2K/`` / ``P3M-10K/``
        under the data root, instead (training labels drawn from their alphas like the paper,
        held-out set = their validation split).
        ``photo_dirs`` adds folders of photos to the bundled pool (composites' colours and
        backgrounds). ``image_size`` is the side
        of generated composites (px); ``crop_size`` the side of training crops (px);
        ``train_length`` the number of distinct training items (composites).
        ``colour_jitter`` (real-foreground composites only) scales each training foreground's
        brightness, contrast and saturation by factors drawn in [1 - j, 1 + j] (0: none).
        ``holdout_fraction`` (a user's own folder only: dataset "folder", folder_layout
        "generic") is the share of its images, in [0, 1), kept out of training and scored every
        ``eval_every`` steps (at least one image when > 0 and the folder has two or more; drawn
        with a fixed seed, not the training seed). 0: train on every image, score nothing.
    Labels
        ``label``: "trimap" (unknown band of ``trimap_width`` px per side, a (lo, hi) range drawn
        per image), "trimap-release" (the public release's 1..29 px at 640 px), "mask" (coarse
        binary mask with an unknown band of ``mask_band`` px), "scribble" (sparse strokes).
        ``alpha_label`` is the alpha that fine supervision learns from: "exact", or an imperfect
        matte as a labelling tool makes it (:func:`mattinglib.labels.degrade_alpha`).
    Supervision
        ``supervision``, a mode of :data:`mattinglib.supervision.SUPERVISIONS`; ``ddc_weight`` (lambda of SPEC.md, also used for
        DC); ``laplacian_weight`` the weight of the Laplacian-pyramid term of fine supervision
        (L1's weight is 1; 0 gives L1 alone); ``kernel_size`` / ``topk`` of the neighbour selection. ``known_balanced`` (our
        extension) averages the known loss's foreground and background terms separately. ``ddc_schedule`` is
        "constant" (the paper) or "ramp": weight 0 for ``ddc_ramp_start`` steps, then linear up
        to ``ddc_weight`` over ``ddc_ramp_steps``.
    Optimisation
        AdamW with ``lr``, ``weight_decay``, linear warm-up over ``warmup_steps``, then the lr is
        multiplied by ``lr_factors[i]`` from the fraction ``lr_milestones[i]`` of ``steps`` on.
        ``layer_decay`` (< 1) scales ViT block learning rates layer-wise.
    Bookkeeping
        ``out_dir`` holds ``config.json``, ``checkpoint.pt`` (every ``checkpoint_every`` steps,
        atomic) and ``history.csv``; ``eval_every`` steps a held-out evaluation is logged.
    """

    # data
    dataset: str = "synthetic"
    data_root: str | None = None
    folder_layout: str = "generic"
    photo_dirs: tuple[str, ...] = ()
    image_size: int = 128
    crop_size: int = 96
    train_length: int = 2000
    test_length: int = 50
    scale_range: tuple[float, float] = (1.0, 1.0)
    flip: bool = True
    colour_jitter: float = 0.0
    holdout_fraction: float = 0.0
    # labels
    label: str = "trimap"
    trimap_width: tuple[int, int] = (3, 12)
    mask_band: int = 8
    alpha_label: str = "exact"
    # model
    model: str = "unet"
    model_width: int | None = None
    in_channels: int = 3
    init_checkpoint: str | None = None
    backbone_checkpoint: str | None = None
    # supervision
    supervision: str = "known+ddc"
    known_balanced: bool = False
    ddc_weight: float = 10.0
    laplacian_weight: float = 1.0
    kernel_size: int = DEFAULT_KERNEL_SIZE
    topk: int = DEFAULT_TOPK
    ddc_schedule: str = "constant"
    ddc_ramp_start: int = 0
    ddc_ramp_steps: int = 0
    # optimisation
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    lr_milestones: tuple[float, ...] = (0.6, 0.9)
    lr_factors: tuple[float, ...] = (0.1, 0.05)
    layer_decay: float = 1.0
    grad_clip: float = 1.0
    # runtime
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    num_workers: int = 0
    # bookkeeping
    out_dir: str = "runs/default"
    checkpoint_every: int = 250
    eval_every: int = 500
    log_every: int = 50
    progress: bool = True

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choice("dataset", self.dataset, DATASETS)
        _check_choice("label", self.label, LABELS)
        _check_choice("folder_layout", self.folder_layout, FOLDER_LAYOUTS)
        _check_choice("alpha_label", self.alpha_label, ALPHA_LABELS)
        _check_choice("supervision", self.supervision, tuple(SUPERVISIONS))
        _check_choice("ddc_schedule", self.ddc_schedule, ("constant", "ramp"))
        if self.kernel_size % 2 != 1 or self.kernel_size < 3:
            raise ValueError(f"kernel_size must be odd and >= 3, got {self.kernel_size}")
        if not 1 <= self.topk <= self.kernel_size ** 2:
            raise ValueError(f"topk must be in [1, kernel_size^2 = {self.kernel_size ** 2}], got {self.topk}")
        if len(self.lr_milestones) != len(self.lr_factors):
            raise ValueError("lr_milestones and lr_factors must have the same length")
        if self.crop_size > self.image_size and self.dataset == "synthetic":
            raise ValueError(f"crop_size {self.crop_size} exceeds image_size {self.image_size}")
        for name in ("steps", "batch_size", "checkpoint_every", "eval_every", "log_every", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:  # also rejects NaN
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for name in ("ddc_weight", "laplacian_weight", "weight_decay", "grad_clip"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.colour_jitter < 1.0:
            raise ValueError(f"colour_jitter must lie in [0, 1), got {self.colour_jitter}")
        if self.colour_jitter and self.dataset != "realfg":
            raise ValueError("colour_jitter applies to real-foreground composites (dataset='realfg') only")
        if not 0.0 <= self.holdout_fraction < 1.0:  # also rejects NaN
            raise ValueError(f"holdout_fraction must lie in [0, 1), got {self.holdout_fraction}")
        if self.holdout_fraction and (self.dataset, self.folder_layout) != ("folder", "generic"):
            raise ValueError("holdout_fraction applies to a user's own folder (dataset='folder', "
                             f"folder_layout='generic') only, not dataset={self.dataset!r} "
                             f"folder_layout={self.folder_layout!r}: their held-out sets are fixed")
        if self.in_channels not in (3, 4):
            raise ValueError(f"in_channels must be 3 (image) or 4 (image + trimap), got {self.in_channels}")

    # ---- (de)serialisation -------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build a config from a dict; unknown keys raise ``KeyError`` naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise KeyError(f"unknown config key(s) {unknown}; known keys: {sorted(known)}")
        hints = typing.get_type_hints(cls)
        # JSON has no tuples: accept lists where the field is a tuple.
        fixed = {k: tuple(v) if isinstance(v, list) and _is_tuple_type(hints[k]) else v for k, v in values.items()}
        return cls(**fixed)

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return self.from_dict(self.to_dict() | changes)

    def identity(self) -> dict[str, Any]:
        """The keys that decide a run's numbers (all but :data:`RUNTIME_KEYS`, and the
        :data:`NEUTRAL_DEFAULTS` keys at their neutral value), JSON-typed."""
        return identity_of(json.loads(json.dumps(self.to_dict())))

    def ddc_weight_at(self, step: int) -> float:
        """The DDC (or DC) weight at ``step`` under ``ddc_schedule``."""
        if self.ddc_schedule == "constant":
            return self.ddc_weight
        if step < self.ddc_ramp_start:
            return 0.0
        if self.ddc_ramp_steps <= 0:
            return self.ddc_weight
        return self.ddc_weight * min(1.0, (step - self.ddc_ramp_start + 1) / self.ddc_ramp_steps)

    def lr_at(self, step: int) -> float:
        """Learning rate at ``step``: linear warm-up, then step decay at the milestones."""
        factor = 1.0
        for milestone, f in zip(self.lr_milestones, self.lr_factors):
            if step >= milestone * self.steps:
                factor = f
        if step < self.warmup_steps:
            factor *= (step + 1) / self.warmup_steps
        return self.lr * factor


def identity_of(values: dict[str, Any]) -> dict[str, Any]:
    """The identity keys of a config's JSON values (a stored ``config.json``, say): all but
    :data:`RUNTIME_KEYS`, and the :data:`NEUTRAL_DEFAULTS` keys at their neutral value."""
    return {k: v for k, v in values.items()
            if k not in RUNTIME_KEYS and not (k in NEUTRAL_DEFAULTS and v == NEUTRAL_DEFAULTS[k])}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def _is_tuple_type(tp) -> bool:
    return typing.get_origin(tp) is tuple


def _matches(value: Any, tp) -> bool:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if tp is float:  # an int is a fine float (lr=1 from JSON), a bool is not
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _check_types(config: TrainConfig) -> None:
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not _matches(value, hints[f.name]):
            raise TypeError(f"config key {f.name!r} must be {hints[f.name]}, got {value!r} ({type(value).__name__})")
