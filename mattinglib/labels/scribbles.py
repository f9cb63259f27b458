"""Sparse scribble labels made from a known alpha matte.

:func:`make_scribbles` draws a few smooth random strokes strictly inside the true foreground
and background; every other pixel stays unlabelled (the trimap's unknown level).
"""
from __future__ import annotations

import numpy as np

from ._args import _check_alpha, _draw_width
from .codec import BACKGROUND, FOREGROUND, UNKNOWN
from .morphology import dilate_disk, erode_disk


def _random_strokes(region: np.ndarray, rng: np.random.Generator, n_strokes: int, length: float,
                    radius: float) -> np.ndarray:
    """Centre-line pixels of ``n_strokes`` smooth random walks inside ``region``.

    Each stroke starts on a random pixel of ``region`` eroded by ``radius`` (so that the stroke,
    once thickened by ``radius``, stays inside ``region``), walks in unit steps with a slowly
    turning heading and stops at its length or at the first step that leaves the eroded region.
    Returns a bool mask of the centre-line pixels.
    """
    centre_line = np.zeros(region.shape, dtype=bool)
    safe = erode_disk(region, radius)
    candidates = np.flatnonzero(safe)
    if n_strokes == 0 or candidates.size == 0:
        return centre_line
    height, width = region.shape
    n_steps = max(int(round(length)), 1)
    starts = candidates[rng.integers(candidates.size, size=n_strokes)]
    start_y, start_x = np.divmod(starts, width)
    heading0 = rng.uniform(0, 2 * np.pi, size=(n_strokes, 1))
    curvature = rng.normal(0.0, 0.04, size=(n_strokes, 1))      # rad per pixel, a gentle arc
    wobble = np.cumsum(rng.normal(0.0, 0.08, size=(n_strokes, n_steps)), axis=1)
    heading = heading0 + curvature * np.arange(n_steps) + wobble
    # Half-pixel steps keep the rasterised centre line connected.
    steps = np.repeat(heading, 2, axis=1)
    y = start_y[:, None] + np.concatenate([np.zeros((n_strokes, 1)), np.cumsum(0.5 * np.sin(steps), axis=1)], axis=1)
    x = start_x[:, None] + np.concatenate([np.zeros((n_strokes, 1)), np.cumsum(0.5 * np.cos(steps), axis=1)], axis=1)
    yi = np.rint(y).astype(np.int64)
    xi = np.rint(x).astype(np.int64)
    inside = (yi >= 0) & (yi < height) & (xi >= 0) & (xi < width)
    inside[inside] = safe[yi[inside], xi[inside]]
    # Keep each walk up to (not including) its first step outside the safe region.
    alive = np.cumprod(inside, axis=1).astype(bool)
    centre_line[yi[alive], xi[alive]] = True
    return centre_line


def make_scribbles(alpha: np.ndarray, rng: np.random.Generator, n_strokes=(1, 3), width: float = 3.0,
                   length=(0.1, 0.4)) -> np.ndarray:
    """Sparse scribble label: a few strokes strictly inside the true FG and BG.

    Foreground strokes lie inside ``alpha == 1``, background strokes inside ``alpha == 0``;
    every other pixel is unlabelled (0.5). Strokes are smooth random walks (a random heading,
    a constant curvature and a small random wobble) thickened to ``width`` pixels; a stroke
    ends early where it would leave its region. A region too thin for a stroke of ``width``
    gets none.

    Parameters
    ----------
    alpha : ndarray, shape (H, W), values in [0, 1]
    rng : numpy.random.Generator
    n_strokes : int or (lo, hi)
        Strokes per region (FG and BG each); a range is drawn per region, both ends included.
    width : float >= 1
        Stroke thickness in pixels (a disk of radius ``(width - 1) / 2`` around the centre line).
    length : float or (lo, hi)
        Stroke length as a fraction of the image's shorter side; a range is drawn per region.

    Returns
    -------
    ndarray, shape (H, W), float64, values in {0, 0.5, 1}
    """
    a = _check_alpha(alpha)
    if not (np.isfinite(width) and width >= 1):
        raise ValueError(f"width must be >= 1 pixel; got {width}")
    radius = (float(width) - 1.0) / 2.0
    scribbles = np.full(a.shape, UNKNOWN)
    centre_lines = np.zeros(a.shape, dtype=bool)
    regions = ((FOREGROUND, a == 1.0), (BACKGROUND, a == 0.0))
    for _, region in regions:
        count = int(_draw_width(n_strokes, rng, "n_strokes"))
        fraction = _draw_width(length, rng, "length")
        centre_lines |= _random_strokes(region, rng, count, fraction * min(a.shape), radius)
    # One dilation for both labels: a FG centre line thickened by the radius cannot reach the
    # BG region (it was chosen inside FG eroded by that radius), and vice versa.
    strokes = dilate_disk(centre_lines, radius)
    for value, region in regions:
        scribbles[strokes & region] = value
    return scribbles
