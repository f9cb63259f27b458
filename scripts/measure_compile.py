"""Does ``torch.compile`` speed up the study's training step on this CPU?

A measurement, not part of the library: it times the network side of a known + DDC training
step (forward, loss, backward, gradient clipping, AdamW) eager and with the U-Net passed
through ``torch.compile`` (inductor, default mode), in one process, interleaved step by step so
that a change of load hits both alike, at the two study scales of ``python -m mattinglib.bench
train`` (its defaults: ``synthetic`` 64 px crops, 3 channels; ``realfg`` 128 px crops, 4
channels, when the alphamatting.com scenes are under ``$MATTINGLIB_DATA``). The batches are
made once beforehand, so the data path (which compiling cannot change) is not timed: the ratio
is the network step's, and how much of a whole step that is comes from ``bench train``.

Both ways start from the same weights and see the same batches; the script reports the largest
relative difference of their losses over the timed steps (compiled kernels reorder floating
point sums, so the runs are not bit-identical) and the one-off compile time, from which it
derives how many steps a run needs before compiling pays.

    MATTINGLIB_DATA=/path/to/data .venv/bin/python scripts/measure_compile.py [--steps 30] \
        [--json results/benchmarks/compile.json]
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import default_collate

from mattinglib.atomic import atomic_write_text
from mattinglib.bench import train as bench_train
from mattinglib.bench.record import machine
from mattinglib.build import build_criterion, build_datasets, build_model_for
from mattinglib.train import TrainStream, model_input, param_groups


def _bench_defaults() -> argparse.Namespace:
    """``bench train``'s default settings, so both measure the same configs."""
    parser = argparse.ArgumentParser()
    bench_train.add_arguments(parser)
    return parser.parse_args([])


class _Way:
    """A model, its optimizer and its per-step times; ``compiled`` wraps the model in torch.compile."""

    def __init__(self, model: torch.nn.Module, config, compiled: bool):
        self.config = config
        self.model = model
        self.optimizer = torch.optim.AdamW(param_groups(model, config), lr=config.lr)
        self.forward = torch.compile(model) if compiled else model
        self.criterion = build_criterion(config)
        self.times: list[float] = []
        self.losses: list[float] = []

    def step(self, batch: dict) -> float:
        start = time.perf_counter()
        pred = self.forward(model_input(batch, self.config.in_channels))
        loss = self.criterion(pred, batch)["total"]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.losses.append(float(loss.detach()))
        return time.perf_counter() - start


def measure_scale(scale: str, steps: int, warmup: int) -> dict:
    config = bench_train._config(scale, _bench_defaults())
    train_set, _ = build_datasets(config)
    stream = TrainStream(train_set, config.seed)
    batch_size = config.batch_size
    batches = [default_collate([stream[s * batch_size + i] for i in range(batch_size)])
               for s in range(warmup + steps)]
    model = build_model_for(config)
    eager = _Way(model, config, compiled=False)
    compiled = _Way(copy.deepcopy(model), config, compiled=True)

    first = compiled.step(batches[0])  # compiles the forward and backward graphs
    eager.step(batches[0])
    for batch in batches[1:warmup]:
        compiled.step(batch)
        eager.step(batch)
    compiled.times.clear()
    eager.times.clear()
    for batch in batches[warmup:]:  # interleaved
        eager.times.append(eager.step(batch))
        compiled.times.append(compiled.step(batch))

    eager_s, compiled_s = float(np.median(eager.times)), float(np.median(compiled.times))
    losses_e, losses_c = np.array(eager.losses), np.array(compiled.losses)
    saving = eager_s - compiled_s
    return {
        "config": {k: config.identity()[k] for k in ("dataset", "in_channels", "image_size", "crop_size",
                                                    "batch_size", "model_width", "supervision")},
        "eager_network_step_s": eager_s,
        "compiled_network_step_s": compiled_s,
        "speedup": eager_s / compiled_s,
        "first_compiled_step_s": first,
        "break_even_steps": (first - compiled_s) / saving if saving > 0 else None,
        "max_relative_loss_difference": float(np.max(np.abs(losses_c - losses_e) / np.abs(losses_e))),
        "timed_steps": steps,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", nargs="+", choices=bench_train.SCALES, default=list(bench_train.SCALES))
    parser.add_argument("--steps", type=int, default=30, help="timed steps per way (median)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per way, the first compiles")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the study's 1)")
    parser.add_argument("--json", type=Path, default=None, help="save the numbers to this JSON file")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        parser.error("--steps and --warmup must be >= 1")
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)  # as train() does on the CPU
    report = {"machine": machine(), "torch": torch.__version__, "threads": args.threads, "scales": {}}
    print(f"torch.compile (inductor, default mode) against eager: network step only (forward, known + DDC loss, "
          f"backward, AdamW), {args.threads} thread(s), medians of {args.steps} interleaved steps, data excluded")
    print(f"{'scale':>10} {'eager st/s':>11} {'compiled st/s':>14} {'speed-up':>9} {'compile s':>10} "
          f"{'pays after':>11} {'max loss diff':>14}")
    for scale in args.scales:
        missing = bench_train._realfg_missing() if scale == "realfg" else None
        if missing is not None:
            print(f"{scale:>10}  skipped ({missing})")
            report["scales"][scale] = {"skipped": missing}
            continue
        r = measure_scale(scale, args.steps, args.warmup)
        report["scales"][scale] = r
        pays = "never" if r["break_even_steps"] is None else f"{r['break_even_steps']:.0f} steps"
        print(f"{scale:>10} {1 / r['eager_network_step_s']:>11.2f} {1 / r['compiled_network_step_s']:>14.2f} "
              f"{r['speedup']:>8.2f}x {r['first_compiled_step_s']:>10.1f} {pays:>11} "
              f"{r['max_relative_loss_difference']:>14.1e}")
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
