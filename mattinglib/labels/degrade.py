"""Imperfect alpha labels: what a human with a labelling tool hands in instead of the exact matte.

:func:`degrade_alpha` makes a smoothed, quantised, shifted or combined version of the exact
matte; :data:`ALPHA_LABELS` lists the kinds and the other constants are their default
strengths.
"""
from __future__ import annotations

import numpy as np

from ._args import _check_alpha

#: Kinds of :func:`degrade_alpha`; "exact" leaves the matte as it is.
ALPHA_LABELS = ("exact", "smoothed", "quantised", "shifted", "combined")
#: Gaussian sigma (px) of "smoothed": a soft brush that loses strands one or two pixels wide.
SMOOTH_SIGMA = 1.5
#: Grey levels of "quantised": a tool that paints 0, 1/3, 2/3 and 1 only.
QUANTISE_LEVELS = 4
#: Edge shift (px) of "shifted": the whole boundary drawn this far inside or outside.
SHIFT_RADIUS = 2.0


def degrade_alpha(alpha: np.ndarray, kind: str, rng: np.random.Generator | None = None,
                  sigma: float = SMOOTH_SIGMA, levels: int = QUANTISE_LEVELS,
                  shift: float = SHIFT_RADIUS) -> np.ndarray:
    """An imperfect alpha label drawn from the exact matte.

    Used to ask whether a trimap-only model can beat a model trained on human-made alpha
    labels, which are never exact: notebook ``40_beyond_the_labels`` scores both against the
    exact matte.

    Parameters
    ----------
    alpha : ndarray, shape (H, W), float in [0, 1]
        The exact matte.
    kind : {"exact", "smoothed", "quantised", "shifted", "combined"}
        ``"smoothed"``: Gaussian blur of ``sigma`` px. ``"quantised"``: rounded to ``levels``
        evenly spaced grey levels. ``"shifted"``: the boundary moved by ``shift`` px, outwards
        (grey dilation) or inwards (grey erosion) with equal odds. ``"combined"``: shifted,
        then smoothed, then quantised.
    rng : numpy Generator
        Draws the direction of the shift (needed by "shifted" and "combined").

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]
    """
    from scipy.ndimage import gaussian_filter, grey_dilation, grey_erosion

    a = _check_alpha(alpha).astype(np.float64)
    if kind not in ALPHA_LABELS:
        raise ValueError(f"alpha label kind must be one of {ALPHA_LABELS}; got {kind!r}")
    if kind in ("shifted", "combined"):
        if rng is None:
            raise ValueError(f"alpha label {kind!r} draws the shift direction: pass rng")
        r = int(np.floor(shift))
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        disk = yy ** 2 + xx ** 2 <= shift ** 2
        outwards = rng.random() < 0.5
        a = grey_dilation(a, footprint=disk, mode="nearest") if outwards else \
            grey_erosion(a, footprint=disk, mode="nearest")
    if kind in ("smoothed", "combined"):
        a = gaussian_filter(a, sigma, mode="nearest")
    if kind in ("quantised", "combined"):
        if levels < 2:
            raise ValueError(f"quantised alpha needs at least 2 levels; got {levels}")
        a = np.round(a * (levels - 1)) / (levels - 1)
    return np.clip(a, 0.0, 1.0)
