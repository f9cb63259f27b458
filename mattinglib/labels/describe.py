"""Summary statistics of a coarse label against the true alpha matte.

:func:`describe_label` says how much of the image a trimap, mask or scribble label labels,
how much of the soft region it leaves unknown, and how wrong its labelled pixels are.
"""
from __future__ import annotations

import numpy as np

from ._args import _check_alpha
from .codec import UNKNOWN


def describe_label(label: np.ndarray, alpha: np.ndarray) -> dict[str, float]:
    """How much a coarse label says, and how often it is wrong, against the true alpha.

    Parameters
    ----------
    label : ndarray, shape (H, W), values {0, 0.5, 1} (0.5 = unknown / unlabelled)
    alpha : ndarray, shape (H, W), float in [0, 1]

    Returns
    -------
    dict
        ``known_fraction`` (share of pixels labelled 0 or 1), ``unknown_fraction``,
        ``soft_covered`` (share of the truly soft pixels, 0 < alpha < 1, left unknown: a trimap
        covers them all, a mask does not) and ``known_error`` (mean |alpha - label| over the
        labelled pixels: 0 for a trimap drawn from alpha, > 0 for coarse masks).
    """
    label = np.asarray(label, dtype=np.float64)
    alpha = _check_alpha(alpha)
    known = label != UNKNOWN
    soft = (alpha > 0) & (alpha < 1)
    return {
        "known_fraction": float(known.mean()),
        "unknown_fraction": float(1 - known.mean()),
        "soft_covered": float((~known)[soft].mean()) if soft.any() else float("nan"),
        "known_error": float(np.abs(alpha - label)[known].mean()) if known.any() else float("nan"),
    }
