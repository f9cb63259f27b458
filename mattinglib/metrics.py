"""Matting error metrics under the two protocols in use.

The two protocols give different numbers for the same prediction, so every number this
project reports names its protocol:

``region="whole"`` (AM-2K / P3M-10K convention), every pixel counts:
    ``sad``     sum |p - g| / 1000
    ``mse``     mean (p - g)^2 over all pixels
    ``mad``     mean |p - g| over all pixels
    ``grad``    sum (|grad p| - |grad g|)^2 / 10, with the first derivative of a Gaussian
                (sigma 1.4, scipy's ``gaussian_filter`` with ``order=1`` along each axis,
                computed in float32 as the reference does)
    ``conn``    connectivity error (threshold step 0.1, cut-off 0.15) / 1000
    ``sad_fg``  SAD over the trimap's foreground (T == 1) / 1000
    ``sad_bg``  SAD over the trimap's background (T == 0) / 1000

``region="unknown"`` (Composition-1k / alphamatting.com convention), only the trimap's
unknown pixels (T == 1/2) count:
    ``sad``     sum over unknown of |p - g| / 1000
    ``mse``     mean over unknown of (p - g)^2 (0 when there is no unknown pixel)
    ``grad``    sum over unknown of (|grad p| - |grad g|)^2 / 1000, with a derivative-of-
                Gaussian kernel (sigma 1.4) normalised to unit L2 norm and edge replication
    ``conn``    connectivity error over unknown / 1000

SAD, Grad and Conn are therefore in thousands of (alpha units x pixels), MSE in alpha units
squared, MAD in alpha units. Alpha is in [0, 1] throughout; inputs stored as 8-bit should be
divided by 255 in float64 (the connectivity error thresholds at multiples of 0.1, where float32
rounding can move a pixel across a threshold).

Both protocols are pinned to the values of public reference implementations (see
``tests/test_metrics.py``).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.ndimage as ndi
from skimage.measure import label as label_components

from .labels.codec import decode_trimap

WHOLE_KEYS = ("sad", "mse", "mad", "grad", "conn", "sad_fg", "sad_bg")
UNKNOWN_KEYS = ("sad", "mse", "grad", "conn")

# Connectivity thresholds 0, 0.1, ..., 1.0 exactly as np.arange produces them (0.30000000000000004
# and friends included): a pixel of value 0.3 must fall on the same side as in the references.
_CONN_STEP = 0.1
_CONN_THRESHOLDS = np.arange(0, 1 + _CONN_STEP, _CONN_STEP)


def matting_metrics(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray,
                    region: Literal["whole", "unknown"] = "whole") -> dict[str, float]:
    """Score a predicted alpha matte against the truth.

    Parameters
    ----------
    pred, gt : ndarray, shape (H, W)
        Predicted and true alpha, floats in [0, 1].
    trimap : ndarray, shape (H, W)
        Either 0 / 128 / 255 or {0, 0.5, 1} (decoded with :func:`mattinglib.labels.decode_trimap`).
    region : {"whole", "unknown"}
        The protocol (see the module docstring).

    Returns
    -------
    dict of str to float
        ``sad, mse, mad, grad, conn, sad_fg, sad_bg`` for ``"whole"``;
        ``sad, mse, grad, conn`` for ``"unknown"``.
    """
    pred, gt = _check_alpha_pair(pred, gt)
    if np.shape(trimap) != pred.shape:
        raise ValueError(f"trimap shape {np.shape(trimap)} does not match alpha shape {pred.shape}")
    t = decode_trimap(trimap)
    if region == "whole":
        return _whole_image_metrics(pred, gt, t)
    if region == "unknown":
        return _unknown_region_metrics(pred, gt, t == 0.5)
    raise ValueError(f"region must be 'whole' or 'unknown', got {region!r}")


def _check_alpha_pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    for name, a in (("pred", pred), ("gt", gt)):
        if a.ndim != 2:
            raise ValueError(f"{name} must have shape (H, W); got {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        if a.min() < 0 or a.max() > 1:
            raise ValueError(f"{name} must lie in [0, 1] (divide 8-bit values by 255); "
                             f"got range [{a.min():g}, {a.max():g}]")
    if pred.shape != gt.shape:
        raise ValueError(f"pred shape {pred.shape} does not match gt shape {gt.shape}")
    return pred, gt


# --------------------------------------------------------------------------------------------
# Whole-image protocol (AM-2K / P3M-10K)
# --------------------------------------------------------------------------------------------

def _whole_image_metrics(pred: np.ndarray, gt: np.ndarray, t: np.ndarray) -> dict[str, float]:
    abs_err = np.abs(pred - gt)
    return {
        "sad": float(abs_err.sum() / 1000),
        "mse": float(((pred - gt) ** 2).sum() / pred.size),
        "mad": float(abs_err.sum() / pred.size),
        "grad": _gradient_error_whole(pred, gt),
        "conn": float(_connectivity_error_map(pred, gt, "whole").sum() / 1000),
        "sad_fg": float(abs_err[t == 1].sum() / 1000),
        "sad_bg": float(abs_err[t == 0].sum() / 1000),
    }


def _gradient_error_whole(pred: np.ndarray, gt: np.ndarray) -> float:
    # The reference filters into float32 outputs (intermediate passes included) and sums the
    # float32 error map; doing the same keeps us within float32 rounding of it.
    def magnitude(a):
        gx = ndi.gaussian_filter(a, sigma=1.4, order=[1, 0], output=np.float32)
        gy = ndi.gaussian_filter(a, sigma=1.4, order=[0, 1], output=np.float32)
        return np.sqrt(gx ** 2 + gy ** 2)

    return float(np.sum(np.square(magnitude(pred) - magnitude(gt))) / 10)


# --------------------------------------------------------------------------------------------
# Unknown-region protocol (Composition-1k / alphamatting.com)
# --------------------------------------------------------------------------------------------

def _unknown_region_metrics(pred: np.ndarray, gt: np.ndarray, unknown: np.ndarray) -> dict[str, float]:
    n_unknown = int(unknown.sum())
    diff = (pred - gt)[unknown]
    return {
        "sad": float(np.abs(diff).sum() / 1000),
        "mse": float((diff ** 2).sum() / n_unknown) if n_unknown else 0.0,
        "grad": float(_gradient_error_map_normalised(pred, gt)[unknown].sum() / 1000),
        "conn": float(_connectivity_error_map(pred, gt, "unknown")[unknown].sum() / 1000),
    }


def _derivative_of_gaussian_kernels(sigma: float, epsilon: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """Separable factors of the unit-L2-norm derivative-of-Gaussian kernel.

    The 2-D kernel is ``h[i, j] = g(i) * g'(j)`` on a square support whose half size is where the
    Gaussian falls below ``epsilon`` of its peak density, normalised so that sum h^2 = 1. Returns
    ``(g, dg)`` with ``h = outer(g, dg)``, the normalisation folded into ``g``.
    """
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * epsilon))))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-x ** 2 / (2 * sigma ** 2)) / (sigma * np.sqrt(2 * np.pi))
    dg = -x * g / sigma ** 2
    norm = np.sqrt(np.sum(g ** 2) * np.sum(dg ** 2))
    return g / norm, dg


def _gradient_error_map_normalised(pred: np.ndarray, gt: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    g, dg = _derivative_of_gaussian_kernels(sigma)

    def magnitude(a):
        # h = outer(g, dg): derivative along columns (x), smoothing along rows; its transpose
        # gives y. ndimage.convolve flips the kernel, so correlate with the flipped factors.
        gx = ndi.correlate1d(ndi.correlate1d(a, g[::-1], axis=0, mode="nearest"), dg[::-1], axis=1, mode="nearest")
        gy = ndi.correlate1d(ndi.correlate1d(a, dg[::-1], axis=0, mode="nearest"), g[::-1], axis=1, mode="nearest")
        return np.sqrt(gx ** 2 + gy ** 2)

    return (magnitude(pred) - magnitude(gt)) ** 2


# --------------------------------------------------------------------------------------------
# Connectivity (shared by both protocols)
# --------------------------------------------------------------------------------------------

def _connectivity_error_map(pred: np.ndarray, gt: np.ndarray, protocol: Literal["whole", "unknown"]) -> np.ndarray:
    """Per-pixel |phi(pred) - phi(gt)| of the connectivity error (Rhemann et al., 2009).

    For each threshold t = 0.1, ..., 1, let Omega_t be the largest 4-connected component of
    ``(pred >= t) & (gt >= t)``. A pixel's level ``l`` is the threshold just below the first t
    at which it leaves Omega_t (1 if it never does), and ``phi(a) = 1 - (a - l) * [a - l >= 0.15]``.

    The two reference implementations differ in how they pick Omega_t, and the golden values
    pin both behaviours:

    - ``"whole"`` (AM-2K / P3M-10K): among the foreground components only; a threshold at
      which the intersection is empty leaves the levels untouched.
    - ``"unknown"`` (Composition-1k): the most frequent label of the labelled image, the
      background label 0 included. When the area *outside* the intersection is the largest
      region, Omega_t is that background region.
    """
    level = np.full(pred.shape, -1.0)
    for i in range(1, _CONN_THRESHOLDS.size):
        t = _CONN_THRESHOLDS[i]
        labels = label_components((pred >= t) & (gt >= t), connectivity=1)
        counts = np.bincount(labels.ravel())
        if protocol == "whole":
            if counts.size <= 1:
                continue
            largest = 1 + int(np.argmax(counts[1:]))
        else:
            largest = int(np.argmax(counts))
        level[(level == -1) & (labels != largest)] = _CONN_THRESHOLDS[i - 1]
    level[level == -1] = 1.0
    d_pred = pred - level
    d_gt = gt - level
    phi_pred = 1 - d_pred * (d_pred >= 0.15)
    phi_gt = 1 - d_gt * (d_gt >= 0.15)
    return np.abs(phi_pred - phi_gt)


# ---------------------------------------------------------------------------------------------
# Diagnostics of the soft pixels: what the error metrics alone do not tell
# ---------------------------------------------------------------------------------------------

#: Open interval of alpha values counted as "grey" (neither foreground nor background).
GREY_BAND = (0.2, 0.8)


def soft_pixel_errors(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Errors on the *soft* pixels, those whose true alpha is strictly between 0 and 1.

    They tell hair that was drawn from hair that was erased, which the whole-image SAD, where
    the soft pixels are a few percent of the image, blurs.

    Parameters
    ----------
    pred, gt : ndarray, shape (H, W), float in [0, 1]

    Returns
    -------
    dict
        ``sad_soft``: SAD over the soft pixels / 1000 (same units as ``sad``);
        ``alpha_soft``: mean predicted alpha there, next to ``alpha_soft_true``, the mean true
        alpha there (NaN both when there is no soft pixel).
    """
    pred, gt = _check_alpha_pair(pred, gt)
    soft = (gt > 0) & (gt < 1)
    return {
        "sad_soft": float(np.abs(pred - gt)[soft].sum() / 1000),
        "alpha_soft": float(pred[soft].mean()) if soft.any() else float("nan"),
        "alpha_soft_true": float(gt[soft].mean()) if soft.any() else float("nan"),
    }


def grey_share(alpha: np.ndarray) -> float:
    """Share of pixels whose alpha lies strictly inside :data:`GREY_BAND` (a matte that hedges)."""
    low, high = GREY_BAND
    return float(((alpha > low) & (alpha < high)).mean())
