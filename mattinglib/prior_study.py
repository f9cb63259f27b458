"""The DDC-as-a-prior experiment: per-scene alpha optimisation against classical matting.

For each scene (image, true alpha, trimap) and each *setting*, produce an alpha from the image
and the trimap alone and score it under the unknown-region protocol. Settings are dicts:

- ``{"method": "ddc" | "dc" | "none", "weight": 10.0, "kernel_size": 11, "topk": 11,
  "steps": 600}``: :func:`mattinglib.prior.optimise_alpha`;
- ``{"method": "closed-form" | "knn" | "large-kernel" | "trimap"}``: :mod:`mattinglib.baselines`.

A setting may carry a ``"label"`` used as its name in the table.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .baselines import BASELINES, baseline_predictor
from .evaluate import sample_arrays
from .metrics import matting_metrics
from .prior import optimise_alpha


def setting_label(setting: dict) -> str:
    """A readable name: the given label, else e.g. ``known + 10 DDC (K 11, k 11)``."""
    if "label" in setting:
        return setting["label"]
    method = setting["method"]
    if method in BASELINES:
        return method
    if method == "none":
        return "known only"
    return (f"known + {setting.get('weight', 10.0):g} {method.upper()} "
            f"(K {setting.get('kernel_size', 11)}, k {setting.get('topk', 11)})")


def downscale(image: np.ndarray, alpha: np.ndarray, trimap: np.ndarray, factor: int):
    """Every ``factor``-th pixel (the trimap keeps its three levels; alpha stays exact)."""
    if factor == 1:
        return image, alpha, trimap
    return image[::factor, ::factor], alpha[::factor, ::factor], trimap[::factor, ::factor]


def alpha_for_setting(setting: dict, image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """The alpha that ``setting`` produces from ``image`` and ``trimap`` (see the module docstring)."""
    method = setting["method"]
    if method in BASELINES:
        return baseline_predictor(method)(image, trimap)
    options = {k: v for k, v in setting.items() if k in ("weight", "kernel_size", "topk", "steps", "lr", "init")}
    return optimise_alpha(image, trimap, loss=method, **options)


def run_prior_study(dataset, settings: list[dict], factor: int = 2, progress: bool = True) -> pd.DataFrame:
    """Score every setting on every scene of ``dataset`` (unknown-region protocol).

    Parameters
    ----------
    dataset : dataset of sample dicts with "image", "alpha", "trimap", "name"
    settings : list of dict
    factor : int
        Keep every ``factor``-th pixel of each scene (1 = full size).

    Returns
    -------
    DataFrame
        One row per (scene, setting): ``scene, setting, sad, mse, grad, conn, seconds``.
    """
    rows = []
    bar = tqdm(total=len(dataset) * len(settings), desc="prior study", disable=not progress)
    for index in range(len(dataset)):
        sample = dataset[index]
        image, alpha, trimap = downscale(*sample_arrays(sample), factor)
        for setting in settings:
            start = time.perf_counter()
            pred = alpha_for_setting(setting, image, trimap)
            seconds = time.perf_counter() - start
            rows.append({"scene": sample["name"], "setting": setting_label(setting)}
                        | matting_metrics(np.clip(pred, 0, 1), alpha, trimap, "unknown") | {"seconds": seconds})
            bar.update(1)
    bar.close()
    return pd.DataFrame(rows)
