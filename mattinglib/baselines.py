"""Classical matting baselines given the test trimap (pymatting) and "trimap as alpha".

These use the *test trimap as input*, which the trimap-only networks never see at test time:
they are reference points, not competitors on equal terms. pymatting is used rather than code
of ours because it is the maintained, tested implementation of these solvers.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pymatting

BASELINES = ("closed-form", "knn", "large-kernel", "trimap")


def trimap_as_alpha(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """The trimap itself as the prediction (unknown pixels get 0.5)."""
    return np.asarray(trimap, dtype=np.float64)


def baseline_predictor(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``predictor(image, trimap) -> alpha`` for one of :data:`BASELINES`.

    Parameters
    ----------
    method : {"closed-form", "knn", "large-kernel", "trimap"}
        Closed-form matting (Levin et al. 2008), KNN matting (Chen et al. 2013), large-kernel
        matting (He et al. 2010), or the trimap as alpha.

    Returns
    -------
    callable
        Takes image (H, W, 3) float64 in [0, 1] and trimap (H, W) in {0, 0.5, 1}, returns
        alpha (H, W) float64 in [0, 1].
    """
    solvers = {
        "closed-form": pymatting.estimate_alpha_cf,
        "knn": pymatting.estimate_alpha_knn,
        "large-kernel": pymatting.estimate_alpha_lkm,
        "trimap": trimap_as_alpha,
    }
    if method not in solvers:
        raise ValueError(f"unknown baseline {method!r}; choose one of {BASELINES}")
    solve = solvers[method]

    def predict(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        image = np.ascontiguousarray(image, dtype=np.float64)
        trimap = np.ascontiguousarray(trimap, dtype=np.float64)
        # pymatting's solvers need at least one known pixel of each kind; without them the
        # best (and the trimap's own) answer is the trimap.
        if method != "trimap" and not ((trimap == 0).any() and (trimap == 1).any()):
            return trimap_as_alpha(image, trimap)
        return np.clip(solve(image, trimap), 0.0, 1.0)

    return predict
