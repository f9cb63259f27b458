"""Grids of training runs: one base config, a list of variants, several seeds.

The network experiments of the study (supervision modes, neighbourhood sizes, label types)
are each a grid. Every run trains into a folder named after its config (:func:`run_dir`)
and is resumed or reused when that folder already holds a finished run, so rerunning a
notebook only trains what is missing, an interrupted grid continues where it stopped, and
notebooks that share a root share the runs they have in common (the fine-label baseline of
notebook 10 is the one notebooks 30 and 40 compare against). A run's scores are kept in its
folder too (:mod:`mattinglib.study.score_cache`, keyed by its weights, the evaluation set, the
scoring code and the protocol), so a rerun after an edit that leaves scoring alone predicts
nothing; each network predicts each image once for all the protocols.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import torch
from tqdm.auto import tqdm

from mattinglib.build import build_held_out_set
from mattinglib.config import TrainConfig
from mattinglib.study.score_cache import (SCORES_FOLDER, ScoreCache, dataset_digest, evaluate_cached,
                                          network_scoring_code, scoring_code_digest, weights_digest)
from mattinglib.train import CHECKPOINT, checkpoint_step, export_model, load_model, train


#: The folder of a runs root that holds the classical methods' scores (:func:`score_baselines`).
BASELINE_SCORES = "baselines"


def run_dir(root: str | Path, config: TrainConfig) -> Path:
    """Folder of the run ``config`` describes: ``root/<supervision>-<seed>-<digest>``.

    The digest (12 hex digits of a SHA-256) covers every config key that changes the
    numbers (:meth:`~mattinglib.config.TrainConfig.identity`), so two grids asking for the
    same run get the same folder, and a changed setting can never resume an unrelated run.
    """
    digest = hashlib.sha256(json.dumps(config.identity(), sort_keys=True).encode()).hexdigest()[:12]
    return Path(root) / f"{config.supervision}-seed{config.seed}-{digest}"


class GridScores(NamedTuple):
    """What :func:`run_grid` returns with ``per_image=True``."""

    runs: pd.DataFrame    # one row per (variant, seed, eval set, protocol): the run's mean metrics
    images: pd.DataFrame  # one row per (variant, seed, eval set, protocol, image): for paired statistics


def run_grid(base: TrainConfig, variants: dict[str, dict], seeds: list[int], root: str | Path,
             eval_sets: dict[str, object] | None = None, protocols: tuple[str, ...] = ("whole", "unknown"),
             progress: bool = True, jobs: int = 1, per_image: bool = False) -> pd.DataFrame | GridScores:
    """Train every (variant, seed) and score each final model on every evaluation set.

    Parameters
    ----------
    base : TrainConfig
        Shared settings; ``out_dir`` and ``seed`` are set per run.
    variants : dict of str to dict
        Name -> config changes, e.g. ``{"fine": {"supervision": "fine"}, ...}``.
    seeds : list of int
    root : path
        Runs go to :func:`run_dir` ``(root, config)``; roots may be shared between grids.
    eval_sets : dict of str to dataset, optional
        Name -> dataset of sample dicts with alpha. Default: each run's own held-out set.
    protocols : tuple of {"whole", "unknown"}
    jobs : int
        Runs trained at once, each in its own process with ``base.threads // jobs`` threads
        (at least 1). On 2 cores two one-thread runs of a small model train ~30 % faster than
        one run after the other with two threads. A run's numbers depend on its thread count
        (float reductions), not on which runs share the machine.
    per_image : bool
        Also return every image's scores (:class:`GridScores`), which paired comparisons need.

    Returns
    -------
    DataFrame, or GridScores when ``per_image``
        One row per (variant, seed, eval set, protocol) with the mean metrics of that run and
        its ``run_dir`` (its ``checkpoint.pt`` loads with :func:`mattinglib.checkpoints.load_model`).
        Scores a run's ``scores/`` folder holds for the same weights, set, scoring code and
        protocol are read from there (:mod:`mattinglib.study.score_cache`), equal bit for bit.
    """
    configs = {}
    for variant, changes in variants.items():
        for seed in seeds:
            config = _with_threads(base.replace(**changes, seed=seed, progress=False), jobs)
            configs[variant, seed] = config.replace(out_dir=str(run_dir(root, config)))
    if jobs > 1:
        # Two variants may name the same run (window 11 with k = 11 is both the default window
        # and the default k): train each folder once.
        _train_in_processes(list({c.out_dir: c for c in configs.values()}.values()), jobs, progress)
    rows, image_rows = [], []
    set_digests, codes = {}, {}  # of the shared evaluation sets and per network module: taken once
    bar = tqdm(total=len(configs), desc="runs" if jobs == 1 else "scoring", disable=not progress)
    for (variant, seed), config in configs.items():
        model = _finished_model(config)
        torch.set_num_threads(base.threads)  # score with every thread the base config grants
        module = type(model).__module__
        codes[module] = codes.get(module) or network_scoring_code(model)
        cache = ScoreCache(Path(config.out_dir) / SCORES_FOLDER, {"weights": weights_digest(model)}, codes[module])
        sets = eval_sets if eval_sets is not None else {"held-out": _own_test_set(config)}
        for set_name, dataset in sets.items():
            if eval_sets is None or set_name not in set_digests:
                set_digests[set_name] = dataset_digest(dataset)
            evaluations = evaluate_cached(model, dataset, protocols, cache, set_digests[set_name])
            for protocol in protocols:
                evaluation = evaluations[protocol]
                key = {"variant": variant, "seed": seed, "eval_set": set_name, "protocol": protocol}
                rows.append(key | evaluation.mean.to_dict() | {"run_dir": config.out_dir})
                if per_image:
                    # "image" is the position in the set: names may repeat (a scene over several backgrounds).
                    image_rows.append(evaluation.per_image.assign(image=range(len(evaluation.per_image)), **key))
        bar.update(1)
    bar.close()
    if not per_image:
        return pd.DataFrame(rows)
    images = pd.concat(image_rows, ignore_index=True)
    first = ["variant", "seed", "eval_set", "protocol", "image", "name"]
    return GridScores(pd.DataFrame(rows), images[first + [c for c in images.columns if c not in first]])


def runs_of_seed(scores: pd.DataFrame, seed: int) -> dict[str, Path]:
    """Variant -> run folder of its run with ``seed``, from :func:`run_grid`'s per-run scores."""
    rows = scores[scores["seed"] == seed].drop_duplicates("variant")
    if rows.empty:
        raise ValueError(f"no run with seed {seed} among the scores (seeds: {sorted(scores['seed'].unique())})")
    return {variant: Path(folder) for variant, folder in zip(rows["variant"], rows["run_dir"])}


def export_checkpoints(run_dirs: dict[str, Path], folder: str | Path, precision: str = "float32") -> pd.DataFrame:
    """Export each run's network (:func:`mattinglib.train.export_model`, weights in ``precision``) as
    ``folder/<variant>.pt`` ("+" written "_"), for users to try.

    Returns
    -------
    DataFrame
        One row per variant: ``arm``, ``file`` (name), ``MB`` (size, two decimals).
    """
    rows = []
    for variant, run in run_dirs.items():
        path = export_model(Path(run) / CHECKPOINT, Path(folder) / f"{variant.replace('+', '_')}.pt", precision)
        rows.append({"arm": variant, "file": path.name, "MB": round(path.stat().st_size / 1e6, 2)})
    return pd.DataFrame(rows)


def _finished_model(config: TrainConfig) -> torch.nn.Module:
    """The trained network of a run: loaded when its last step is saved, else trained (resumed) first."""
    checkpoint = Path(config.out_dir) / CHECKPOINT
    if checkpoint_step(checkpoint) != config.steps:
        train(config)
    return load_model(checkpoint)


def _with_threads(config: TrainConfig, jobs: int) -> TrainConfig:
    return config if jobs == 1 else config.replace(threads=max(1, config.threads // jobs))


def _train_in_processes(configs: list[TrainConfig], jobs: int, progress: bool) -> None:
    """Train ``configs`` with ``jobs`` worker processes (spawned: forking a process that has
    started torch's thread pools can deadlock)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_train_quietly, c.to_dict()): c.out_dir for c in configs}
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"training ({jobs} at once)",
                           disable=not progress):
            future.result()  # re-raises a failed run's error (TrainingDiverged names its checkpoint)


def _train_quietly(config: dict) -> str:
    train(config)
    return config["out_dir"]


def _own_test_set(config: TrainConfig):
    test = build_held_out_set(config)
    if test is None:
        raise ValueError(f"the runs of dataset {config.dataset!r} have no held-out set: pass eval_sets")
    return test


def score_baselines(eval_sets: dict[str, object], methods: dict[str, str] | None = None,
                    protocols: tuple[str, ...] = ("whole", "unknown"), seed: int = 0,
                    runs_root: str | Path | None = None) -> GridScores:
    """Score classical predictors given the test trimap on every evaluation set, like :func:`run_grid`.

    Parameters
    ----------
    methods : dict of str to str
        Row name (``variant``) -> method of :mod:`mattinglib.baselines`, or ``"ddc-prior"``
        (:func:`mattinglib.matte.matte_predictor`: DDC optimised per image). Default:
        ``{"trimap as alpha": "trimap", "closed-form": "closed-form"}``: the floor a network
        must beat and the classical matte it should come near (the competence gates).
    seed : int
        The ``seed`` value of their rows (they are deterministic).
    runs_root : path, optional
        The runs' root (as for :func:`run_grid`): the scores are kept in its
        :data:`BASELINE_SCORES` folder (:class:`~mattinglib.study.score_cache.ScoreCache`, keyed
        by the method, the set, the method's scoring code and the protocol), and a rerun reads
        them back instead of solving every image again. None: nothing is kept.
    """
    from mattinglib.baselines import baseline_predictor
    from mattinglib.matte import matte_predictor

    methods = methods or {"trimap as alpha": "trimap", "closed-form": "closed-form"}
    rows, image_rows = [], []
    set_digests = {}
    for name, method in methods.items():
        # "ddc-prior": DDC optimised per image (no network), the default of `matte`.
        make_solver = matte_predictor if method == "ddc-prior" else baseline_predictor
        predictor = make_solver(method)  # evaluate_cached predicts each image once for all protocols
        cache = None if runs_root is None else ScoreCache(Path(runs_root) / BASELINE_SCORES, {"method": method},
                                                          scoring_code_digest((make_solver.__module__,)))
        for set_name, dataset in eval_sets.items():
            if cache is not None and set_name not in set_digests:
                set_digests[set_name] = dataset_digest(dataset)
            evaluations = evaluate_cached(predictor, dataset, protocols, cache, set_digests.get(set_name))
            for protocol in protocols:
                evaluation = evaluations[protocol]
                key = {"variant": name, "seed": seed, "eval_set": set_name, "protocol": protocol}
                rows.append(key | evaluation.mean.to_dict())
                image_rows.append(evaluation.per_image.assign(image=range(len(evaluation.per_image)), **key))
    images = pd.concat(image_rows, ignore_index=True)
    first = ["variant", "seed", "eval_set", "protocol", "image", "name"]
    return GridScores(pd.DataFrame(rows), images[first + [c for c in images.columns if c not in first]])
