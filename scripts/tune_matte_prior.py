"""Choose the defaults of ``matte --method ddc-prior``: its unknown-region SAD against closed-form's.

Scores closed-form matting and the DDC prior (:func:`mattinglib.matte.ddc_prior_alpha`) at a
few settings on alphamatting.com training scenes at full size, under the study's
unknown-region protocol (:func:`mattinglib.metrics.matting_metrics` with
``region="unknown"``, as :func:`mattinglib.evaluate.evaluate` scores ``--protocol unknown``),
and prints one table: SAD per scene, the mean, its ratio to closed-form's mean, and seconds
per image. The study's held-out test scenes (:data:`TEST_SCENES`) are refused: the defaults
must not be tuned on them.

Settings with a constant learning rate and one level are run once for their largest step
count and read at the smaller ones on the way (the first ``n`` steps of a longer run are the
run of ``n`` steps); the others are run once per step count.

Usage (the numbers in mattinglib/matte.py come from this command; the grids can also be run
apart (``--grid plain improved``, ``--grid neighbourhood``, ``--grid wide``, ``--grid constant``), and their CSVs printed as one
table with ``--table a.csv b.csv``)::

    .venv/bin/python scripts/tune_matte_prior.py --scenes GT01 GT02 GT03 GT04 --csv tune.csv
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mattinglib.baselines import baseline_predictor
from mattinglib.build import scene_splits
from mattinglib.data.alphamatting import SUBFOLDER
from mattinglib.environment import data_root_from_env
from mattinglib.io import read_alpha, read_image, read_trimap
from mattinglib.matte import ddc_prior_alpha
from mattinglib.metrics import matting_metrics

#: The study's held-out real scenes (never tune on these): the test split of the 27 scenes.
TEST_SCENES = tuple(scene_splits([f"GT{number:02d}" for number in range(1, 28)])["test"])

#: Plain optimisation (one level, constant lr): (weight, lr), each read at these step counts.
PLAIN = [(1.0, 0.1), (3.0, 0.1), (10.0, 0.1), (3.0, 0.05), (3.0, 0.3)]
PLAIN_STEPS = (300, 600, 1000)
#: Cheap improvements that keep the objective: coarse to fine (levels, coarse steps per
#: level), a cosine decay of lr to final_lr * lr.
IMPROVED = [
    dict(weight=3.0, lr=0.1, levels=3, coarse_steps=300, steps=300, final_lr=1.0),
    dict(weight=3.0, lr=0.1, levels=3, coarse_steps=300, steps=300, final_lr=0.05),
    dict(weight=3.0, lr=0.1, levels=3, coarse_steps=300, steps=600, final_lr=0.05),
    dict(weight=1.0, lr=0.1, levels=3, coarse_steps=300, steps=300, final_lr=0.05),
    dict(weight=10.0, lr=0.1, levels=3, coarse_steps=300, steps=300, final_lr=0.05),
]
#: Second round, after the first showed weight 1 and lr 0.3 best and (on GT01) a wider window
#: helping: the neighbourhood K x K, k, on the best coarse-to-fine schedule.
NEIGHBOURHOOD = [
    dict(weight=1.0, lr=0.3, levels=3, coarse_steps=300, steps=300, final_lr=0.05, kernel_size=kernel, topk=topk)
    for kernel, topk in ((11, 11), (15, 15), (21, 11), (21, 21))
]
#: Third round, after the second showed the window K (not the count k) to matter: wider windows.
WIDE = [
    dict(weight=1.0, lr=0.3, levels=3, coarse_steps=300, steps=300, final_lr=0.05, kernel_size=kernel, topk=11)
    for kernel in (31, 41)
]
#: Fourth round, after the first's coarse-to-fine rows showed the cosine decay to hurt on every
#: scene: the widest window with a constant lr.
CONSTANT = [
    dict(weight=1.0, lr=lr, levels=3, coarse_steps=300, steps=300, final_lr=1.0, kernel_size=41, topk=11)
    for lr in (0.3, 0.1)
]
GRIDS = ("plain", "improved", "neighbourhood", "wide", "constant")


def default_root() -> Path:
    """``$MATTINGLIB_DATA/alphamatting-lowres``, else ``../shared/data/alphamatting-lowres`` beside the repository."""
    base = data_root_from_env() or Path(__file__).resolve().parents[2] / "shared" / "data"
    return base / SUBFOLDER


def label(setting: dict) -> str:
    text = f"w {setting['weight']:g}, lr {setting['lr']:g}, {setting['steps']} steps"
    if setting.get("levels", 1) > 1:
        text += f", {setting['levels']} levels ({setting['coarse_steps']} coarse steps each)"
    if setting.get("final_lr", 1.0) != 1.0:
        text += f", cosine to {setting['final_lr']:g} lr"
    if "kernel_size" in setting:
        text += f", K {setting['kernel_size']} k {setting['topk']}"
    return text


def unknown_sad(pred: np.ndarray, alpha: np.ndarray, trimap: np.ndarray) -> float:
    pred = np.clip(np.asarray(pred, dtype=np.float64), 0.0, 1.0)
    return matting_metrics(pred, alpha, trimap, region="unknown")["sad"]


def run_plain(image, alpha, trimap, weight: float, lr: float, counts) -> list[dict]:
    """One run of max(counts) steps, read at every count; rows with SAD and elapsed seconds."""
    rows, start = [], time.perf_counter()
    wanted = set(counts)

    def on_step(done, total, logits):
        if done in wanted:
            pred = torch.sigmoid(logits)[0, 0].double().numpy()
            rows.append(dict(weight=weight, lr=lr, levels=1, coarse_steps=0, steps=done, final_lr=1.0,
                             sad=unknown_sad(pred, alpha, trimap), seconds=time.perf_counter() - start))

    ddc_prior_alpha(image, trimap, weight=weight, steps=max(counts), lr=lr, levels=1, final_lr=1.0, on_step=on_step)
    return rows


def run_one(image, alpha, trimap, setting: dict) -> dict:
    start = time.perf_counter()
    pred = ddc_prior_alpha(image, trimap, **setting)
    return setting | dict(sad=unknown_sad(pred, alpha, trimap), seconds=time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=default_root(), help="alphamatting-lowres folder")
    parser.add_argument("--scenes", nargs="+", default=["GT01", "GT02", "GT03", "GT04"])
    parser.add_argument("--trimap", default="Trimap1", choices=["Trimap1", "Trimap2"])
    parser.add_argument("--grid", nargs="+", default=list(GRIDS), choices=GRIDS,
                        help="which settings to run (default: all)")
    parser.add_argument("--table", nargs="+", type=Path, metavar="CSV",
                        help="print the table of earlier runs' --csv files (concatenated) instead of running")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (timings are for this many)")
    parser.add_argument("--csv", type=Path, help="also write the per-scene rows here")
    args = parser.parse_args(argv)
    held_out = sorted(set(args.scenes) & set(TEST_SCENES))
    if held_out:
        parser.error(f"{', '.join(held_out)}: held-out test scenes of the study; tune on other scenes")
    torch.set_num_threads(args.threads)
    if args.table:
        print_table(pd.concat([pd.read_csv(path) for path in args.table]), args)
        return 0

    rows = []
    for scene in args.scenes:
        image = read_image(args.root / "input_training_lowres" / f"{scene}.png").astype(np.float64)
        alpha = read_alpha(args.root / "gt_training_lowres" / f"{scene}.png").astype(np.float64)
        trimap = read_trimap(args.root / "trimap_training_lowres" / args.trimap / f"{scene}.png").astype(np.float64)
        start = time.perf_counter()
        pred = baseline_predictor("closed-form")(image, trimap)
        rows.append(dict(scene=scene, setting="closed-form", sad=unknown_sad(pred, alpha, trimap),
                         seconds=time.perf_counter() - start))
        print(f"{scene}: closed-form {rows[-1]['sad']:.4f} ({rows[-1]['seconds']:.1f} s)", file=sys.stderr, flush=True)
        found = []
        if "plain" in args.grid:
            for weight, lr in PLAIN:
                found += run_plain(image, alpha, trimap, weight, lr, PLAIN_STEPS)
        if "improved" in args.grid:
            found += [run_one(image, alpha, trimap, setting) for setting in IMPROVED]
        if "neighbourhood" in args.grid:
            found += [run_one(image, alpha, trimap, setting) for setting in NEIGHBOURHOOD]
        if "wide" in args.grid:
            found += [run_one(image, alpha, trimap, setting) for setting in WIDE]
        if "constant" in args.grid:
            found += [run_one(image, alpha, trimap, setting) for setting in CONSTANT]
        for row in found:
            rows.append(dict(scene=scene, setting=label(row), sad=row["sad"], seconds=row["seconds"]))
            print(f"{scene}: {rows[-1]['setting']}: {row['sad']:.4f} ({row['seconds']:.1f} s)", file=sys.stderr,
                  flush=True)

    table = pd.DataFrame(rows)
    if args.csv:
        table.to_csv(args.csv, index=False)
    print_table(table, args)
    return 0


def print_table(table: pd.DataFrame, args) -> None:
    """SAD per scene and setting, the mean, its ratio to closed-form's, seconds per image and per MP."""
    # A setting measured in two runs (closed-form, in every run) counts once per scene: the first.
    table = table.drop_duplicates(subset=["scene", "setting"])
    wide = table.pivot_table(index="setting", columns="scene", values="sad", sort=False)
    wide["mean SAD"] = wide[args.scenes].mean(axis=1)
    wide["x closed-form"] = wide["mean SAD"] / wide.loc["closed-form", "mean SAD"]
    wide["worst scene x cf"] = (wide[args.scenes] / wide.loc["closed-form", args.scenes]).max(axis=1)
    wide["s / image"] = table.groupby("setting", sort=False)["seconds"].mean()
    megapixels = np.mean([np.prod(read_trimap(args.root / "trimap_training_lowres" / args.trimap / f"{s}.png").shape)
                          for s in args.scenes]) / 1e6
    wide["s / MP"] = wide["s / image"] / megapixels
    print(f"\nUnknown-region SAD (/1000), alphamatting.com {args.trimap}, full size, scenes {' '.join(args.scenes)}; "
          f"{args.threads} torch thread(s)")
    print(wide.to_markdown(floatfmt=".4g") if _has_tabulate() else wide.to_string(float_format="%.4g"))


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
