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

from mattinglib.baselines import BASELINES, baseline_predictor
from mattinglib.evaluate import sample_arrays
from mattinglib.losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK
from mattinglib.metrics import matting_metrics
from mattinglib.prior import optimise_alpha


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
            f"(K {setting.get('kernel_size', DEFAULT_KERNEL_SIZE)}, k {setting.get('topk', DEFAULT_TOPK)})")


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


def candidate_mattes(alpha: np.ndarray, trimap: np.ndarray) -> dict[str, np.ndarray]:
    """Mattes to price under the losses: the truth and what a network might draw instead.

    ``truth``; ``truth blurred`` (Gaussian, sigma 1 px: an approximate network output);
    ``truth, soft -> 0`` (every soft pixel erased: hair and veils gone); ``truth thresholded``
    (alpha >= 0.5: a hard segmentation); ``trimap`` (unknown at 0.5); ``zeros`` (nothing at all).
    """
    from scipy.ndimage import gaussian_filter

    soft = (alpha > 0) & (alpha < 1)
    return {
        "truth": alpha,
        "truth blurred (1 px)": np.clip(gaussian_filter(alpha, 1.0), 0, 1),
        "truth, soft -> 0": np.where(soft, 0.0, alpha),
        "truth thresholded": (alpha >= 0.5).astype(np.float64),
        "trimap": trimap,
        "zeros": np.zeros_like(alpha),
    }


def loss_landscape(dataset, kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK, weight: float = 10.0,
                   factor: int = 1) -> pd.DataFrame:
    """The known, DDC and DC losses of each of :func:`candidate_mattes` on every image.

    If a matte a network can draw (blurred, soft parts erased, all zeros) costs less under
    ``known + weight * DDC`` than the truth, the loss itself steers a network away from the
    truth. Returns one row per (image, matte): ``image, matte, known, ddc, dc, total``.
    """
    import torch

    from mattinglib.losses import dc_loss_from_neighbors, ddc_loss_from_neighbors, known_loss, select_neighbors

    rows = []
    for index in range(len(dataset)):
        sample = dataset[index]
        image, alpha, trimap = downscale(*sample_arrays(sample), factor)
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
        neighbors = select_neighbors(x, kernel_size, topk)
        t = torch.from_numpy(trimap)[None, None]
        for name, matte in candidate_mattes(alpha, trimap).items():
            a = torch.from_numpy(np.ascontiguousarray(matte, dtype=np.float64))[None, None]
            known = known_loss(a, t).item()
            ddc = ddc_loss_from_neighbors(a, neighbors).item()
            rows.append({"image": sample["name"], "matte": name, "known": known, "ddc": ddc,
                         "dc": dc_loss_from_neighbors(a, neighbors).item(), "total": known + weight * ddc})
    return pd.DataFrame(rows)
