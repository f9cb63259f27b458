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
from typing import Any

from .labels import ALPHA_LABELS
from .losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK
from .supervision import SUPERVISIONS

#: The coarse labels a run can train from (drawn by :class:`mattinglib.data.labelling.MakeLabel`).
LABELS = ("trimap", "trimap-release", "mask", "scribble")
DATASETS = ("synthetic", "realfg", "alphamatting", "folder")
FOLDER_LAYOUTS = ("generic", "am2k", "p3m10k")
DDC_SCHEDULES = ("constant", "ramp")
#: Keys that say how a run is carried out, not what it computes: they may differ between a run
#: and its resumption, and they are left out of a run's identity (the study's run folders).
RUNTIME_KEYS = ("out_dir", "progress", "num_workers", "eval_every", "log_every", "checkpoint_every")
#: Keys added after runs of the study existed, with the value that computes what the runs
#: before them computed: a run at that value leaves the key out of its identity, so adding a
#: key never renames (and retrains) the runs that do not use it.
NEUTRAL_DEFAULTS = {"colour_jitter": 0.0, "holdout_fraction": 0.0, "pretrained": None, "encoder_lr_scale": 1.0,
                    "synthetic_share": 0.0, "translucent_share": 0.0}

# What TrainConfig.__post_init__ checks beyond the types, as the tables it reads, so that
# `python -m mattinglib config` (describe_keys) states the rules that are enforced.
#: Keys that take one of a few values, and those values.
KEY_CHOICES = {"dataset": DATASETS, "label": LABELS, "folder_layout": FOLDER_LAYOUTS, "alpha_label": ALPHA_LABELS,
               "supervision": tuple(SUPERVISIONS), "ddc_schedule": DDC_SCHEDULES}
#: Keys that must be >= 1.
KEYS_AT_LEAST_ONE = ("steps", "batch_size", "checkpoint_every", "eval_every", "log_every", "threads")
#: Keys that must be >= 0.
KEYS_NON_NEGATIVE = ("ddc_weight", "laplacian_weight", "weight_decay", "grad_clip")
#: The other rules of __post_init__, in words (tests/test_cli_tools.py breaks each of them).
KEY_RULES = {
    "kernel_size": "odd and >= 3",
    "topk": "in [1, kernel_size^2]",
    "lr": "> 0",
    "lr_milestones": "as many as lr_factors",
    "lr_factors": "as many as lr_milestones",
    "crop_size": "<= image_size (dataset synthetic)",
    "colour_jitter": "in [0, 1); above 0 only with dataset realfg",
    "synthetic_share": "in [0, 1); above 0 only with dataset realfg",
    "translucent_share": "in [0, 1]; above 0 only with dataset realfg",
    "holdout_fraction": "in [0, 1); above 0 only with dataset folder, folder_layout generic",
    "in_channels": "3 (image) or 4 (image + trimap)",
    "encoder_lr_scale": "> 0",
}


@dataclass(frozen=True)
class TrainConfig:
    """Parameters of one training run (all plain literals: JSON round-trips exactly).

    Each key in one line, with its default and allowed values: :data:`KEY_HELP`,
    :func:`describe_keys`, ``python -m mattinglib config``. By topic:

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
        ``synthetic_share`` (real-foreground composites only) is the share, in [0, 1), of the
        training items that are synthetic composites with exact alpha over the same training
        photographs (:class:`~mattinglib.data.mixed.MixedDataset`; 0: none).
        ``translucent_share`` (real-foreground composites only) is the share, in [0, 1], of the
        real training composites whose foreground alpha is scaled by a factor drawn in
        :data:`~mattinglib.data.realfg.TRANSLUCENCY_RANGE` (a see-through version of the
        scene, and a trimap drawn from the scaled alpha; 0: none).
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
    Model
        ``model``, a name of :data:`mattinglib.models.MODEL_NAMES`; ``model_width`` its width
        (``unet`` only); ``in_channels`` 3 (image) or 4 (image + trimap channel).
        ``pretrained`` (models with an ImageNet encoder, ``*-unet``): None or True starts the
        encoder from the weights its package installs, False from random weights (the
        ablation); None for every other model. ``backbone_checkpoint`` replaces those weights
        with a file of the user's; ``init_checkpoint`` starts the whole network from a
        checkpoint that ``train`` wrote.
    Supervision
        ``supervision``, a mode of :data:`mattinglib.supervision.SUPERVISIONS`; ``ddc_weight`` (lambda of docs/method.md, also used for
        DC); ``laplacian_weight`` the weight of the Laplacian-pyramid term of fine supervision
        (L1's weight is 1; 0 gives L1 alone); ``kernel_size`` / ``topk`` of the neighbour selection. ``known_balanced`` (our
        extension) averages the known loss's foreground and background terms separately. ``ddc_schedule`` is
        "constant" (the paper) or "ramp": weight 0 for ``ddc_ramp_start`` steps, then linear up
        to ``ddc_weight`` over ``ddc_ramp_steps``.
    Optimisation
        AdamW with ``lr``, ``weight_decay``, linear warm-up over ``warmup_steps``, then the lr is
        multiplied by ``lr_factors[i]`` from the fraction ``lr_milestones[i]`` of ``steps`` on.
        ``layer_decay`` (< 1) scales ViT block learning rates layer-wise; ``encoder_lr_scale``
        scales the learning rate of a pretrained encoder against the decoder's (a network with
        an ``encoder``, :class:`~mattinglib.models.EncoderUNet`).
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
    synthetic_share: float = 0.0
    translucent_share: float = 0.0
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
    pretrained: bool | None = None
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
    encoder_lr_scale: float = 1.0
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
        for name, choices in KEY_CHOICES.items():
            _check_choice(name, getattr(self, name), choices)
        if self.kernel_size % 2 != 1 or self.kernel_size < 3:
            raise ValueError(f"kernel_size must be odd and >= 3, got {self.kernel_size}")
        if not 1 <= self.topk <= self.kernel_size ** 2:
            raise ValueError(f"topk must be in [1, kernel_size^2 = {self.kernel_size ** 2}], got {self.topk}")
        if len(self.lr_milestones) != len(self.lr_factors):
            raise ValueError("lr_milestones and lr_factors must have the same length")
        if self.crop_size > self.image_size and self.dataset == "synthetic":
            raise ValueError(f"crop_size {self.crop_size} exceeds image_size {self.image_size}")
        for name in KEYS_AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:  # also rejects NaN
            raise ValueError(f"lr must be > 0, got {self.lr}")
        for name in KEYS_NON_NEGATIVE:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.colour_jitter < 1.0:
            raise ValueError(f"colour_jitter must lie in [0, 1), got {self.colour_jitter}")
        if self.colour_jitter and self.dataset != "realfg":
            raise ValueError("colour_jitter applies to real-foreground composites (dataset='realfg') only")
        if not 0.0 <= self.synthetic_share < 1.0:
            raise ValueError(f"synthetic_share must lie in [0, 1), got {self.synthetic_share}")
        if self.synthetic_share and self.dataset != "realfg":
            raise ValueError("synthetic_share mixes synthetic items into real-foreground composites "
                             "(dataset='realfg') only")
        if not 0.0 <= self.translucent_share <= 1.0:  # also rejects NaN
            raise ValueError(f"translucent_share must lie in [0, 1], got {self.translucent_share}")
        if self.translucent_share and self.dataset != "realfg":
            raise ValueError("translucent_share applies to real-foreground composites (dataset='realfg') only")
        if not 0.0 <= self.holdout_fraction < 1.0:  # also rejects NaN
            raise ValueError(f"holdout_fraction must lie in [0, 1), got {self.holdout_fraction}")
        if self.holdout_fraction and not self.own_folder:
            raise ValueError("holdout_fraction applies to a user's own folder (dataset='folder', "
                             f"folder_layout='generic') only, not dataset={self.dataset!r} "
                             f"folder_layout={self.folder_layout!r}: their held-out sets are fixed")
        if not self.encoder_lr_scale > 0:  # also rejects NaN
            raise ValueError(f"encoder_lr_scale must be > 0, got {self.encoder_lr_scale}")
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return self.from_dict(self.to_dict() | changes)

    @property
    def own_folder(self) -> bool:
        """Whether the run trains on a user's own folder (``dataset="folder"``, layout ``"generic"``):
        its held-out share is ``holdout_fraction`` of the images, scored on the trimaps' known
        pixels (:func:`mattinglib.evaluate.score_own_images`) since it may have no alphas."""
        return self.dataset == "folder" and self.folder_layout == "generic"

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


#: What each key of :class:`TrainConfig` means, one line each (``python -m mattinglib config``
#: prints it with the default and the allowed values; a test fails when a field has none).
KEY_HELP = {
    # data
    "dataset": "what the network trains on: synthetic composites over photos, real alphamatting.com foregrounds "
               "over held-out photos (realfg), the 27 real scenes, or a folder (yours, or AM-2K / P3M-10K)",
    "data_root": "folder of the real data (dataset other than synthetic); null: $MATTINGLIB_DATA",
    "folder_layout": "dataset folder: generic (your images/ trimaps/ [alphas/] under data_root), am2k or p3m10k "
                     "(those datasets' trees under the data root; labels drawn from their alphas)",
    "photo_dirs": "folders of extra photos added to the bundled pool (composites' colours and backgrounds)",
    "image_size": "side of the generated composites, px",
    "crop_size": "side of the training crops, px",
    "train_length": "number of distinct training items (composites)",
    "test_length": "number of held-out items where they are drawn (test and validation composites)",
    "scale_range": "(lo, hi): each training sample is rescaled by a factor drawn in this range; (1, 1): never",
    "flip": "random horizontal flips of the training crops",
    "colour_jitter": "j: each training foreground's brightness, contrast and saturation scaled by factors drawn in "
                     "[1-j, 1+j] (real-foreground composites); 0: none",
    "synthetic_share": "share of the training items that are synthetic composites with exact alpha over the same "
                       "training photos (real-foreground composites); 0: none",
    "translucent_share": "share of the real training composites whose foreground alpha is scaled by a factor in "
                         "[0.3, 0.9] (see-through foregrounds; real-foreground composites); 0: none",
    "holdout_fraction": "share of your own folder's images kept out of training and scored every eval_every steps "
                        "(drawn with a fixed seed); 0: train on all, score nothing",
    # labels
    "label": "the coarse label a run trains from: trimap, trimap-release (the public release's generator), "
             "mask (coarse binary mask with an unknown band), scribble (sparse strokes)",
    "trimap_width": "(lo, hi): unknown band of trimap labels, px per side, drawn per image",
    "mask_band": "unknown band around a coarse mask's boundary (label mask), px per side",
    "alpha_label": "the alpha fine supervision learns from: exact, or an imperfect matte as a labelling tool "
                   "makes it (mattinglib.labels.degrade_alpha)",
    # model
    "model": "the network (mattinglib.models.MODEL_NAMES)",
    "model_width": "the U-Net's width (model unet only); null: the model's default (16)",
    "in_channels": "network input: 3 (the image) or 4 (the image and the trimap as a fourth channel)",
    "pretrained": "models with an ImageNet-pretrained encoder: null or true start the encoder from the installed "
                  "pretrained weights, false from random weights; null for other models",
    "init_checkpoint": "start the whole network from this checkpoint.pt of an earlier run; null: from scratch",
    "backbone_checkpoint": "a file of encoder weights of your own loaded into the model's encoder (vitmatte-s: a "
                           "DINO / timm ViT-S/16 state dict); null: none",
    # supervision
    "supervision": "what the network is trained from: a mode of mattinglib.supervision.SUPERVISIONS "
                   "(python -m mattinglib train --help lists them)",
    "known_balanced": "average the known loss over foreground and background pixels separately (our extension)",
    "ddc_weight": "lambda: the weight of the propagation term (DDC, DC or scaled DDC); the paper's is 10",
    "laplacian_weight": "weight of fine supervision's Laplacian-pyramid term (L1's is 1; 0: L1 alone)",
    "kernel_size": "K: side of the window in which DDC / DC neighbours are selected, px",
    "topk": "k: number of neighbours selected in the window (most similar in colour)",
    "ddc_schedule": "constant: lambda throughout (the paper); ramp: 0 for ddc_ramp_start steps, then linear up to "
                    "lambda over ddc_ramp_steps",
    "ddc_ramp_start": "steps at weight 0 before the ramp (ddc_schedule ramp)",
    "ddc_ramp_steps": "steps of the linear ramp up to lambda (ddc_schedule ramp; 0: a jump)",
    # optimisation
    "steps": "training steps (optimiser updates)",
    "batch_size": "crops per training step",
    "lr": "AdamW's learning rate after warm-up",
    "weight_decay": "AdamW's weight decay",
    "warmup_steps": "steps of linear learning-rate warm-up from lr / warmup_steps to lr",
    "lr_milestones": "fractions of steps from which the learning rate is lr times the matching lr_factors entry",
    "lr_factors": "learning-rate factors, one per lr_milestones entry",
    "layer_decay": "layer-wise learning-rate decay of ViT blocks (lr x layer_decay^(layers - layer)); 1: none",
    "encoder_lr_scale": "the pretrained encoder's learning rate as a multiple of lr (models with an encoder); 1: same",
    "grad_clip": "clip the gradient's global norm to this; 0: no clipping",
    # runtime
    "seed": "seed of the run's draws: training items, labels, crops, initial weights",
    "device": "torch device: cpu, cuda, cuda:1 ...",
    "threads": "torch threads of the run (a run's numbers depend on it)",
    "num_workers": "DataLoader worker processes (0: load in the training process)",
    # bookkeeping
    "out_dir": "run folder: config.json, checkpoint.pt, history.csv",
    "checkpoint_every": "steps between checkpoints (written atomically)",
    "eval_every": "steps between held-out evaluations in the log",
    "log_every": "steps between lines of history.csv",
    "progress": "show a progress bar while training",
}

#: Keys whose values are checked where they are used, not by TrainConfig: key -> (module, constant).
_CHOICES_CHECKED_LATER = {"model": ("mattinglib.models", "MODEL_NAMES")}


def allowed_values(name: str) -> str:
    """The values ``TrainConfig.__post_init__`` accepts for key ``name``, in words ("" when any of its type).

    Read from the tables the check itself uses (:data:`KEY_CHOICES`, :data:`KEYS_AT_LEAST_ONE`,
    :data:`KEYS_NON_NEGATIVE`, :data:`KEY_RULES`); ``model`` from the models' own list.
    """
    if name in KEY_CHOICES:
        return "one of " + ", ".join(map(str, KEY_CHOICES[name]))
    if name in _CHOICES_CHECKED_LATER:
        import importlib

        module, constant = _CHOICES_CHECKED_LATER[name]
        return "one of " + ", ".join(getattr(importlib.import_module(module), constant))
    if name in KEYS_AT_LEAST_ONE:
        return ">= 1"
    if name in KEYS_NON_NEGATIVE:
        return ">= 0"
    return KEY_RULES.get(name, "")


def describe_keys() -> list[dict[str, Any]]:
    """Every key of :class:`TrainConfig`, in field order, as ``python -m mattinglib config`` prints it.

    Returns
    -------
    list of dict
        One per field: ``key``; ``type`` (its annotation, e.g. ``"int | None"``); ``default``
        (JSON-typed, what ``to_dict()`` holds); ``allowed`` (:func:`allowed_values`; "" when any
        value of the type is); ``help`` (:data:`KEY_HELP`); ``runtime`` (a key of
        :data:`RUNTIME_KEYS`, left out of a run's identity).

    Raises
    ------
    KeyError
        A field has no entry in :data:`KEY_HELP`.
    """
    hints = typing.get_type_hints(TrainConfig)
    defaults = json.loads(json.dumps(TrainConfig().to_dict()))
    rows = []
    for f in dataclasses.fields(TrainConfig):
        hint = hints[f.name]
        rows.append({"key": f.name, "type": hint.__name__ if isinstance(hint, type) else str(hint),
                     "default": defaults[f.name], "allowed": allowed_values(f.name), "help": KEY_HELP[f.name],
                     "runtime": f.name in RUNTIME_KEYS})
    return rows


def format_keys(width: int = 100, as_json: bool = False) -> str:
    """:func:`describe_keys` as text: per key, ``key = default  [type; allowed]`` and its meaning below.

    ``as_json``: the list of :func:`describe_keys` as indented JSON instead.
    """
    import textwrap

    if as_json:
        return json.dumps(describe_keys(), indent=2)
    lines = ["TrainConfig keys: python -m mattinglib train --set KEY=VALUE (JSON values) or --config FILE.",
             "key = default  [type; allowed values; runtime: not part of a run's identity]", ""]
    for row in describe_keys():
        kind = "; ".join(filter(None, (row["type"], row["allowed"], "runtime" if row["runtime"] else "")))
        lines.append(f"{row['key']} = {json.dumps(row['default'])}  [{kind}]")
        lines.extend(textwrap.wrap(row["help"], width, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def format_supervisions() -> str:
    """``train --help``'s list of the supervision modes, one line each, from :data:`SUPERVISIONS`."""
    width = max(map(len, SUPERVISIONS))
    return "\n".join([f"supervision modes (--set supervision=NAME; default {TrainConfig.supervision}):"]
                     + [f"  {name:<{width}}  {mode.description}" for name, mode in SUPERVISIONS.items()]
                     + [f"lambda is the key ddc_weight (default {TrainConfig.ddc_weight:g}); every key with its "
                        "default and meaning: python -m mattinglib config"])


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
