"""The short GPU version of the real-image track: does it train, how fast, and is it any good?

::

    python -m mattinglib.study.gpu_check [--out DIR] [--steps N] [--profile gpu] [--data-root DIR]
        [--runs DIR] [--device cuda|cpu] [--workers N] [--max-scenes N] [--budget-s SECONDS]

For each track of the real-image study (``trimap-input``: image + trimap, 4 channels;
``image-only``: the paper's 3 channels) it trains two arms, ``known+ddc`` (the paper, lambda
from the profile: 10 at ``gpu``) and ``fine`` (the true alpha), one seed each, for ``--steps``
steps of the profile's batch at the profile's scale (:func:`~mattinglib.study.profiles.real_track_config`),
with the warm-up scaled to the shorter run (the lr milestones are fractions of the steps, so
they scale by themselves). Each network is then scored on the held-out alphamatting.com scenes
at full size given their Trimap1, over the unknown region (the benchmark's protocol) and the
whole image, next to closed-form matting and the trimap taken as alpha.

It prints one line per run (time, steps/s, SADs, elapsed time and the projected total) and
at the end a table; ``DIR/gpu_check.json`` (everything, with the torch version, the device
and each run's wall time) and ``DIR/gpu_check.csv`` (the table) are rewritten atomically after
every run, so a check stopped at a time limit still leaves the runs it finished
(``"complete": false`` until the last one).

Steps stay fixed for every run, so the four runs compare: when the projected total exceeds
``--budget-s`` that is reported, not acted on.

Sizing. The default 400 steps at ``gpu`` are sized from CPU measurements, not from a run on
the H200: at 512 px one training item costs about 0.04 s of one core (``fine``) and 0.10 s
(``known+ddc``, whose DDC neighbours are selected on the CPU in the DataLoader workers), so with
the profile's 8 workers the ``known+ddc`` arms are data-bound near 4-5 steps/s and ``fine`` near
10; with start-up, foreground estimation and closed-form matting that puts the check near
7 minutes. The projection printed after the first run is the measurement.

Runs train into :func:`~mattinglib.study.grid.run_dir` folders under ``--runs`` (default
``$MATTINGLIB_RUNS`` or ``runs/``, then the profile's name), the folders
:func:`~mattinglib.study.grid.run_grid` would use for the same configs: a finished run is
reused (marked ``reused``; its steps/s is then unknown), an interrupted one resumed. The
networks are scored on the device they trained on (``run_grid`` reloads them onto the CPU,
slow for a width-64 U-Net on full-size scenes), with the same :func:`~mattinglib.evaluate.evaluate`.

Nothing is downloaded: the scenes must be under ``$MATTINGLIB_DATA/alphamatting-lowres``
(or ``--data-root DIR``), and the background photographs are the bundled ones.

Exit status: 0 when every run finished; 2 when CUDA is asked for and not available (the
``gpu`` profile's device; ``--device cpu`` or ``--profile smoke`` test the plumbing on a CPU)
or on bad usage; 3 when the scenes are missing.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mattinglib.atomic import atomic_path, atomic_write_text
from mattinglib.data.alphamatting import SUBFOLDER
from mattinglib.environment import DATA_ENV, data_root_from_env
from mattinglib.study.profiles import PROFILES, real_track_config

#: The tracks and arms, in the order they train. known+ddc first: it is the slower arm, so the
#: projection made after the first run is an upper bound rather than a hope.
TRACKS = ("trimap-input", "image-only")
ARMS = ("known+ddc", "fine")
#: The classical methods scored next to the networks, as :func:`score_baselines` names them.
CLASSICAL = {"trimap as alpha": "trimap", "closed-form": "closed-form"}
PROTOCOLS = ("unknown", "whole")
#: Steps per run at the ``gpu`` profile (see the module docstring); other profiles default to their own.
GPU_STEPS = 400
BUDGET_S = 450.0
EXIT_NO_CUDA = 2
EXIT_NO_DATA = 3


class ChecksFailed(Exception):
    """A precondition of the check is not met; the message is the one line to print."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mattinglib.study.gpu_check",
        description="Train known+ddc and fine on both real-image tracks for a few steps and score the held-out "
                    "scenes next to closed-form matting.")
    parser.add_argument("--out", default="gpu_check_out", metavar="DIR", help="folder of gpu_check.json / .csv (default %(default)s)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"steps per run (default {GPU_STEPS} at the gpu profile, the profile's own otherwise)")
    parser.add_argument("--profile", default="gpu", choices=PROFILES, help="scale of the runs (default %(default)s)")
    parser.add_argument("--data-root", default=None, metavar="DIR",
                        help=f"folder holding {SUBFOLDER}/ (default ${DATA_ENV})")
    parser.add_argument("--runs", default=None, metavar="DIR",
                        help="runs go to DIR/<profile>/ (DIR default $MATTINGLIB_RUNS or runs/)")
    parser.add_argument("--device", default=None, help="torch device (default the profile's: cuda at gpu)")
    parser.add_argument("--workers", type=int, default=None,
                        help="DataLoader workers (default the profile's: 8 at gpu); does not change the numbers")
    parser.add_argument("--max-scenes", type=int, default=None, help="score only the first N held-out scenes")
    parser.add_argument("--budget-s", type=float, default=BUDGET_S,
                        help="seconds the whole check should take; only reported against (default %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the check on ``argv``; returns the exit status (a failed precondition is one line on stderr)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2), already printed
        return stop.code if isinstance(stop.code, int) else 0
    try:
        return run_check(args)
    except ChecksFailed as failure:
        status, text = failure.args
        print(f"gpu_check: {text}", file=sys.stderr)
        return status


def run_check(args: argparse.Namespace) -> int:
    """The whole check: preconditions, classical baselines, the four runs, the table."""
    started = time.perf_counter()
    probe = real_track_config(args.profile, TRACKS[0])
    device = args.device or probe.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ChecksFailed(EXIT_NO_CUDA, f"CUDA is not available (torch {torch.__version__}, built for CUDA "
                                         f"{torch.version.cuda}): run this on a GPU machine, or pass --device cpu "
                                         "or --profile smoke to test the plumbing on a CPU")
    data_root = _scene_data_root(args.data_root)
    steps = args.steps if args.steps is not None else (GPU_STEPS if args.profile == "gpu" else probe.steps)
    if steps < 1:
        raise ChecksFailed(2, f"--steps must be >= 1, got {steps}")
    # The warm-up keeps its share of the profile's schedule (250 of 5,625 steps at gpu).
    warmup = max(1, round(probe.warmup_steps * steps / probe.steps))
    changes = dict(steps=steps, warmup_steps=warmup, device=device, data_root=str(data_root))
    if args.workers is not None:
        changes["num_workers"] = args.workers

    from mattinglib.study.evalsets import real_scene_sets, runs_root
    from mattinglib.study.grid import score_baselines

    test_sets = real_scene_sets(str(data_root), download=False, split="test", trimaps=("Trimap1",),
                                max_scenes=args.max_scenes)
    if not test_sets:  # real_scene_sets printed why
        raise ChecksFailed(EXIT_NO_DATA, f"the held-out scenes under {data_root / SUBFOLDER} cannot be read: "
                                         f"set {DATA_ENV} to the folder holding {SUBFOLDER}/ (nothing is "
                                         "downloaded)")
    (set_name, scenes), = test_sets.items()
    root = runs_root(args.profile, args.runs)
    report = _header(args, device, steps, warmup, set_name, scenes, root,
                     real_track_config(args.profile, TRACKS[0], **changes))
    out = Path(args.out)
    print(f"gpu_check: {args.profile} profile on {report['device_name']} (torch {torch.__version__}); "
          f"{len(TRACKS) * len(ARMS)} runs of {steps} steps (warm-up {warmup}), batch {probe.batch_size}, "
          f"{probe.crop_size} px crops; scored on {set_name}: {', '.join(scenes.scene_names)}; runs in {root}, "
          f"results in {out}", flush=True)

    tick = time.perf_counter()
    baselines = score_baselines(test_sets, methods=CLASSICAL, protocols=PROTOCOLS)
    report["classical_s"] = round(time.perf_counter() - tick, 1)
    rows = [_classical_row(baselines.runs, name) for name in CLASSICAL]
    images = [baselines.images]
    closed_form = rows[list(CLASSICAL).index("closed-form")]["unknown_sad"]
    for row in rows:
        row["unknown_vs_closed_form"] = row["unknown_sad"] / closed_form
    print(f"classical, {report['classical_s']:.0f} s: " + ", ".join(
        f"{row['arm']} unknown SAD {row['unknown_sad']:.2f}, whole {row['whole_sad']:.2f}" for row in rows), flush=True)
    _write(out, report, rows, images)

    # The DDC neighbours are selected by a numba kernel in the DataLoader workers: compiled here once,
    # the forked workers inherit it instead of each compiling it again in every run.
    from mattinglib.losses import select_neighbors
    select_neighbors(torch.zeros(3, 32, 32), probe.kernel_size, probe.topk)

    plan = [(track, arm) for track in TRACKS for arm in ARMS]
    for number, (track, arm) in enumerate(plan, 1):
        config = real_track_config(args.profile, track, supervision=arm, seed=0, **changes)
        row, per_image = _train_and_score(config, track, arm, root, test_sets)
        row["unknown_vs_closed_form"] = row["unknown_sad"] / closed_form
        rows.append(row)
        images.append(per_image)
        elapsed = time.perf_counter() - started
        remaining = _remaining_s(rows, plan[number:])
        projected = elapsed + remaining
        report |= {"wall_s": round(elapsed, 1), "projected_total_s": round(projected, 1)}
        over = " OVER BUDGET (steps stay fixed so that the runs compare)" if projected > args.budget_s else ""
        speed = ("reused" if row["reused"] else "steps/s unknown: too few steps" if row["steps_per_second"] is None
                 else f"{row['steps_per_second']:.2f} steps/s")
        print(f"[{number}/{len(plan)}] {track} {arm}: {'loaded' if row['reused'] else 'trained'} in "
              f"{row['train_s']:.0f} s ({speed}), scored in "
              f"{row['score_s']:.0f} s; unknown SAD {row['unknown_sad']:.2f} ({row['unknown_vs_closed_form']:.2f} x "
              f"closed-form), whole {row['whole_sad']:.2f}; elapsed {elapsed:.0f} s, about {remaining:.0f} s to go, "
              f"projected total {projected:.0f} s of a {args.budget_s:.0f} s budget{over}", flush=True)
        _write(out, report, rows, images)

    report |= {"complete": True, "wall_s": round(time.perf_counter() - started, 1)}
    _write(out, report, rows, images)
    print()
    print(format_table(rows, set_name))
    print(f"\ngpu_check: done in {report['wall_s']:.0f} s; wrote {out / 'gpu_check.json'} and {out / 'gpu_check.csv'}")
    return 0


def _scene_data_root(explicit: str | None) -> Path:
    """The folder holding ``alphamatting-lowres/``: ``explicit``, else ``$MATTINGLIB_DATA``.

    Checked here, in one line, before anything trains: the training foregrounds and the
    held-out scenes both come from it, and nothing may be downloaded.
    """
    base = Path(explicit) if explicit else data_root_from_env()
    if base is None:
        raise ChecksFailed(EXIT_NO_DATA, f"{DATA_ENV} is not set: set it to the folder holding {SUBFOLDER}/ "
                                         "(or pass --data-root DIR); nothing is downloaded")
    if not (base / SUBFOLDER).is_dir():
        raise ChecksFailed(EXIT_NO_DATA, f"{base / SUBFOLDER} does not exist: copy the alphamatting.com scenes "
                                         f"there, or set {DATA_ENV} (--data-root) to the folder holding "
                                         f"{SUBFOLDER}/; nothing is downloaded")
    return base


def _header(args, device: str, steps: int, warmup: int, set_name: str, scenes, root: Path, config) -> dict:
    """What the JSON says about the machine and the set-up, before any run."""
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else (platform.processor() or "cpu")
    return {
        "check": "mattinglib.study.gpu_check", "complete": False, "profile": args.profile,
        "torch": torch.__version__, "torch_cuda": torch.version.cuda, "python": platform.python_version(),
        "device": device, "device_name": name,
        "cpu_count": os.cpu_count(), "workers": config.num_workers, "steps": steps, "warmup_steps": warmup,
        "lr_milestones": list(config.lr_milestones), "batch_size": config.batch_size, "crop_size": config.crop_size,
        "image_size": config.image_size, "model": config.model, "model_width": config.model_width, "lr": config.lr,
        "ddc_weight": config.ddc_weight, "seed": 0, "eval_set": set_name, "scenes": list(scenes.scene_names),
        "protocols": list(PROTOCOLS), "sad_unit": "sum of |alpha error| / 1000, mean over the scenes",
        "runs_root": str(root), "budget_s": args.budget_s, "classical_s": None, "wall_s": None,
        "projected_total_s": None,
    }


def _classical_row(runs: pd.DataFrame, name: str) -> dict:
    sad = runs[runs["variant"] == name].set_index("protocol")["sad"]
    return {"track": "(classical)", "arm": name, "steps": None, "steps_per_second": None, "train_s": None,
            "score_s": None, "unknown_sad": float(sad["unknown"]), "whole_sad": float(sad["whole"]),
            "unknown_vs_closed_form": None, "reused": None, "run_dir": None}


def _train_and_score(config, track: str, arm: str, root: Path, test_sets: dict) -> tuple[dict, pd.DataFrame]:
    """Train one run into its run_dir folder and score it on the held-out scenes, timing both."""
    from mattinglib.evaluate import evaluate_protocols
    from mattinglib.study.grid import run_dir
    from mattinglib.train import CHECKPOINT, checkpoint_step, train

    config = config.replace(out_dir=str(run_dir(root, config)))
    reused = checkpoint_step(Path(config.out_dir) / CHECKPOINT) == config.steps
    tick = time.perf_counter()
    result = train(config)
    train_s = time.perf_counter() - tick
    tick = time.perf_counter()
    # The model stays on the device it trained on: scoring full-size scenes is quick there.
    sad, per_image = {}, []
    for set_name, dataset in test_sets.items():
        for protocol, evaluation in evaluate_protocols(result.model, dataset, PROTOCOLS).items():
            sad[protocol] = float(evaluation.mean["sad"])
            per_image.append(evaluation.per_image.assign(
                variant=f"{track} {arm}", seed=config.seed, eval_set=set_name, protocol=protocol,
                image=range(len(evaluation.per_image))))
    score_s = time.perf_counter() - tick
    speed = result.steps_per_second
    row = {"track": track, "arm": arm, "steps": config.steps,
           "steps_per_second": None if reused or math.isnan(speed) else round(speed, 3),
           "train_s": round(train_s, 1), "score_s": round(score_s, 1), "unknown_sad": sad["unknown"],
           "whole_sad": sad["whole"], "reused": reused, "run_dir": config.out_dir}
    return row, pd.concat(per_image, ignore_index=True)


def _remaining_s(rows: list[dict], left: list[tuple[str, str]]) -> float:
    """Seconds the runs ``left`` should take: each arm's mean so far, else the mean of every run so far."""
    done = [row for row in rows if row["train_s"] is not None]
    if not done:
        return 0.0
    every = sum(row["train_s"] + row["score_s"] for row in done) / len(done)
    total = 0.0
    for _, arm in left:
        same = [row["train_s"] + row["score_s"] for row in done if row["arm"] == arm]
        total += sum(same) / len(same) if same else every
    return total


def format_table(rows: list[dict], set_name: str) -> str:
    """The printed table: one line per run and per classical method, SAD in thousands."""
    table = pd.DataFrame(rows)[["track", "arm", "steps", "steps_per_second", "train_s", "unknown_sad", "whole_sad",
                                "unknown_vs_closed_form"]]
    table.columns = ["track", "arm", "steps", "steps/s", "train s", "unknown SAD", "whole SAD", "x closed-form"]
    table = table.astype(object).where(table.notna(), "")
    for column, digits in (("steps/s", 2), ("train s", 0), ("unknown SAD", 2), ("whole SAD", 2), ("x closed-form", 2)):
        table[column] = [f"{value:.{digits}f}" if value != "" else "" for value in table[column]]
    table["steps"] = [str(int(value)) if value != "" else "" for value in table["steps"]]
    return (f"{set_name}, full size; SAD = sum |alpha error| / 1000, mean over the scenes; "
            f"x closed-form = unknown SAD / closed-form's\n" + table.to_string(index=False))


def _write(out: Path, report: dict, rows: list[dict], images: list[pd.DataFrame]) -> None:
    """Rewrite gpu_check.json and gpu_check.csv atomically (a reader never sees half a file)."""
    per_image = pd.concat(images, ignore_index=True)
    first = ["variant", "seed", "eval_set", "protocol", "image", "name"]
    per_image = per_image[first + [c for c in per_image.columns if c not in first]]
    document = report | {"rows": rows, "per_image": per_image.to_dict(orient="records")}
    atomic_write_text(out / "gpu_check.json", json.dumps(_json_safe(document), indent=2) + "\n")
    table = pd.DataFrame(rows).astype({"steps": "Int64"})  # the classical rows have no steps: blank, not 2.0
    with atomic_path(out / "gpu_check.csv") as tmp:
        table.to_csv(tmp, index=False)


def _json_safe(value):
    """NaN and infinities as null: strict JSON readers reject them."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _json_safe(value.item())
    return value


if __name__ == "__main__":
    sys.exit(main())
