"""Training on a user's own photos and trimaps: the defaults and the time it will take.

A user with a folder ``DIR/images/``, ``DIR/trimaps/`` (and optionally ``DIR/alphas/``)
trains with :func:`own_images_config`::

    from mattinglib.own_images import estimate_training_time, own_images_config
    from mattinglib.train import train

    config = own_images_config("DIR", "runs/mine")
    print(f"about {estimate_training_time(config) / 60:.0f} min")
    result = train(config)
    result.evaluations          # step, known_region_error (and SAD, MSE, ... with alphas)

The defaults are the study's pretrained real-image network at the ``cpu`` profile
(:data:`mattinglib.study.profiles.PRETRAINED_TRACK`, a MobileNetV2 encoder from ImageNet, 600
steps), which trains on 2 cores in minutes; a fifth of the user's images is held out and scored
every 100 steps. Without alphas the score is the *known-region error*
(:func:`mattinglib.evaluate.known_region_error`): the trimap's known pixels are the only truth a
user's folder has, and a network that does not even reproduce them is not learning.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from .build import build_criterion, build_datasets, build_model_for
from .config import TrainConfig
from .evaluate import evaluate, score_own_images
from .train import TrainStream, run_device, to_device, torch_state_restored, param_groups, train_step

#: The own-images run for a user who will have a trimap for each photo at prediction time.
#: Each value is the study's real-image track at the ``cpu`` profile (``PRETRAINED_TRACK["cpu"]``
#: on ``REAL_BASES["cpu"]`` on ``BASES["cpu"]`` in :mod:`mattinglib.study.profiles`) unless its
#: comment says otherwise.
OWN_IMAGES_DEFAULTS: dict[str, Any] = {
    "dataset": "folder",
    "folder_layout": "generic",        # DIR/images, DIR/trimaps, DIR/alphas (optional)
    "label": "trimap",                 # the user's trimap files are the labels (trimap_width unused)
    "in_channels": 4,                  # the trimap-input track (REAL_TRACKS["trimap-input"])
    "supervision": "known+ddc",        # the paper's method: no alpha is needed
    # The paper's lambda, and the real track's learning rate (PRETRAINED_TRACK["cpu"]): every arm
    # of notebook 60 chose 1e-3 over 5e-4 on the validation scenes in its 1,200-step design (known +
    # DDC, 400-step tuning runs: unknown-region SAD 13.5 against 14.3, and 17.4 for the same network
    # from random weights).
    "ddc_weight": 10.0,
    "lr": 1e-3,
    "crop_size": 128,                  # REAL_BASES["cpu"]: 128 px crops
    "scale_range": (0.8, 1.25),        # REAL_BASES["cpu"]: random scale around the photo's own
    "flip": True,                      # TrainConfig's default, kept by the real track
    # PRETRAINED_TRACK["cpu"]: a U-Net decoder on MobileNetV2's ImageNet-pretrained encoder (2.4 M
    # parameters; the weights come from an installed package, never from the network).
    "model": "mobilenetv2-unet",
    "model_width": None,
    # PRETRAINED_TRACK["cpu"]: the study's 600 steps, a run of minutes on 2 cores. Notebook 60's
    # 1,200-step design scored the fine network at 600 steps no worse than at 1,200 on the validation
    # scenes (10.3 against 11.2) on a user's kind of data: real photos only, no synthetic composites.
    "steps": 600,
    "batch_size": 8,                   # BASES["cpu"]
    "warmup_steps": 60,                # a tenth of the steps, as REAL_BASES["cpu"]
    # Ours (the study scores only after training): a fifth of the photos held out, like the
    # study's TEST_FRACTION, and scored and checkpointed every 100 steps so that a user sees
    # within minutes whether the run learns, and loses at most 100 steps to an interruption.
    "holdout_fraction": 0.2,
    "eval_every": 100,
    "checkpoint_every": 100,
}
#: The same for a user who will have the photo alone at prediction time: the image-only track
#: (``REAL_TRACKS["image-only"]``, the paper's setting); the trimaps still supervise training.
IMAGE_ONLY_DEFAULTS: dict[str, Any] = OWN_IMAGES_DEFAULTS | {"in_channels": 3}

#: A 1-minute load average at or above this (in cores' worth of runnable processes) means
#: another process is busy: one busy process reaches 0.5 within about 40 s of starting.
BUSY_LOAD = 0.5
#: The most threads :func:`default_threads` gives: a width-16 U-Net on 128 px crops gained
#: little beyond 4.
MAX_THREADS = 4


def default_threads(cores: int | None = None, load: float | None = None) -> int:
    """The torch thread count of an own-images run on this machine now.

    1 on a machine of at most 2 cores, or when another process is busy (1-minute load average
    ``>= BUSY_LOAD``); else ``min(MAX_THREADS, cores)``. Measured on 2 cores: with another
    process on one of them, a 2-thread run was 3-15x slower than a 1-thread run (the threads
    wait for each other at every operation, and one of them waits for the other process).

    Parameters
    ----------
    cores : int, optional
        Cores this process may use; default the affinity mask's (``os.cpu_count()`` where the
        platform has none).
    load : float, optional
        The 1-minute load average; default ``os.getloadavg()[0]`` (treated as idle where the
        platform has no load average). It counts the calling process too, so call this before
        starting heavy work, not right after it.

    Returns
    -------
    int, >= 1
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows has none; an unreadable one says nothing
            load = 0.0
    if cores <= 2 or load >= BUSY_LOAD:
        return 1
    return min(MAX_THREADS, cores)


def own_images_config(data_root: str | os.PathLike, out_dir: str | os.PathLike, trimaps_at_prediction: bool = True,
                      **changes: Any) -> TrainConfig:
    """The training config of a user's own folder, with the own-images defaults.

    Parameters
    ----------
    data_root : path
        The folder holding ``images/`` and ``trimaps/`` (``alphas/`` optional), files matched
        by stem; trimaps 0 / 128 / 255.
    out_dir : path
        Where the run writes its config, checkpoint and histories (nothing is written here).
    trimaps_at_prediction : bool
        True: :data:`OWN_IMAGES_DEFAULTS` (the network sees the image and its trimap). False:
        :data:`IMAGE_ONLY_DEFAULTS` (the image alone).
    **changes
        Any :class:`~mattinglib.config.TrainConfig` key, applied last (``steps=1000``, ...).

    Returns
    -------
    TrainConfig
        ``threads`` is ``changes["threads"]`` when given; else the thread count stored in
        ``out_dir/config.json`` when a run is there (the thread count is part of a run's
        identity, so a resumed run must keep it or :func:`~mattinglib.train.train` refuses to
        resume it); else :func:`default_threads`.

    Raises
    ------
    KeyError, TypeError, ValueError
        A key of ``changes`` is unknown, or a value of the wrong type or range (TrainConfig's).
    """
    defaults = OWN_IMAGES_DEFAULTS if trimaps_at_prediction else IMAGE_ONLY_DEFAULTS
    threads = changes.pop("threads", None)
    if threads is None:
        threads = _stored_threads(Path(out_dir)) or default_threads()
    return TrainConfig.from_dict(defaults | {"data_root": str(data_root), "out_dir": str(out_dir),
                                             "threads": threads} | changes)


def _stored_threads(out_dir: Path) -> int | None:
    """The ``threads`` of the run config in ``out_dir``; None when there is no readable one
    (train then says what is wrong with the file)."""
    try:
        threads = json.loads((out_dir / "config.json").read_text()).get("threads")
    except (OSError, ValueError, AttributeError):
        return None
    return threads if isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1 else None


# ---------------------------------------------------------------------------------------------
# How long a run will take
# ---------------------------------------------------------------------------------------------

class _First:
    """The first item of a dataset, as a dataset (to time one evaluation image)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict:
        if index != 0:
            raise IndexError(index)
        return self.dataset[0]


def estimate_training_time(config: TrainConfig, probe_steps: int = 3) -> float:
    """Seconds the run of ``config`` will take here, from a few real training steps.

    Builds the run's data, model and criterion (:mod:`mattinglib.build`), runs one untimed
    step (start-up) and ``probe_steps`` timed ones (data, forward, backward, AdamW, with
    ``config.threads`` threads and the loop's deterministic mode), and multiplies their
    median by ``config.steps``. When the run scores a held-out set, the time of scoring its
    first image, times its size, times the number of evaluations is added. Nothing is written
    (``out_dir`` is not touched); torch's threads, random state and deterministic mode are
    restored.

    Parameters
    ----------
    config : TrainConfig
    probe_steps : int, >= 1
        Timed steps; more gives a steadier figure on a loaded machine.

    Returns
    -------
    float
        Seconds (> 0). An estimate: it assumes the machine stays as loaded as it is now, the
        data loaded in the main process (``num_workers`` > 0 may be faster), one process
        (not torchrun), the other held-out images as slow as the first, and neglects the
        checkpoints (the MobileNetV2 U-Net's, with its optimiser state, ~30 MB).
    """
    if isinstance(probe_steps, bool) or not isinstance(probe_steps, int) or probe_steps < 1:
        raise ValueError(f"probe_steps must be an int >= 1, got {probe_steps!r}")
    with torch_state_restored():
        torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        device = run_device(config, 0)
        if device.type == "cpu":
            torch.use_deterministic_algorithms(True)
        train_set, test_set = build_datasets(config)
        model = build_model_for(config).to(device).train()
        optimizer = torch.optim.AdamW(param_groups(model, config), lr=config.lr, betas=(0.9, 0.999))
        criterion = build_criterion(config)
        stream = TrainStream(train_set, config.seed)
        seconds = []
        for step in range(probe_steps + 1):
            start = time.perf_counter()
            first = step * config.batch_size
            batch = to_device(default_collate([stream[p] for p in range(first, first + config.batch_size)]), device)
            train_step(model, optimizer, criterion, batch, config, step)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step:  # the first step pays for start-up (allocations, kernel choice)
                seconds.append(time.perf_counter() - start)
        total = float(np.median(seconds)) * config.steps
        if test_set is not None and len(test_set) and config.eval_every <= config.steps:
            # The loop scores every eval_every steps and at the end.
            evaluations = config.steps // config.eval_every + (config.steps % config.eval_every != 0)
            start = time.perf_counter()
            if config.own_folder:
                score_own_images(model, _First(test_set))
            else:
                evaluate(model, _First(test_set), "whole")
            total += evaluations * len(test_set) * (time.perf_counter() - start)
    return total


__all__ = ["OWN_IMAGES_DEFAULTS", "IMAGE_ONLY_DEFAULTS", "BUSY_LOAD", "MAX_THREADS", "default_threads",
           "own_images_config", "estimate_training_time"]
