"""Benchmark of the whole training step: data, forward, loss, backward and optimizer.

``python -m mattinglib.bench train`` (``run(args)``) times, in one process and interleaved step by step (so that a busy machine
slows all of them alike), three ways of taking a known + DDC training step:

``today``
    The data path with this module's data optimisations switched off (:func:`optimisations`):
    every item is made from scratch, and the DDC neighbours are selected per crop in the
    data pipeline (``AddNeighbors``).
``release``
    The public release's formulation: no selection in the data pipeline, and
    :func:`mattinglib.losses.reference.reference_ddc_loss` selects the neighbours inside the
    loss at every step (data path as in ``today``).
``ours``
    The data optimisations on: the synthetic dataset's item cache
    (:data:`mattinglib.data.synthetic.dataset.ITEM_CACHE_BYTES`) and on-disk item store
    (:mod:`mattinglib.data.synthetic.store`, here in a temporary folder, so a store the user
    already filled does not count), and the real-foreground dataset's reuse of scene crop
    candidates and background tensors (:data:`mattinglib.data.realfg.REUSE_PREPARED`). They
    change no number a run computes (tests/test_train.py and tests/test_synthetic_store.py
    train with and without them and compare bit for bit).

at two scales: ``synthetic`` (the ``cpu`` profile: 64 px crops of 96 px composites, 3 input
channels, a width-16 U-Net, batch 8) and ``realfg`` (the real track: 128 px crops of 192 px
composites of the alphamatting.com foregrounds, 4 input channels), the latter only when the
scenes are found under ``$MATTINGLIB_DATA`` (otherwise it says that it skipped it).

With ``--models``, a second table at the real track's scale (128 px crops, 4 channels, known
+ DDC, the ``ours`` data path) times each named network on the same batches, interleaved step
by step after a pass that fills the item cache: the first model (``unet``, the
:class:`~mattinglib.models.CompactUNet` of the study) is the baseline of the ratios. For a
model with a pretrained encoder it also times the speed-ups it adopts switched off one at a
time (``nchw``: without channels-last memory; ``unfolded``: without BatchNorm folding) and one
it does not adopt (``frozen encoder``: no gradient through the encoder, which changes what
the network learns), each with its ratio to the model as built. Every row's *step* is the
batch's data time plus that network's forward, loss, backward and AdamW step.

How the numbers are taken. Each way has its own dataset, model and optimizer, built from the
same config. After one untimed warm-up step (numba kernels load, photos are read), the steps
``0 .. steps-1`` of the run's sample stream (the same batches as :func:`mattinglib.train.train`)
are timed once while no item has been seen (*cold*), then again (*warm*: an item cache holds
them now), then once more with the memory cache emptied (*stored*: what a later run on the same
items meets, ``ours`` reading them from its store; the other ways make them again). A run of
``run_steps`` steps over ``train_length`` items makes a fraction
``min(1, train_length / (run_steps * batch))`` of its samples new to it; the *run* figures
(the first run on a data set) weigh the cold and warm passes that way, the *later run* figures
(every other run of a study's grid on the same items: other arms, learning rates) the stored
and warm passes. *Data* is the time to make and collate a batch, the *step* the whole
of it; in the ``release`` way the selection is part of the loss, not of the data. Times are
medians per pass; steps/s is one over the step time.
"""
from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from ..build import build_criterion, build_datasets, build_model_for
from ..config import TrainConfig
from ..data import AddNeighbors, realfg
from ..data.alphamatting import SUBFOLDER
from ..data.synthetic import dataset as synthetic
from ..environment import DATA_ENV, data_root_from_env
from ..losses import known_loss, reference_ddc_loss
from ..losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK
from ..models import MODEL_NAMES, PRETRAINED_ENCODER_OF
from ..models.mobile_encoder import ConvBN
from ..train import TrainStream, param_groups, train_step
from .record import write_report

WAYS = ("today", "release", "ours")
PHASES = ("cold", "warm", "stored")
SCALES = ("synthetic", "realfg")
#: The networks ``--models`` times by default: the study's U-Net and the pretrained-encoder family.
BENCH_MODELS = ("unet", "efficientnet-lite0-unet", "mobilenetv2-unet")
#: Variants of a pretrained-encoder model timed beside it (see the module docstring).
MODEL_VARIANTS = ("as built", "nchw", "unfolded", "frozen encoder")


@contextlib.contextmanager
def optimisations(enabled: bool):
    """Switch this module's data optimisations on (as configured) or off for the ``with`` block.

    Off: no synthetic item cache or store, and the real-foreground dataset prepares its scene crop
    candidates and background tensors again for every item. Restores the settings on exit.
    """
    saved = synthetic.ITEM_CACHE_BYTES, synthetic.STORE_ENABLED, realfg.REUSE_PREPARED
    if not enabled:
        synthetic.ITEM_CACHE_BYTES, synthetic.STORE_ENABLED, realfg.REUSE_PREPARED = 0, False, False
    try:
        yield
    finally:
        synthetic.ITEM_CACHE_BYTES, synthetic.STORE_ENABLED, realfg.REUSE_PREPARED = saved


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options (``python -m mattinglib.bench train ...``)."""
    parser.add_argument("--scales", nargs="*", choices=SCALES, default=list(SCALES),
                        help="scales of the three-way table (none: only the --models table)")
    parser.add_argument("--steps", type=int, default=12, help="timed steps per pass and way (median)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--width", type=int, default=16, help="U-Net width")
    parser.add_argument("--kernel-size", type=int, default=DEFAULT_KERNEL_SIZE)
    parser.add_argument("--topk", type=int, default=DEFAULT_TOPK)
    parser.add_argument("--synthetic-size", type=int, nargs=2, default=[96, 64], metavar=("IMAGE", "CROP"),
                        help="synthetic composite and crop side (px)")
    parser.add_argument("--realfg-size", type=int, nargs=2, default=[192, 128], metavar=("IMAGE", "CROP"),
                        help="real-foreground composite and crop side (px)")
    parser.add_argument("--train-length", type=int, default=2000, help="distinct training items")
    parser.add_argument("--run-steps", type=int, default=600,
                        help="run length the 'run' figures are weighted for (the cpu profile's 600)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="*", choices=MODEL_NAMES, default=list(BENCH_MODELS), metavar="MODEL",
                        help="networks timed at the real track's scale beside the first one (the ratios' baseline); "
                             f"choices: {', '.join(MODEL_NAMES)}; default: {' '.join(BENCH_MODELS)}; none: skip")
    parser.add_argument("--json", type=Path, default=None, help="save the numbers to this JSON file")


def _check(args: argparse.Namespace) -> None:
    for name in ("steps", "batch", "threads", "width", "train_length", "run_steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    if args.train_length < args.batch * (args.steps + 1):
        raise ValueError(f"--train-length {args.train_length} must hold the timed and the warm-up batches, "
                         f"at least batch x (steps + 1) = {args.batch * (args.steps + 1)}, so that the first "
                         "pass sees no item twice")
    for name in ("synthetic_size", "realfg_size"):
        image, crop = getattr(args, name)
        if not 0 < crop <= image:
            raise ValueError(f"--{name.replace('_', '-')}: need 0 < CROP <= IMAGE; got {image} {crop}")


def _config(scale: str, args: argparse.Namespace):
    common = dict(model_width=args.width, batch_size=args.batch, kernel_size=args.kernel_size, topk=args.topk,
                  train_length=args.train_length, test_length=1, supervision="known+ddc", seed=args.seed,
                  threads=args.threads, progress=False, steps=args.run_steps)
    if scale == "synthetic":
        image, crop = args.synthetic_size
        return TrainConfig(image_size=image, crop_size=crop, ddc_weight=1.0, **common)
    image, crop = args.realfg_size
    return TrainConfig(dataset="realfg", in_channels=4, image_size=image, crop_size=crop, **common)


def _realfg_missing() -> str | None:
    """Why the real-foreground scale cannot run here, or None when it can."""
    root = data_root_from_env()
    if root is None:
        return f"${DATA_ENV} is not set"
    if not (root / SUBFOLDER).is_dir():
        return f"no {SUBFOLDER}/ under ${DATA_ENV} = {root}"
    return None


class _Way:
    """One way of training: its dataset stream, model, optimizer and loss, and its timings."""

    def __init__(self, name: str, config, store_root: Path):
        self.name, self.config = name, config
        with optimisations(name == "ours"):
            train_set, _ = build_datasets(config)
        if name == "release":  # the selection moves into the loss
            train_set.transform.transforms = [t for t in train_set.transform.transforms
                                              if not isinstance(t, AddNeighbors)]
        if isinstance(train_set, synthetic.SyntheticMattingDataset):
            train_set.use_store(store_root if name == "ours" else None)
        self.train_set = train_set
        self.stream = TrainStream(train_set, config.seed)
        self.model = build_model_for(config)
        self.optimizer = torch.optim.AdamW(param_groups(self.model, config), lr=config.lr)
        self.criterion = ReleaseCriterion(config) if name == "release" else build_criterion(config)
        self.times: dict[str, list[tuple[float, float]]] = {phase: [] for phase in PHASES}

    def step(self, step: int) -> tuple[float, float]:
        """Train on the run's batch of ``step``; (data seconds, whole step seconds)."""
        batch_size = self.config.batch_size
        with optimisations(self.name == "ours"):
            start = time.perf_counter()
            batch = default_collate([self.stream[step * batch_size + i] for i in range(batch_size)])
            data = time.perf_counter() - start
            train_step(self.model, self.optimizer, self.criterion, batch, self.config, step)
            return data, time.perf_counter() - start


class ReleaseCriterion:
    """The public release's known + DDC loss in the criterion's form (named losses, ``weights``).

    The ``release`` way trains through the same step as the others (:func:`mattinglib.train.train_step`)
    with this loss: the DDC neighbours are selected inside the loss at every step
    (:func:`mattinglib.losses.reference.reference_ddc_loss`), as in the release.
    """

    def __init__(self, config: TrainConfig):
        self.kernel_size, self.topk = config.kernel_size, config.topk
        self.weights = {"known": 1.0, "ddc": config.ddc_weight}

    def __call__(self, pred: torch.Tensor, batch: dict, weights: dict | None = None) -> dict[str, torch.Tensor]:
        weights = self.weights if weights is None else weights
        losses = {"known": known_loss(pred, batch["trimap"]),
                  "ddc": reference_ddc_loss(batch["image"], pred, self.kernel_size, self.topk)}
        losses["total"] = weights["known"] * losses["known"] + weights["ddc"] * losses["ddc"]
        return losses


def _summary(way: _Way, cold_fraction: float) -> dict:
    medians = {}
    for phase, times in way.times.items():
        data, step = np.median(np.array(times), axis=0)
        medians[phase] = {"data_s": float(data), "step_s": float(step)}
    for run, new in (("run", "cold"), ("later run", "stored")):
        medians[run] = {key: cold_fraction * medians[new][key] + (1 - cold_fraction) * medians["warm"][key]
                        for key in ("data_s", "step_s")}
    for values in medians.values():
        values["steps_per_s"] = 1.0 / values["step_s"]
        values["data_share"] = values["data_s"] / values["step_s"]
    return medians


def _bench_scale(scale: str, args: argparse.Namespace, store_root: Path) -> dict:
    config = _config(scale, args)
    ways = [_Way(name, config, store_root) for name in WAYS]
    # Warm-up on the last batch of the first epoch, which no timed step uses (see _check).
    last_step = config.train_length // config.batch_size - 1
    for way in ways:
        way.step(last_step)
    for phase in PHASES:
        if phase == "stored":  # a later run: nothing in memory, the store (if any) filled
            for way in ways:
                if isinstance(way.train_set, synthetic.SyntheticMattingDataset):
                    way.train_set.clear_cache()
        for step in range(args.steps):
            for way in ways:  # interleaved: a load change hits every way alike
                way.times[phase].append(way.step(step))
    samples = args.run_steps * args.batch
    cold_fraction = min(samples, config.train_length) / samples
    result = {"config": config.identity(), "cold_fraction": cold_fraction,
              "ways": {way.name: _summary(way, cold_fraction) for way in ways}}
    result["ratios"] = {phase: {f"ours/{base}": result["ways"]["ours"][phase]["steps_per_s"]
                                / result["ways"][base][phase]["steps_per_s"] for base in ("today", "release")}
                        for phase in ("cold", "warm", "stored", "run", "later run")}
    return result


def _format(scale: str, result: dict) -> str:
    lines = [f"{scale}: {result['config']['crop_size']} px crops of {result['config']['image_size']} px, "
             f"{result['config']['in_channels']} channels; a run's samples are {result['cold_fraction']:.0%} "
             "new to it (first run on its items: cold, later runs: stored)",
             f"{'way':>8} {'cold st/s':>10} {'warm':>6} {'stored':>7} | {'first run st/s':>14} {'data':>5} "
             f"{'x today':>8} {'x release':>9} | {'later run st/s':>14} {'data':>5} {'x today':>8} {'x release':>9}"]
    ways = result["ways"]
    for name, values in ways.items():
        row = (f"{name:>8} {values['cold']['steps_per_s']:>10.2f} {values['warm']['steps_per_s']:>6.2f} "
               f"{values['stored']['steps_per_s']:>7.2f} |")
        for run in ("run", "later run"):
            speed = values[run]["steps_per_s"]
            row += (f" {speed:>14.2f} {values[run]['data_share']:>5.0%} "
                    f"{speed / ways['today'][run]['steps_per_s']:>7.2f}x "
                    f"{speed / ways['release'][run]['steps_per_s']:>8.2f}x |")
        lines.append(row.rstrip(" |"))
    return "\n".join(lines)


def _model_variant(config: TrainConfig, variant: str) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """The config's network with one adopted speed-up switched off (or its encoder frozen), and its optimizer."""
    model = build_model_for(config)
    if variant == "nchw":
        model.channels_last = False
        model.to(memory_format=torch.contiguous_format)
    elif variant == "unfolded":
        for module in model.modules():
            if isinstance(module, ConvBN):
                module.fold_batchnorm = False
    elif variant == "frozen encoder":
        model.encoder.requires_grad_(False)
    optimizer = torch.optim.AdamW(param_groups(model, config), lr=config.lr)
    return model, optimizer


def _bench_models(args: argparse.Namespace) -> dict:
    """Time each of ``args.models`` (and the variants of the pretrained ones) on the same batches."""
    base = _config("realfg", args)
    rows = {}
    for name in args.models:
        for variant in MODEL_VARIANTS if name in PRETRAINED_ENCODER_OF else MODEL_VARIANTS[:1]:
            config = base.replace(model=name, model_width=args.width if name == "unet" else None)
            rows[(name, variant)] = _model_variant(config, variant) + ([],)
    criterion = build_criterion(base)
    with optimisations(True):
        train_set, _ = build_datasets(base)
    stream = TrainStream(train_set, base.seed)

    def batch_of(step: int) -> tuple[dict, float]:
        with optimisations(True):
            start = time.perf_counter()
            batch = default_collate([stream[step * base.batch_size + i] for i in range(base.batch_size)])
            return batch, time.perf_counter() - start

    def timed_step(model, optimizer, batch, step: int) -> float:
        start = time.perf_counter()
        train_step(model, optimizer, criterion, batch, base, step)
        return time.perf_counter() - start

    for step in range(-1, args.steps):  # step -1: warm-up of every network; the first pass fills the cache
        batch_of(max(step, 0))
    data_times = []
    for step in range(-1, args.steps):
        batch, data = batch_of(max(step, 0))
        for model, optimizer, times in rows.values():
            seconds = timed_step(model, optimizer, batch, max(step, 0))
            if step >= 0:
                times.append(seconds)
        if step >= 0:
            data_times.append(data)
    data_s = float(np.median(data_times))
    result = {"config": base.identity(), "data_s": data_s, "models": []}
    first = None
    for (name, variant), (model, _, times) in rows.items():
        step_s = data_s + float(np.median(times))
        first = first or step_s
        own = next(r for r in result["models"] if r["model"] == name) if variant != "as built" else None
        result["models"].append({
            "model": name, "variant": variant, "parameters": sum(p.numel() for p in model.parameters()),
            "steps_per_s": 1 / step_s, "data_share": data_s / step_s, "x_first": first / step_s,
            "x_as_built": (own["steps_per_s"] * step_s) ** -1 if own else 1.0})
    return result


def _format_models(result: dict) -> str:
    config = result["config"]
    lines = [f"models: {config['crop_size']} px crops of {config['image_size']} px, {config['in_channels']} channels, "
             f"the same batches (data {result['data_s']:.3f} s a batch, the ours path, items seen once before); ratios of steps/s",
             f"{'model':>24} {'variant':>15} {'params':>8} {'steps/s':>8} {'data':>5} "
             f"{'x ' + result['models'][0]['model']:>8} {'x as built':>10}"]
    for row in result["models"]:
        lines.append(f"{row['model']:>24} {row['variant']:>15} {row['parameters'] / 1e6:>7.2f}M {row['steps_per_s']:>8.2f} "
                     f"{row['data_share']:>5.0%} {row['x_first']:>7.2f}x {row['x_as_built']:>9.2f}x")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict:
    """Time the three ways at each scale, print the tables, optionally save JSON; returns the numbers."""
    _check(args)
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)  # as train() does on the CPU
    # Only this benchmark's own options: a caller's parser may add others (a subcommand's function).
    own = argparse.ArgumentParser(add_help=False)
    add_arguments(own)
    options = {action.dest for action in own._actions}
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k in options}
    report = {"settings": settings, "scales": {}}
    try:
        print(f"training-step benchmark: batch {args.batch}, known+DDC (K {args.kernel_size}, k {args.topk}), "
              f"{args.threads} torch thread(s), {args.steps} timed steps per pass; run = {args.run_steps} steps "
              f"over {args.train_length} items; medians")
        for scale in args.scales:
            missing = _realfg_missing() if scale == "realfg" else None
            if missing is not None:
                print(f"{scale}: skipped ({missing})")
                report["scales"][scale] = {"skipped": missing}
                continue
            with tempfile.TemporaryDirectory(prefix="mattinglib-bench-store-") as store_root:
                report["scales"][scale] = _bench_scale(scale, args, Path(store_root))
            print(_format(scale, report["scales"][scale]))
        if args.models:
            missing = _realfg_missing()
            if missing is not None:
                print(f"models: skipped ({missing})")
                report["models"] = {"skipped": missing}
            else:
                report["models"] = _bench_models(args)
                print(_format_models(report["models"]))
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    if args.json is not None:
        write_report(args.json, report, "train", args, data=data_found(args))
    return report


def data_found(args: argparse.Namespace) -> dict | None:
    """Whether the real scenes were found, when these arguments time the real-foreground scale
    (the saved numbers then depend on it); None when they do not."""
    if "realfg" in args.scales or args.models:
        return {SUBFOLDER: _realfg_missing() is None}
    return None


def print_report(report: dict) -> None:
    """Print the tables of a saved report (what :func:`run` printed when it measured them)."""
    for scale, result in report["scales"].items():
        print(f"{scale}: skipped ({result['skipped']})" if "skipped" in result else _format(scale, result))
    if "models" in report:
        models = report["models"]
        print(f"models: skipped ({models['skipped']})" if "skipped" in models else _format_models(models))
