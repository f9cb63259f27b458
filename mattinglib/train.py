"""Training: one flat loop, shared by the notebooks, the CLI and the tests.

``train(config)`` runs a whole experiment from a :class:`~mattinglib.config.TrainConfig`:
builds the data, the model and the criterion, trains with AdamW (warm-up, step decay),
evaluates on the held-out set every ``eval_every`` steps (a user's own folder: its held-out
share, scored by :func:`mattinglib.evaluate.score_own_images`), checkpoints atomically every
``checkpoint_every`` steps, and resumes from ``out_dir/checkpoint.pt`` when it exists.

Determinism. The sample drawn at each step is a pure function of (seed, step): a fixed
permutation per epoch picks the item, and the item's augmentation draws from
``default_rng((seed, epoch, index))`` inside the dataset. So the batches do not depend on
the number of DataLoader workers, and a run resumed from a checkpoint sees exactly the
batches it would have seen. With the CPU's deterministic kernels the same command gives the
same numbers; a run killed (even with SIGKILL) and restarted ends where the uninterrupted one
does.

Multi-process (DDP): launch with ``torchrun --nproc_per_node N -m mattinglib train ...``;
each rank takes its slice of the global batch ``batch_size`` (which must divide by N).
"""
from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from .atomic import atomic_path, atomic_write_text
from .build import build_criterion, build_datasets, build_model_for
from .checkpoints import CHECKPOINT, checkpoint_step, export_model, load_model, save_checkpoint
from .config import TrainConfig, identity_of
from .environment import torchrun_ranks
from .evaluate import describe_own_scores, evaluate, score_own_images
from .io import read_json_object
from .supervision import SUPERVISIONS

@dataclass
class TrainResult:
    """What a run leaves: the trained model, its loss history and its evaluations."""

    config: TrainConfig
    model: torch.nn.Module
    history: pd.DataFrame       # one row per logged step: step, lr, ddc weight, named losses
    evaluations: pd.DataFrame   # one row per evaluation: step and mean whole-image metrics (a user's
                                # folder: known_region_error, and those metrics when it has alphas)
    out_dir: Path
    steps_per_second: float     # median over this call's steps (data included, evaluation and
                                # checkpoint steps excluded); NaN when no step ran. Not saved:
                                # it is a measurement of the machine, not of the run.


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last checkpoint is left untouched."""


# ---------------------------------------------------------------------------------------------
# The data stream: sample positions -> items, a pure function of the seed
# ---------------------------------------------------------------------------------------------

class TrainStream(Dataset):
    """Map a global sample position ``p`` to an item of ``dataset``.

    Epoch ``e = p // len(dataset)`` visits the items in the permutation drawn from
    ``default_rng((seed, e))``; the dataset is told the epoch so its augmentation differs per
    epoch. Runs in the DataLoader workers, so nothing here depends on the main process state.
    """

    def __init__(self, dataset, seed: int):
        self.dataset, self.seed = dataset, seed
        self._perm_epoch, self._perm = -1, None

    def __len__(self) -> int:  # positions are unbounded; the sampler decides which are used
        return 2 ** 62

    def __getitem__(self, position: int) -> dict:
        epoch, offset = divmod(position, len(self.dataset))
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng((self.seed, epoch)).permutation(len(self.dataset))
            self._perm_epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[int(self._perm[offset])]


class StepPositions(Sampler):
    """Sample positions of steps ``start .. stop-1`` for one rank: its slice of each global batch."""

    def __init__(self, start: int, stop: int, global_batch: int, rank: int = 0, world: int = 1):
        if global_batch % world:
            raise ValueError(f"batch_size {global_batch} must be divisible by the number of processes {world}")
        self.start, self.stop, self.global_batch = start, stop, global_batch
        self.local_batch = global_batch // world
        self.rank = rank

    def __len__(self) -> int:
        return (self.stop - self.start) * self.local_batch

    def __iter__(self):
        for step in range(self.start, self.stop):
            first = step * self.global_batch + self.rank * self.local_batch
            yield from range(first, first + self.local_batch)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    _, world, _ = torchrun_ranks()
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def run_device(config: TrainConfig, rank: int) -> torch.device:
    if config.device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("config.device is 'cuda' but no CUDA device is available")
        local_rank = torchrun_ranks()[2]
        return torch.device("cuda", (rank if local_rank is None else local_rank) % torch.cuda.device_count())
    return torch.device(config.device)


def param_groups(model: torch.nn.Module, config: TrainConfig) -> list[dict]:
    """AdamW parameter groups: no weight decay on biases and norms; layer-wise lr decay for ViTs;
    the encoder's own lr scale for a network with a pretrained encoder.

    With ``layer_decay < 1`` and a model exposing ``layer_id(name) -> (layer, num_layers)``,
    a parameter of layer ``l`` gets ``lr_scale = layer_decay ** (num_layers - l)``. With
    ``encoder_lr_scale != 1`` (a model with an ``encoder`` sub-module, else ValueError), the
    encoder's parameters get ``lr_scale = encoder_lr_scale``.
    """
    encoder_scale = config.encoder_lr_scale
    if encoder_scale != 1.0 and not isinstance(getattr(model, "encoder", None), torch.nn.Module):
        raise ValueError(f"encoder_lr_scale {encoder_scale} applies to a network with a pretrained encoder; "
                         f"model {config.model!r} has none")
    groups: dict[tuple[float, float], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = 0.0 if p.ndim <= 1 or name.endswith(".bias") or "pos_embed" in name else config.weight_decay
        scale = 1.0
        if config.layer_decay < 1.0 and hasattr(model, "layer_id"):
            layer, num_layers = model.layer_id(name)
            scale = config.layer_decay ** (num_layers - layer)
        if encoder_scale != 1.0 and name.startswith("encoder."):
            scale *= encoder_scale
        groups.setdefault((decay, scale), []).append(p)
    return [{"params": ps, "weight_decay": d, "lr_scale": s} for (d, s), ps in groups.items()]


def model_input(batch: dict, in_channels: int) -> torch.Tensor:
    """The network input: the image, plus the training label as a 4th channel when conditioned."""
    if in_channels == 4:
        return torch.cat([batch["image"], batch["trimap"]], 1)
    return batch["image"]


def to_device(batch: dict, device: torch.device) -> dict:
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            out[key] = value.to(device, non_blocking=True)
        elif isinstance(value, tuple) and value and all(isinstance(v, torch.Tensor) for v in value):
            out[key] = type(value)(*(v.to(device, non_blocking=True) for v in value))
        else:
            out[key] = value
    return out


#: The files a run writes in its out_dir (atomic writes leave ``.<stem>.*<suffix>`` temporaries).
RUN_FILES = ("config.json", CHECKPOINT, "history.csv", "evaluations.csv")


class RunFolderTaken(ValueError):
    """``out_dir`` holds a checkpoint of a run whose config differs: it is not resumed."""


def _check_same_run(out_dir: Path, config: TrainConfig) -> None:
    """Refuse to resume a run whose config differs (other than in how it is run).

    A folder whose run never wrote a checkpoint (it failed on bad data, or diverged at once)
    holds nothing to resume: a different config may start there; its ``config.json`` is then
    replaced, which is said in one line on stderr.
    """
    saved = out_dir / "config.json"
    if not saved.exists():
        return
    has_checkpoint = (out_dir / CHECKPOINT).exists()
    try:
        stored = read_json_object(saved, "run config")
    except ValueError as error:
        if has_checkpoint:
            raise RunFolderTaken(f"{error.args[0]}; {out_dir} holds a checkpoint, so its config must be readable: "
                                 f"repair the file, train into a new folder (CLI --out-dir NEW) or discard "
                                 f"the run (CLI --restart)") from error
        print(f"mattinglib: {saved}: unreadable, replaced by the new config (no checkpoint was ever "
              f"written in {out_dir})", file=sys.stderr)
        return
    previous = identity_of(stored)
    current = config.identity()
    differ = sorted(k for k in previous.keys() | current.keys() if previous.get(k) != current.get(k))
    if not differ:
        return
    if not has_checkpoint:
        print(f"mattinglib: {saved}: old config replaced (keys {differ} differed): no checkpoint was ever "
              f"written in {out_dir}", file=sys.stderr)
        return
    raise RunFolderTaken(f"{out_dir}: holds a checkpoint of a run with a different config (keys {differ}); "
                         "train into a new folder (CLI --out-dir NEW, or out_dir=NEW) or discard the old run "
                         "and start over (CLI --restart, or mattinglib.train.discard_run)")


def discard_run(out_dir: str | Path) -> list[Path]:
    """Delete the files a run wrote in ``out_dir`` (:data:`RUN_FILES` and their temporaries).

    Other files of the folder, and the folder itself, are kept. Returns the paths removed.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    removed = []
    for name in RUN_FILES:
        stem, suffix = name.rsplit(".", 1)
        for path in [out_dir / name, *sorted(out_dir.glob(f".{stem}.*.{suffix}"))]:
            try:
                path.unlink()
            except FileNotFoundError:  # another rank of the same launch removed it first
                continue
            removed.append(path)
    return removed


# ---------------------------------------------------------------------------------------------
# One step
# ---------------------------------------------------------------------------------------------

def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, criterion, batch: dict,
               cfg: TrainConfig, step: int) -> dict[str, torch.Tensor]:
    """Take optimisation step ``step`` of the run ``cfg`` on ``batch``; the one step of the project.

    The training loop, the own-images time estimate and the training-step benchmark all call
    this, so what they run and time is the same thing: the learning rate of the schedule
    (:meth:`~mattinglib.config.TrainConfig.lr_at`, times each parameter group's ``lr_scale``),
    the forward pass, the criterion with the propagation term's (DDC, or DC) scheduled weight
    (:meth:`~mattinglib.config.TrainConfig.ddc_weight_at`), the backward pass, gradient
    clipping when ``cfg.grad_clip > 0``, and the optimiser's step.

    Parameters
    ----------
    model : torch.nn.Module
        The network called on the input (in a multi-process run, its DistributedDataParallel
        wrapper); the gradient is clipped over its (the wrapped module's) parameters.
    optimizer : torch.optim.Optimizer
        With an ``lr_scale`` in every parameter group (:func:`param_groups`).
    criterion : callable
        ``criterion(pred, batch, weights=None) -> dict`` of named scalar losses with ``"total"``,
        and a ``weights`` dict (:class:`mattinglib.losses.MattingCriterion`; the benchmark
        passes the public release's loss in the same form).
    batch : dict
        A collated batch on the model's device: ``image`` (B, 3, H, W) in [0, 1], ``trimap``
        (B, 1, H, W) and what the criterion reads.
    cfg : TrainConfig
    step : int, >= 0
        The step's index in the run (0-based), for the schedules.

    Returns
    -------
    dict of str to torch.Tensor
        The criterion's named losses for this batch (before the update).

    Raises
    ------
    TrainingDiverged
        The total loss is NaN or infinite; nothing is updated.
    """
    lr = cfg.lr_at(step)
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]
    pred = model(model_input(batch, cfg.in_channels))
    weights = None  # the criterion's own, except a scheduled propagation weight
    propagation = SUPERVISIONS[cfg.supervision].propagation
    if propagation:
        weights = criterion.weights | {propagation: cfg.ddc_weight_at(step)}
    losses = criterion(pred, batch, weights=weights)
    if not torch.isfinite(losses["total"]):
        raise TrainingDiverged(f"loss is not finite at step {step}: {({k: v.item() for k, v in losses.items()})}")
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    if cfg.grad_clip > 0:
        wrapped = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
        torch.nn.utils.clip_grad_norm_(wrapped.parameters(), cfg.grad_clip)
    optimizer.step()
    return losses


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def torch_state_restored():
    """Give back torch's thread count, global RNG state and deterministic mode on exit.

    ``train`` sets all three for its run; a notebook or test that calls it must find them
    as they were afterwards.
    """
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(rng)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def train(config: TrainConfig | dict) -> TrainResult:
    """Train (or resume) the run described by ``config``; see the module docstring.

    Torch's thread count, global random state and deterministic mode are set for the run and
    restored when it returns (or fails).
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    with torch_state_restored():
        return _train(cfg)


def _train(cfg: TrainConfig) -> TrainResult:
    rank, world = _distributed()
    device = run_device(cfg, rank)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    out_dir = Path(cfg.out_dir)
    ckpt_path = out_dir / CHECKPOINT
    if rank == 0:
        _check_same_run(out_dir, cfg)
        atomic_write_text(out_dir / "config.json", json.dumps(cfg.to_dict(), indent=2))

    train_set, test_set = build_datasets(cfg)
    model = build_model_for(cfg).to(device)
    optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr, betas=(0.9, 0.999))
    criterion = build_criterion(cfg)
    propagation = SUPERVISIONS[cfg.supervision].propagation  # its weight is logged

    start_step, history, evaluations = 0, [], []
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start_step, history, evaluations = state["step"], state["history"], state["evaluations"]
    last_checkpoint = start_step if ckpt_path.exists() else None
    ddp_model = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model

    loader = DataLoader(TrainStream(train_set, cfg.seed), batch_size=cfg.batch_size // world,
                        sampler=StepPositions(start_step, cfg.steps, cfg.batch_size, rank, world),
                        num_workers=cfg.num_workers, persistent_workers=False)
    progress = tqdm(total=cfg.steps, initial=start_step, desc=Path(cfg.out_dir).name,
                    disable=not cfg.progress or rank != 0, dynamic_ncols=True)
    model.train()
    step_seconds, step_start = [], time.perf_counter()
    for step, batch in zip(range(start_step, cfg.steps), loader):
        batch = to_device(batch, device)
        try:
            losses = train_step(ddp_model, optimizer, criterion, batch, cfg, step)
        except TrainingDiverged as error:
            kept = (f"the last checkpoint {ckpt_path} (step {last_checkpoint}) is kept" if last_checkpoint is not None
                    else "no checkpoint was written yet")
            raise TrainingDiverged(f"{error}; stopped, {kept}. Lower lr or the DDC weight, or use a warm-up.") from None

        done = step + 1
        bookkeeping = rank == 0 and (done % cfg.eval_every == 0 or done % cfg.checkpoint_every == 0
                                     or done == cfg.steps)
        if not bookkeeping and step > start_step:  # the first step pays for start-up
            step_seconds.append(time.perf_counter() - step_start)
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {"step": done, "lr": cfg.lr_at(step)}
            if propagation:
                row[f"{propagation}_weight"] = cfg.ddc_weight_at(step)
            row |= {name: value.item() for name, value in losses.items()}
            history.append(row)
            progress.set_postfix(loss=f"{row['total']:.4f}")
        # The held-out set is scored only every eval_every steps (and at the end when eval_every
        # fits in the run): the study sets eval_every past the last step, so that a run tuned on
        # the validation split never computes a test score before its settings are chosen.
        if rank == 0 and test_set is not None and cfg.eval_every <= cfg.steps and (
                done % cfg.eval_every == 0 or done == cfg.steps):
            if cfg.own_folder:
                # A user's held-out images: scored on their trimaps' known regions (they may
                # have no alphas), plus the alpha metrics when they do.
                scores = score_own_images(model, test_set)
                evaluations.append({"step": done} | scores)
                progress.write(f"step {done:6d}  loss {losses['total'].item():.4f}  {describe_own_scores(scores)}")
            else:
                scores = evaluate(model, test_set, "whole").mean
                evaluations.append({"step": done} | {k: float(v) for k, v in scores.items()})
                progress.write(f"step {done:6d}  loss {losses['total'].item():.4f}  "
                               f"test SAD {scores['sad']:.3f}  MSE {scores['mse']:.5f}  soft-alpha "
                               f"{scores['alpha_soft']:.2f}/{scores['alpha_soft_true']:.2f}")
        if rank == 0 and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_checkpoint(ckpt_path, model, optimizer, done, history, evaluations, cfg)
            last_checkpoint = done
            with atomic_path(out_dir / "history.csv") as tmp:
                pd.DataFrame(history).to_csv(tmp, index=False)
            with atomic_path(out_dir / "evaluations.csv") as tmp:
                pd.DataFrame(evaluations).to_csv(tmp, index=False)
        progress.update(1)
        step_start = time.perf_counter()
    progress.close()
    if world > 1:
        dist.barrier()
    model.eval()
    speed = 1.0 / float(np.median(step_seconds)) if step_seconds else float("nan")
    return TrainResult(cfg, model, pd.DataFrame(history), pd.DataFrame(evaluations), out_dir, speed)


# load_model, export_model, checkpoint_step and CHECKPOINT live in mattinglib.checkpoints; they are
# named here too because a run's user reaches for them beside train.
__all__ = ["TrainResult", "TrainingDiverged", "RunFolderTaken", "train", "train_step", "discard_run", "param_groups",
           "model_input", "TrainStream", "StepPositions", "CHECKPOINT", "load_model", "export_model",
           "checkpoint_step"]
