"""``python -m mattinglib.bench ddc``: our DDC loss and neighbour selection against the release's.

The baseline is the naive formulation of the paper's public release
(:mod:`mattinglib.losses.reference`), which selects the neighbours inside every training step;
a second baseline for the selection alone is our previous numba kernel
(``select_neighbors(..., backend="numba-v1")``). Float32, seeded random images and alphas
(uniform in [0, 1]: no ties). Per image size the table reports, each as ``baseline / ours``:

- ``step fwd+bwd, selection included``: the release's step (selection, loss, backward) against
  ours doing the same work: ``select_neighbors`` then forward + backward of
  ``ddc_loss_from_neighbors``, timed as one call. **This is what a training step of the
  study pays**: its trainings select in the main process (``num_workers=0`` on 2 cores), so
  the selection is part of every step.
- ``step fwd+bwd, neighbours given``: the release's step against ours *given* the neighbours,
  i.e. the loss alone. Only a set-up that selects elsewhere (DataLoader workers on spare cores,
  or neighbours cached per crop) pays this.
- ``selection``: the release's unfold / norm / topk against ``select_neighbors``;
  ``selection vs previous kernel``: the previous kernel against the current one (the
  speed-up of the current kernel over it).
- the peak memory of the step (neighbours given) and of the selection, and the agreement:
  ``|loss difference|`` and ``max |distance difference|`` against the release (the distances
  compared sorted, so tie order is moot), and the number of pixels whose neighbour set differs
  from the previous kernel's (0 expected: the kernels are bit-identical).

Each side (release, ours, previous kernel) runs in a fresh child process
(:mod:`mattinglib.bench.timing`). In the child, after the inputs exist, a warm-up call on a
16 px input loads or compiles the numba kernels and initialises torch's operators.

- Release: its step is timed in one sweep, selection then the rest of the step, so the
  selection time is part of the step time (the expensive naive selection runs once, not
  twice; both memory peaks are read in that sweep: the selection's after it, the step's at the
  end). The first full-size call is timed: the release compiles nothing, and its multi-GB
  buffers are fresh ``mmap``-ed memory on every call anyway; ``--reference-repeats`` adds more.
- Ours and the previous kernel: the first full-size call of each measured part gives its peak
  memory and is not timed (warm-up); then ``--repeats`` timed calls, and the median is
  reported. Outputs are allocated inside each timed call, as in training.

Times are wall-clock (``time.perf_counter``). The torch thread count is set in every child
(``--threads``, default 1): on a shared 2-core machine two threads were measured to run
several times slower than one. On a loaded machine the absolute times vary from run to run;
the ratios of one run are what this benchmark is for.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .record import write_report
from .timing import MIB, PeakMemory, format_table, ratio, run_in_child

# Targets of the DDC work at the largest size, ours / baseline; None: reported, no target.
TARGETS = {"step_included": 50.0, "step_given": 100.0, "select": 60.0, "select_previous": None,
           "step_memory": 10.0, "select_memory": 10.0}
VALUE_TOLERANCE = 1e-5

# key -> (label, baseline side, baseline field, ours field, scale, unit)
_MEASURES = {
    "step_included": ("step fwd+bwd, selection included", "reference", "step_time", "included_time", 1.0, "s"),
    "step_given": ("step fwd+bwd, neighbours given", "reference", "step_time", "step_time", 1.0, "s"),
    "select": ("selection", "reference", "select_time", "select_time", 1.0, "s"),
    "select_previous": ("selection vs previous kernel", "previous", "select_time", "select_time", 1.0, "s"),
    "step_memory": ("step peak mem, neighbours given", "reference", "step_memory", "step_memory", 1 / MIB, "MiB"),
    "select_memory": ("selection peak mem", "reference", "select_memory", "select_memory", 1 / MIB, "MiB"),
}
_BASELINE_NAMES = {"reference": "release", "previous": "previous kernel"}


def _ddc_inputs(size: int, batch: int, seed: int):
    import torch

    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.random((batch, 3, size, size), dtype=np.float32))
    alpha = torch.from_numpy(rng.random((batch, 1, size, size), dtype=np.float32))
    return image, alpha


def _median(times: list[float]) -> float:
    return float(np.median(times))


def _reference_side(image, alpha, kernel_size, topk, repeats, memory, result):
    import torch

    from mattinglib.losses.reference import reference_alpha_differences, reference_select

    batch, _, height, width = image.shape
    step_times, select_times = [], []
    for repeat in range(repeats):
        alpha_leaf = alpha.clone().requires_grad_(True)
        if repeat == 0:
            memory.start()
        start = time.perf_counter()
        with torch.no_grad():
            distance, window_index = reference_select(image, kernel_size, topk)
        selected = time.perf_counter()
        if repeat == 0:
            result["select_memory"] = memory.peak_increase()
        loss = torch.mean(torch.abs(distance - reference_alpha_differences(alpha_leaf, window_index, kernel_size)))
        loss.backward()
        end = time.perf_counter()
        if repeat == 0:
            result["step_memory"] = memory.peak_increase()
        select_times.append(selected - start)
        step_times.append(end - start)
        loss = loss.detach()  # frees the graph before the next repeat
    result.update(step_times=step_times, select_times=select_times, loss=loss.item(),
                  step_time=_median(step_times), select_time=_median(select_times))
    return {"distance": distance.view(batch, topk, height, width).numpy(), "grad": alpha_leaf.grad.numpy()}


def _timed(repeats: int, call) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def _ours_side(image, alpha, kernel_size, topk, repeats, memory, result):
    from mattinglib.losses import ddc_loss_from_neighbors, select_neighbors

    memory.start()
    neighbors = select_neighbors(image, kernel_size, topk)
    result["select_memory"] = memory.peak_increase()
    select_times = _timed(repeats, lambda: select_neighbors(image, kernel_size, topk))

    def step(neighbors):
        alpha_leaf = alpha.clone().requires_grad_(True)
        ddc_loss_from_neighbors(alpha_leaf, neighbors).backward()

    memory.start()
    step(neighbors)
    result["step_memory"] = memory.peak_increase()
    step_times = _timed(repeats, lambda: step(neighbors))
    included_times = _timed(repeats, lambda: step(select_neighbors(image, kernel_size, topk)))

    alpha_leaf = alpha.clone().requires_grad_(True)
    loss = ddc_loss_from_neighbors(alpha_leaf, neighbors)
    loss.backward()
    result.update(select_times=select_times, step_times=step_times, included_times=included_times,
                  loss=loss.item(), select_time=_median(select_times), step_time=_median(step_times),
                  included_time=_median(included_times))
    return {"distance": neighbors.distance.numpy(), "index": neighbors.index.numpy(), "grad": alpha_leaf.grad.numpy()}


def _previous_side(image, kernel_size, topk, repeats, memory, result):
    from mattinglib.losses import select_neighbors

    memory.start()
    neighbors = select_neighbors(image, kernel_size, topk, backend="numba-v1")
    result["select_memory"] = memory.peak_increase()
    select_times = _timed(repeats, lambda: select_neighbors(image, kernel_size, topk, backend="numba-v1"))
    result.update(select_times=select_times, select_time=_median(select_times))
    return {"distance": neighbors.distance.numpy(), "index": neighbors.index.numpy()}


def ddc_child(side: str, size: int, batch: int, kernel_size: int, topk: int, repeats: int,
              threads: int, seed: int, out_dir: str) -> dict:
    """Measure one side ("reference", "ours" or "previous") in this (fresh) process.

    Returns the times (s), peak memories (bytes) and loss; the large arrays (distances,
    indices, gradient) go to an ``.npz`` file in ``out_dir`` named in ``result["arrays"]``.
    """
    import torch

    from mattinglib.losses import ddc_loss_from_neighbors, select_neighbors
    from mattinglib.losses.reference import reference_alpha_differences, reference_select

    torch.set_num_threads(threads)
    image, alpha = _ddc_inputs(size, batch, seed)
    memory = PeakMemory()

    # Warm-up on a tiny input: JIT load / compile and torch's lazy initialisation, untimed.
    tiny_image, tiny_alpha = _ddc_inputs(16, 1, seed)
    tiny_alpha.requires_grad_(True)
    if side == "reference":
        d, w = reference_select(tiny_image, kernel_size, min(topk, kernel_size ** 2))
        torch.mean(torch.abs(d - reference_alpha_differences(tiny_alpha, w, kernel_size))).backward()
    elif side == "ours":
        ddc_loss_from_neighbors(tiny_alpha, select_neighbors(tiny_image, kernel_size, topk)).backward()
    else:
        select_neighbors(tiny_image, kernel_size, topk, backend="numba-v1")

    result: dict = {"side": side, "size": size}
    if side == "reference":
        arrays = _reference_side(image, alpha, kernel_size, topk, repeats, memory, result)
    elif side == "ours":
        arrays = _ours_side(image, alpha, kernel_size, topk, repeats, memory, result)
    else:
        arrays = _previous_side(image, kernel_size, topk, repeats, memory, result)
    result["memory_exact"] = memory.exact
    # Large arrays go back through a file, not the result pipe.
    result["arrays"] = str(Path(out_dir) / f"{side}_{size}.npz")
    np.savez(result["arrays"], **arrays)
    return result


def _neighbour_set_differences(index_a: np.ndarray, index_b: np.ndarray) -> int:
    """Pixels whose set of selected indices differs (order within the set ignored)."""
    return int((np.sort(index_a, axis=1) != np.sort(index_b, axis=1)).any(axis=1).sum())


def _ddc_rows(size: int, sides: dict[str, dict]) -> tuple[list[dict], dict]:
    reference, ours, previous = sides["reference"], sides["ours"], sides["previous"]
    with np.load(reference["arrays"]) as ref, np.load(ours["arrays"]) as our, np.load(previous["arrays"]) as prev:
        distance_difference = float(np.abs(ref["distance"] - our["distance"]).max())
        grad_difference = float(np.abs(ref["grad"] - our["grad"]).max() / max(np.abs(ref["grad"]).max(), 1e-30))
        previous_differences = _neighbour_set_differences(prev["index"], our["index"])
        previous_identical = bool(np.array_equal(prev["index"], our["index"])
                                  and np.array_equal(prev["distance"], our["distance"]))
    rows = []
    for key, (label, baseline_side, baseline_field, ours_field, scale, unit) in _MEASURES.items():
        baseline_value, ours_value = sides[baseline_side][baseline_field], ours[ours_field]
        value_ratio = ratio(baseline_value, ours_value)
        target = TARGETS[key]
        rows.append({"size": size, "key": key, "measure": f"{label} ({unit})",
                     "baseline_name": _BASELINE_NAMES[baseline_side], "baseline": baseline_value * scale,
                     "ours": ours_value * scale, "ratio": value_ratio, "target": target,
                     "met": None if target is None else value_ratio >= target})
    loss_difference = abs(reference["loss"] - ours["loss"])
    agreement = {"size": size, "loss_reference": reference["loss"], "loss_ours": ours["loss"],
                 "loss_difference": loss_difference, "distance_difference": distance_difference,
                 "grad_relative_difference": grad_difference,
                 "pixels_differing_from_previous": previous_differences,
                 "bit_identical_to_previous": previous_identical,
                 "met": loss_difference <= VALUE_TOLERANCE and distance_difference <= VALUE_TOLERANCE}
    return rows, agreement


def _format_ddc_table(rows: list[dict], agreements: list[dict]) -> str:
    lines = []
    for row in rows:
        target = "-" if row["target"] is None else f">= {row['target']:g}x"
        met = "" if row["met"] is None else ("met" if row["met"] else "NOT MET")
        lines.append((str(row["size"]), row["measure"], row["baseline_name"], f"{row['baseline']:.4g}",
                      f"{row['ours']:.4g}", f"{row['ratio']:.1f}x", target, met))
    for agreement in agreements:
        size = str(agreement["size"])
        lines.append((size, "|loss difference|", "release", f"{agreement['loss_reference']:.7f}",
                      f"{agreement['loss_ours']:.7f}", f"{agreement['loss_difference']:.1e}",
                      f"<= {VALUE_TOLERANCE:g}", ""))
        lines.append((size, "max |distance diff|", "release", "", "", f"{agreement['distance_difference']:.1e}",
                      f"<= {VALUE_TOLERANCE:g}", "met" if agreement["met"] else "NOT MET"))
        lines.append((size, "pixels whose neighbours differ", "previous kernel", "", "",
                      str(agreement["pixels_differing_from_previous"]), "0",
                      "bit-identical" if agreement["bit_identical_to_previous"] else "differ"))
    header = ("size", "measure", "baseline", "baseline value", "ours", "ratio", "target", "")
    return format_table(header, lines, ["rjust", "ljust", "ljust", "rjust", "rjust", "rjust", "ljust", "ljust"])


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
            sides = {side: run_in_child(context, ddc_child, side, *common, repeats, args.threads, args.seed, out_dir)
                     for side, repeats in (("reference", args.reference_repeats), ("ours", args.repeats),
                                           ("previous", args.repeats))}
            size_rows, agreement = _ddc_rows(size, sides)
            rows += size_rows
            agreements.append(agreement)
            raw += [{k: v for k, v in side.items() if k != "arrays"} for side in sides.values()]
            print(f"[{time.perf_counter() - started:.0f} s] {size} px done", file=sys.stderr, flush=True)

    settings = {"batch": args.batch, "kernel_size": args.kernel_size, "topk": args.topk, "threads": args.threads,
                "repeats": args.repeats, "reference_repeats": args.reference_repeats, "seed": args.seed,
                "dtype": "float32", "cpu_count": os.cpu_count()}
    print(f"DDC benchmark: batch {args.batch}, K {args.kernel_size}, k {args.topk}, float32 random images, "
          f"{args.threads} torch thread(s); times are wall-clock medians, ratio = baseline / ours; "
          f"baseline 'release' = the public release's naive formulation (selection inside its step), "
          f"'previous kernel' = our numba selection before this one (backend='numba-v1')")
    print(_format_ddc_table(rows, agreements))
    largest = max(args.sizes)
    for row in rows:
        if row["size"] == largest and row["target"] is not None:
            print(f"target {row['measure'].split(' (')[0]} >= {row['target']:g}x at {largest} px: "
                  f"{'met' if row['met'] else 'NOT met'} ({row['ratio']:.1f}x)")
    values_met = all(agreement["met"] for agreement in agreements)
    print(f"target values equal to {VALUE_TOLERANCE:g} (loss and selected distances, all sizes): "
          f"{'met' if values_met else 'NOT met'}")
    paid = next(row for row in rows if row["size"] == largest and row["key"] == "step_included")
    given = next(row for row in rows if row["size"] == largest and row["key"] == "step_given")
    print(f"A training step of the study pays 'selection included' (it selects in the main process, "
          f"num_workers=0): {paid['ratio']:.1f}x at {largest} px. 'Neighbours given' ({given['ratio']:.1f}x) "
          f"leaves the selection out, which only a set-up selecting elsewhere (workers, a cache) avoids paying.")
    report = {"settings": settings, "rows": rows, "agreement": agreements, "raw": raw,
              "targets_met": all(row["met"] for row in rows if row["size"] == largest and row["met"] is not None)
              and values_met}
    if args.json is not None:
        write_report(args.json, report, "ddc", args)
    return report


def print_report(report: dict) -> None:
    """Print the table of a saved report (what :func:`run_ddc` printed when it measured it)."""
    print(_format_ddc_table(report["rows"], report["agreement"]))


def add_ddc_arguments(parser: argparse.ArgumentParser) -> None:
    from mattinglib.losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK

    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512], help="square image sizes, px")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls of ours and of the previous kernel (median)")
    parser.add_argument("--reference-repeats", type=int, default=1,
                        help="timed calls of the release's formulation (median); ~25-40 s per call at 512 px")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads in each child")
    parser.add_argument("--kernel-size", type=int, default=DEFAULT_KERNEL_SIZE)
    parser.add_argument("--topk", type=int, default=DEFAULT_TOPK)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="save the numbers to this JSON file")
