"""Benchmarks, run as ``python -m mattinglib.bench <subcommand>``.

Subcommands (each registered in ``SUBCOMMANDS`` with its own arguments, so more can be added,
e.g. ``models``):

``ddc``
    The DDC loss of :mod:`mattinglib.losses` against the naive formulation of the paper's
    release (:mod:`mattinglib.losses.reference`), float32, on seeded random images and alphas
    (uniform in [0, 1]: no ties, and the worst case for the selection's early exits). Per
    image size it reports, side by side:

    - *step*: the reference's training-step cost, forward + backward of its loss, its
      selection included (the release selects inside every step), against ours, forward +
      backward of ``ddc_loss_from_neighbors`` given the neighbours (selected once per crop,
      outside the step, e.g. in a DataLoader worker);
    - *selection*: the reference's unfold / norm / topk against ``select_neighbors``;
    - the peak memory of each, and ``|loss difference|`` and ``max |distance difference|``
      between the two (the selected distances are compared sorted, so tie order is moot).

How the numbers are taken
-------------------------
Each side runs in a fresh child process (``spawn``, one task per process), so that neither
inherits the other's allocator state or a cached JIT, and the parent only collects results.
In the child, after the inputs exist and a warm-up call on a 16 px input (numba kernels load or
compile there, torch initialises its operators), the peak resident set size (``VmHWM``) is
reset through ``/proc/self/clear_refs`` and the increase of the peak over the RSS just before
the call is the call's peak memory. The children run with glibc's ``MALLOC_MMAP_THRESHOLD_``
fixed at 64 KiB, so every buffer from 64 KiB up is fresh ``mmap``-ed memory returned to the
system when freed: the increase is what the call needs on top of its inputs (smaller blocks
may reuse heap freed earlier, so tiny peaks are lower bounds). Where
``clear_refs`` cannot be written (not Linux), ``ru_maxrss`` is used instead, which is only an
upper bound of the increase taken from the process's whole life.

- Reference: its step is timed in one sweep, selection then the rest of the step, so the
  selection time is part of the step time (the expensive naive selection runs once, not twice;
  both memory peaks are read in the same sweep: the selection's after it, the step's at the
  end). The first full-size call is timed: the reference compiles nothing, and its multi-GB
  buffers are fresh ``mmap``-ed memory on every call anyway; ``--reference-repeats`` adds more.
- Ours: the first full-size call of each measures memory and is not timed (warm-up); then
  ``--repeats`` timed calls, and the median is reported.

The torch thread count is set in every child (``--threads``, default 1): on a shared 2-core
machine two threads were measured to run several times slower than one.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import gc
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Targets of the DDC work, at 512 px: ours / reference.
TARGETS = {"step_time": 100.0, "select_time": 10.0, "step_memory": 10.0, "select_memory": 10.0}
VALUE_TOLERANCE = 1e-5

_MIB = 1024.0 * 1024.0


# ----------------------------------------------------------------------------- memory probes

def _read_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class _PeakMemory:
    """Peak RSS increase over the RSS at ``start()``, in bytes (see the module docstring)."""

    def start(self) -> None:
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM to the current RSS
            self.exact = _read_status_kib("VmHWM") is not None
        except OSError:
            self.exact = False
        rss = _read_status_kib("VmRSS")
        self.baseline_kib = rss if rss is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def peak_increase(self) -> int:
        peak = _read_status_kib("VmHWM") if self.exact else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(0, peak - self.baseline_kib) * 1024


# ----------------------------------------------------------------------------- ddc children

def _ddc_inputs(size: int, batch: int, seed: int):
    import torch

    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.random((batch, 3, size, size), dtype=np.float32))
    alpha = torch.from_numpy(rng.random((batch, 1, size, size), dtype=np.float32))
    return image, alpha


def _ddc_child(side: str, size: int, batch: int, kernel_size: int, topk: int, repeats: int,
               threads: int, seed: int, out_dir: str) -> dict:
    """Run one side of the DDC benchmark in this (fresh) process; see the module docstring."""
    import torch

    from mattinglib.losses import ddc_loss_from_neighbors, select_neighbors
    from mattinglib.losses.reference import reference_alpha_differences, reference_select

    torch.set_num_threads(threads)
    image, alpha = _ddc_inputs(size, batch, seed)
    memory = _PeakMemory()
    timer = time.perf_counter

    # Warm-up on a tiny input: JIT load / compile and torch's lazy initialisation, untimed.
    tiny_image, tiny_alpha = _ddc_inputs(16, 1, seed)
    tiny_alpha.requires_grad_(True)
    if side == "reference":
        d, w = reference_select(tiny_image, kernel_size, min(topk, kernel_size ** 2))
        torch.mean(torch.abs(d - reference_alpha_differences(tiny_alpha, w, kernel_size))).backward()
    else:
        ddc_loss_from_neighbors(tiny_alpha, select_neighbors(tiny_image, kernel_size, topk)).backward()

    result: dict = {"side": side, "size": size}
    if side == "reference":
        step_times, select_times = [], []
        for repeat in range(repeats):
            alpha_leaf = alpha.clone().requires_grad_(True)
            if repeat == 0:
                memory.start()
            start = timer()
            with torch.no_grad():
                distance, window_index = reference_select(image, kernel_size, topk)
            selected = timer()
            if repeat == 0:
                result["select_memory"] = memory.peak_increase()
            loss = torch.mean(torch.abs(distance - reference_alpha_differences(alpha_leaf, window_index, kernel_size)))
            loss.backward()
            end = timer()
            if repeat == 0:
                result["step_memory"] = memory.peak_increase()
            select_times.append(selected - start)
            step_times.append(end - start)
            loss = loss.detach()  # frees the graph before the next repeat
        distance = distance.view(batch, topk, size, size)
    else:
        memory.start()
        neighbors = select_neighbors(image, kernel_size, topk)
        result["select_memory"] = memory.peak_increase()
        select_times = []
        for _ in range(repeats):
            del neighbors
            start = timer()
            neighbors = select_neighbors(image, kernel_size, topk)
            select_times.append(timer() - start)

        alpha_leaf = alpha.clone().requires_grad_(True)
        memory.start()
        loss = ddc_loss_from_neighbors(alpha_leaf, neighbors)
        loss.backward()
        result["step_memory"] = memory.peak_increase()
        step_times = []
        for _ in range(repeats):
            alpha_leaf = alpha.clone().requires_grad_(True)
            start = timer()
            loss = ddc_loss_from_neighbors(alpha_leaf, neighbors)
            loss.backward()
            step_times.append(timer() - start)
        distance = neighbors.distance

    result.update(step_times=step_times, select_times=select_times, loss=loss.item(),
                  step_time=float(np.median(step_times)), select_time=float(np.median(select_times)),
                  memory_exact=memory.exact)
    # Large arrays go back through a file, not the result pipe.
    result["arrays"] = str(Path(out_dir) / f"{side}_{size}.npz")
    np.savez(result["arrays"], distance=distance.numpy(), grad=alpha_leaf.grad.numpy())
    return result


def _run_child(executor_context, *args) -> dict:
    # One task per fresh process: max_tasks_per_child=1 with the spawn start method. The
    # function is taken from the imported module, not from __main__ under ``python -m``.
    from mattinglib import bench

    # A fixed glibc mmap threshold (64 KiB; its default grows up to 32 MiB as blocks are
    # freed) makes every buffer from 64 KiB up fresh mapped memory, returned on free, so a
    # buffer freed earlier in the child cannot be reused unseen by the peak-RSS probe. The
    # child reads it at start-up from the environment it inherits.
    previous = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    os.environ["MALLOC_MMAP_THRESHOLD_"] = str(64 * 1024)
    try:
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=executor_context,
                                                    max_tasks_per_child=1) as pool:
            return pool.submit(bench._ddc_child, *args).result()
    finally:
        if previous is None:
            del os.environ["MALLOC_MMAP_THRESHOLD_"]
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = previous


# ----------------------------------------------------------------------------- ddc report

def _ratio(reference: float, ours: float) -> float:
    return reference / ours if ours > 0 else float("inf")


def _ddc_rows(size: int, reference: dict, ours: dict) -> tuple[list[dict], dict]:
    with np.load(reference["arrays"]) as ref_arrays, np.load(ours["arrays"]) as our_arrays:
        distance_difference = float(np.abs(ref_arrays["distance"] - our_arrays["distance"]).max())
        ref_grad, our_grad = ref_arrays["grad"], our_arrays["grad"]
        grad_difference = float(np.abs(ref_grad - our_grad).max() / max(np.abs(ref_grad).max(), 1e-30))
    loss_difference = abs(reference["loss"] - ours["loss"])
    rows = []
    for key, label, scale, unit in (("step_time", "step fwd+bwd", 1.0, "s"),
                                    ("select_time", "selection", 1.0, "s"),
                                    ("step_memory", "step peak mem", 1 / _MIB, "MiB"),
                                    ("select_memory", "selection peak mem", 1 / _MIB, "MiB")):
        ratio = _ratio(reference[key], ours[key])
        rows.append({"size": size, "measure": f"{label} ({unit})", "reference": reference[key] * scale,
                     "ours": ours[key] * scale, "ratio": ratio, "target": TARGETS[key],
                     "met": ratio >= TARGETS[key]})
    agreement = {"size": size, "loss_reference": reference["loss"], "loss_ours": ours["loss"],
                 "loss_difference": loss_difference, "distance_difference": distance_difference,
                 "grad_relative_difference": grad_difference,
                 "met": loss_difference <= VALUE_TOLERANCE and distance_difference <= VALUE_TOLERANCE}
    return rows, agreement


def _format_table(rows: list[dict], agreements: list[dict]) -> str:
    header = ("size", "measure", "reference", "ours", "ratio", "target", "")
    lines = [header]
    for row in rows:
        lines.append((str(row["size"]), row["measure"], f"{row['reference']:.4g}", f"{row['ours']:.4g}",
                      f"{row['ratio']:.1f}x", f">= {row['target']:g}x", "met" if row["met"] else "NOT MET"))
    for agreement in agreements:
        lines.append((str(agreement["size"]), "|loss difference|", f"{agreement['loss_reference']:.7f}",
                      f"{agreement['loss_ours']:.7f}", f"{agreement['loss_difference']:.1e}",
                      f"<= {VALUE_TOLERANCE:g}", ""))
        lines.append((str(agreement["size"]), "max |distance diff|", "", "",
                      f"{agreement['distance_difference']:.1e}", f"<= {VALUE_TOLERANCE:g}",
                      "met" if agreement["met"] else "NOT MET"))
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    aligns = ["rjust", "ljust", "rjust", "rjust", "rjust", "ljust", "ljust"]
    formatted = ["  ".join(getattr(cell, align)(width) for cell, align, width in zip(line, aligns, widths)).rstrip()
                 for line in lines]
    formatted.insert(1, "-" * len(formatted[0]))
    return "\n".join(formatted)


def run_ddc(args: argparse.Namespace) -> dict:
    """The ``ddc`` subcommand: measure, print the table, optionally save JSON; returns the numbers."""
    for size in args.sizes:
        if size < 1:
            raise ValueError(f"--sizes must be positive; got {size}")
    if args.kernel_size < 1 or args.kernel_size % 2 == 0:
        raise ValueError(f"--kernel-size must be a positive odd integer; got {args.kernel_size}")
    if not 1 <= args.topk <= args.kernel_size ** 2:
        raise ValueError(f"--topk must be in [1, {args.kernel_size ** 2}]; got {args.topk}")
    if args.repeats < 1 or args.reference_repeats < 1 or args.batch < 1 or args.threads < 1:
        raise ValueError("--repeats, --reference-repeats, --batch and --threads must be >= 1")

    context = multiprocessing.get_context("spawn")
    rows, agreements, raw = [], [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mattinglib-bench-") as out_dir:
        for size in args.sizes:
            common = (size, args.batch, args.kernel_size, args.topk)
            reference = _run_child(context, "reference", *common, args.reference_repeats, args.threads, args.seed,
                                   out_dir)
            ours = _run_child(context, "ours", *common, args.repeats, args.threads, args.seed, out_dir)
            size_rows, agreement = _ddc_rows(size, reference, ours)
            rows += size_rows
            agreements.append(agreement)
            raw += [{k: v for k, v in side.items() if k != "arrays"} for side in (reference, ours)]
            print(f"[{time.perf_counter() - started:.0f} s] {size} px done", file=sys.stderr, flush=True)

    settings = {"batch": args.batch, "kernel_size": args.kernel_size, "topk": args.topk, "threads": args.threads,
                "repeats": args.repeats, "reference_repeats": args.reference_repeats, "seed": args.seed,
                "dtype": "float32", "cpu_count": os.cpu_count()}
    print(f"DDC benchmark: batch {args.batch}, K {args.kernel_size}, k {args.topk}, float32, "
          f"{args.threads} torch thread(s); times are medians, ratio = reference / ours")
    print(_format_table(rows, agreements))
    largest = max(args.sizes)
    for row in rows:
        if row["size"] == largest:
            print(f"target {row['measure'].split(' (')[0]} >= {row['target']:g}x at {largest} px: "
                  f"{'met' if row['met'] else 'NOT met'} ({row['ratio']:.1f}x)")
    values_met = all(agreement["met"] for agreement in agreements)
    print(f"target values equal to {VALUE_TOLERANCE:g} (loss and selected distances, all sizes): "
          f"{'met' if values_met else 'NOT met'}")
    report = {"settings": settings, "rows": rows, "agreement": agreements, "raw": raw,
              "targets_met": all(row["met"] for row in rows if row["size"] == largest) and values_met}
    if args.json is not None:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


def _add_ddc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512], help="square image sizes, px")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of ours (median)")
    parser.add_argument("--reference-repeats", type=int, default=1,
                        help="timed calls of the reference (median); it takes ~10-40 s per call at 512 px")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads in each child")
    parser.add_argument("--kernel-size", type=int, default=11)
    parser.add_argument("--topk", type=int, default=11)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="save the numbers to this JSON file")


# name -> (help, add_arguments, run)
# ---- models: throughput of the networks and of whole training steps -------------------------

def _add_models_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", default=["unet:16", "unet:32", "vitmatte-tiny"],
                        help="NAME or unet:WIDTH; the first is the baseline of the ratios")
    parser.add_argument("--crop", type=int, default=96, help="training crop side (px)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per model")
    parser.add_argument("--image", type=int, nargs=2, default=[600, 800], metavar=("H", "W"),
                        help="inference image size (px)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the numbers here")


def run_models(args: argparse.Namespace) -> dict:
    """Parameters, training steps/s (network alone, and whole known+DDC steps with data) and
    inference seconds of each model, with ratios against the first."""
    import tempfile
    import time

    import torch

    from .config import TrainConfig
    from .models import build_model, count_parameters, measure_throughput
    from .train import train

    torch.set_num_threads(args.threads)
    rows = []
    for spec in args.models:
        name, _, width = spec.partition(":")
        overrides = {"width": int(width)} if width else {}
        model = build_model(name, **overrides)
        network_steps = measure_throughput(model, (args.crop, args.crop), batch=args.batch, steps=args.steps,
                                           train=True) / args.batch
        image = torch.rand(1, 3, *args.image)
        model.eval()
        with torch.no_grad():
            model(image)  # warm-up
            start = time.perf_counter()
            model(image)
            infer = time.perf_counter() - start
        cfg = TrainConfig(model=name, model_width=overrides.get("width"), crop_size=args.crop,
                          image_size=args.crop + 32, batch_size=args.batch, warmup_steps=1, test_length=1,
                          eval_every=10 ** 6, checkpoint_every=10 ** 6, progress=False, threads=args.threads)

        with tempfile.TemporaryDirectory() as tmp:
            train(cfg.replace(steps=3, out_dir=tmp))  # JIT and allocator warm-up
        with tempfile.TemporaryDirectory() as tmp:
            full_steps = train(cfg.replace(steps=args.steps + 2, out_dir=tmp)).steps_per_second
        rows.append({"model": spec, "parameters": count_parameters(model), "network_steps_per_s": network_steps,
                     "train_steps_per_s": full_steps, "inference_s": infer})
    base = rows[0]
    print(f"threads {args.threads}, batch {args.batch}, crop {args.crop} px, known+DDC steps with data "
          f"(synthetic composites, neighbours, evaluation excluded); inference on {args.image[1]}x{args.image[0]}")
    print(f"{'model':>15} {'params':>10} {'net steps/s':>12} {'train steps/s':>14} {'ratio':>7} "
          f"{'infer (s)':>10} {'ratio':>7}")
    for r in rows:
        print(f"{r['model']:>15} {r['parameters']:>10,} {r['network_steps_per_s']:>12.2f} "
              f"{r['train_steps_per_s']:>14.2f} {r['train_steps_per_s'] / base['train_steps_per_s']:>6.2f}x "
              f"{r['inference_s']:>10.3f} {r['inference_s'] / base['inference_s']:>6.2f}x")
    result = {"rows": rows}
    if args.json:
        from .atomic import atomic_write_text
        atomic_write_text(args.json, json.dumps(result, indent=2))
    return result


SUBCOMMANDS = {
    "ddc": ("DDC loss and neighbour selection vs the release's naive formulation", _add_ddc_arguments, run_ddc),
    "models": ("training and inference throughput of the networks", _add_models_arguments, run_models),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mattinglib.bench", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, run) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text)
        add_arguments(subparser)
        subparser.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    main()
