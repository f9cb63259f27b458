"""Grids of training runs: one base config, a list of variants, several seeds.

The network experiments of the study (supervision modes, neighbourhood sizes, label types)
are each a grid. Every run trains into its own folder under ``root`` and is resumed or reused
when that folder already holds a finished run, so rerunning a notebook only trains what is
missing, and an interrupted grid continues where it stopped.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from .config import TrainConfig
from .evaluate import evaluate
from .train import train


def run_name(variant: str, seed: int) -> str:
    """Folder name of one run: the variant's name made path-safe, then the seed."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in variant)
    return f"{safe}__seed{seed}"


def run_grid(base: TrainConfig, variants: dict[str, dict], seeds: list[int], root: str | Path,
             eval_sets: dict[str, object] | None = None, protocols: tuple[str, ...] = ("whole", "unknown"),
             progress: bool = True) -> pd.DataFrame:
    """Train every (variant, seed) and score each final model on every evaluation set.

    Parameters
    ----------
    base : TrainConfig
        Shared settings; ``out_dir`` and ``seed`` are set per run.
    variants : dict of str to dict
        Name -> config changes, e.g. ``{"fine": {"supervision": "fine"}, ...}``.
    seeds : list of int
    root : path
        Runs go to ``root/<variant>__seed<seed>/`` (see :func:`run_name`).
    eval_sets : dict of str to dataset, optional
        Name -> dataset of sample dicts with alpha. Default: each run's own held-out set.
    protocols : tuple of {"whole", "unknown"}

    Returns
    -------
    DataFrame
        One row per (variant, seed, eval set, protocol) with the mean metrics of that run.
    """
    rows = []
    total = len(variants) * len(seeds)
    bar = tqdm(total=total, desc="runs", disable=not progress)
    for variant, changes in variants.items():
        for seed in seeds:
            config = base.replace(**changes, seed=seed, out_dir=str(Path(root) / run_name(variant, seed)),
                                  progress=False)
            result = train(config)  # resumes, or returns at once when the run is complete
            sets = eval_sets if eval_sets is not None else {"held-out": _own_test_set(config)}
            for set_name, dataset in sets.items():
                for protocol in protocols:
                    mean = evaluate(result.model, dataset, protocol).mean
                    rows.append({"variant": variant, "seed": seed, "eval_set": set_name, "protocol": protocol}
                                | mean.to_dict())
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)


def _own_test_set(config: TrainConfig):
    from .experiment import build_datasets
    test = build_datasets(config)[1]
    if test is None:
        raise ValueError(f"the runs of dataset {config.dataset!r} have no held-out set: pass eval_sets")
    return test
