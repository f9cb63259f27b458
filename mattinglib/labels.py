"""Coarse labels: trimaps and their decoding.

A trimap label ``T`` takes the values 0 (background), 1/2 (unknown / transition) and 1
(foreground). Files store 0 / 128 / 255.
"""
from __future__ import annotations

import numpy as np

BACKGROUND, UNKNOWN, FOREGROUND = 0.0, 0.5, 1.0


def decode_trimap(trimap: np.ndarray) -> np.ndarray:
    """Decode a trimap to the levels {0, 0.5, 1}.

    Parameters
    ----------
    trimap : ndarray, shape (H, W)
        Either 8-bit style levels (any integer dtype, or floats with a maximum above 1):
        ``< 85 -> 0``, ``>= 170 -> 1``, else ``0.5``; or floats already in [0, 1], decoded
        with the same thresholds scaled by 1/255.

    Returns
    -------
    ndarray, shape (H, W), float64
        The trimap with values in {0, 0.5, 1}.
    """
    t = np.asarray(trimap)
    if t.ndim != 2:
        raise ValueError(f"a trimap must have shape (H, W); got {t.shape}")
    t = t.astype(np.float64)
    if np.issubdtype(np.asarray(trimap).dtype, np.integer) or t.max(initial=0.0) > 1.0:
        t = t / 255.0
    out = np.full(t.shape, UNKNOWN)
    out[t < 85 / 255] = BACKGROUND
    out[t >= 170 / 255] = FOREGROUND
    return out


# ---------------------------------------------------------------------------------------------
# Label generators: trimaps, coarse masks and scribbles made from a known alpha matte.
#
# Every morphological operation below uses a disk of a given radius (in pixels): the offsets
# (dy, dx) with dy^2 + dx^2 <= radius^2. Eroding a region by a disk of radius r removes every
# pixel that has a pixel outside the region within Euclidean distance r, so the region retreats
# by r pixels from its boundary. Pixels outside the image count as inside the region being
# eroded (the image border never erodes anything), which is also OpenCV's default.
# ---------------------------------------------------------------------------------------------

#: The public release's trimap / coarse-mask recipe: elliptical kernels of size 1..29 pixels
#: (a k x k kernel erodes by (k - 1) / 2 pixels) at a working resolution of 640 x 640.
RELEASE_KERNEL_SIZES = (1, 29)
RELEASE_REFERENCE_SIZE = 640


def _check_alpha(alpha: np.ndarray, name: str = "alpha") -> np.ndarray:
    """Return ``alpha`` as an (H, W) float array after checking shape and range."""
    a = np.asarray(alpha)
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (H, W); got {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer) and a.dtype != bool:
        raise ValueError(f"{name} must be a numeric array; got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False) if a.dtype == bool else a
    lo, hi = float(a.min()), float(a.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name} values must lie in [0, 1]; got min {lo}, max {hi}")
    return a


def _row_gap(mask: np.ndarray, cap: float) -> np.ndarray:
    """Distance along each row from every pixel to the nearest ``False`` pixel of its row.

    ``0`` on ``False`` pixels; rows without a ``False`` pixel get a value above ``cap`` (the
    border does not count as outside). Integer array of shape ``mask.shape``.
    """
    width = mask.shape[1]
    big = width + int(np.ceil(cap)) + 2
    # int16 halves the memory traffic of the three passes when the values fit.
    dtype = np.int16 if 2 * big + width < np.iinfo(np.int16).max else np.int32
    columns = np.arange(width, dtype=dtype)
    last_false_left = np.where(mask, dtype(-big), columns)
    np.maximum.accumulate(last_false_left, axis=1, out=last_false_left)
    next_false_right = np.minimum.accumulate(np.where(mask, dtype(big), columns)[:, ::-1], axis=1)[:, ::-1]
    gap = np.subtract(columns, last_false_left, out=last_false_left)
    np.minimum(gap, next_false_right - columns, out=gap)
    return gap


def erode_disk(mask: np.ndarray, radius: float) -> np.ndarray:
    """Binary erosion by a disk of ``radius`` pixels (pixels outside the image count as set).

    Exact for the disk ``{(dy, dx): dy^2 + dx^2 <= radius^2}`` and linear in the image size
    times ``radius``: the distance to the nearest unset pixel along each row is computed once,
    then each row offset ``dy`` of the disk needs one comparison.

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
    radius : float >= 0
        Radius in pixels; below 1 the disk is the centre pixel alone and nothing changes.

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    mask = np.asarray(mask, dtype=bool)
    if radius < 0 or not np.isfinite(radius):
        raise ValueError(f"an erosion radius must be finite and >= 0; got {radius}")
    if radius < 1.0 or mask.all():
        return mask.copy()
    height = mask.shape[0]
    gap = _row_gap(mask, radius)
    r2 = float(radius) * float(radius)
    kept = None
    # Rows beyond the image (dy >= height) count as set and constrain nothing.
    for dy in range(min(int(np.floor(radius)), height - 1) + 1):
        # The row at offset dy is clear of unset pixels for the disk iff its gap g satisfies
        # g^2 + dy^2 > r^2; for integer g that is g > floor(sqrt(r^2 - dy^2)).
        limit = int(np.floor(np.sqrt(r2 - dy * dy)))
        clear = gap > limit
        if kept is None:
            kept = clear
            continue
        kept[: height - dy] &= clear[dy:]
        kept[dy:] &= clear[: height - dy]
    return kept


def dilate_disk(mask: np.ndarray, radius: float) -> np.ndarray:
    """Binary dilation by a disk of ``radius`` pixels (nothing grows in from outside the image).

    The complement of :func:`erode_disk` applied to the complement. Same shapes as there.
    """
    mask = np.asarray(mask, dtype=bool)
    return ~erode_disk(~mask, radius)


def _resize_nearest(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of an (H, W) array with OpenCV's INTER_NEAREST index rule.

    Output pixel ``i`` reads input pixel ``floor(i * H_in / H_out)``, as ``cv2.resize`` does.
    """
    rows = (np.arange(height) * array.shape[0]) // height
    cols = (np.arange(width) * array.shape[1]) // width
    return array[rows[:, None], cols[None, :]]


def _reference_shape(reference_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if reference_size is None:
        return None
    if isinstance(reference_size, (int, np.integer)):
        reference_size = (int(reference_size), int(reference_size))
    if len(reference_size) != 2 or min(reference_size) < 1:
        raise ValueError(f"reference_size must be a positive int or (height, width); got {reference_size!r}")
    return int(reference_size[0]), int(reference_size[1])


def _draw_width(width, rng: np.random.Generator | None, name: str) -> float:
    """A fixed width (int/float >= 0) or one drawn uniformly from an inclusive (lo, hi) range.

    Integer ranges draw integers (both ends included); float ranges draw floats.
    """
    if isinstance(width, (tuple, list)):
        if len(width) != 2:
            raise ValueError(f"{name} must be a number or a (lo, hi) range; got {width!r}")
        lo, hi = width
        if not (0 <= lo <= hi):
            raise ValueError(f"{name} range must satisfy 0 <= lo <= hi; got {width!r}")
        if rng is None:
            raise ValueError(f"{name}={width!r} is a range: pass rng (a numpy Generator) to draw from it")
        if all(isinstance(v, (int, np.integer)) for v in width):
            return float(rng.integers(lo, hi, endpoint=True))
        return float(rng.uniform(lo, hi))
    if isinstance(width, bool) or not isinstance(width, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number or a (lo, hi) range; got {width!r}")
    if not (np.isfinite(width) and width >= 0):
        raise ValueError(f"{name} must be finite and >= 0; got {width}")
    return float(width)


def _trimap_from_regions(fg: np.ndarray, bg: np.ndarray, fg_radius: float, bg_radius: float,
                         reference: tuple[int, int] | None) -> np.ndarray:
    """Erode the sure-FG and sure-BG regions independently and assemble the trimap."""
    height, width = fg.shape
    if reference is not None:
        fg = _resize_nearest(fg, *reference)
        bg = _resize_nearest(bg, *reference)
    fg = erode_disk(fg, fg_radius)
    bg = erode_disk(bg, bg_radius)
    if reference is not None:
        fg = _resize_nearest(fg, height, width)
        bg = _resize_nearest(bg, height, width)
    trimap = np.full((height, width), UNKNOWN)
    trimap[fg] = FOREGROUND
    trimap[bg] = BACKGROUND
    return trimap


def make_trimap(alpha: np.ndarray, fg_width, bg_width=None, rng: np.random.Generator | None = None,
                reference_size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Trimap label from a true alpha matte (SPEC.md, "Labels generated from alpha").

    ``FG = (alpha == 1)`` eroded by a disk of radius ``fg_width``, ``BG = (alpha == 0)`` eroded
    independently by a disk of radius ``bg_width``; every other pixel is unknown. The tests are
    exact (no tolerance), as SPEC.md says: alpha read from 8-bit files (k / 255) hits 0 and 1
    exactly, and so do the synthetic mattes of :mod:`mattinglib.data.synthetic`.

    Widths are per side: the known regions retreat by that many pixels from the soft region,
    so around a hard edge the unknown band is ``fg_width + bg_width`` pixels wide.

    Parameters
    ----------
    alpha : ndarray, shape (H, W), values in [0, 1]
    fg_width : float >= 0, or (lo, hi)
        Erosion radius of the foreground in pixels. A (lo, hi) range is drawn uniformly (both
        ends included; integers if both ends are ints) from ``rng``. 0 means no erosion.
    bg_width : float >= 0, (lo, hi) or None
        The same for the background; ``None`` uses the ``fg_width`` specification, drawn
        independently (foreground first, then background).
    rng : numpy.random.Generator, optional
        Required when a width is a range.
    reference_size : int, (height, width) or None
        ``None``: widths are in pixels of ``alpha``. Otherwise the widths are in pixels of this
        working resolution: the FG / BG regions are resized to it with nearest-neighbour,
        eroded there and resized back with nearest-neighbour, as the public release does at
        640 x 640 (see :func:`make_release_trimap`). The nearest resampling adds the release's
        blocky label noise on images far from the working size.

    Returns
    -------
    ndarray, shape (H, W), float64, values in {0, 0.5, 1}
    """
    a = _check_alpha(alpha)
    fg_radius = _draw_width(fg_width, rng, "fg_width")
    bg_radius = _draw_width(fg_width if bg_width is None else bg_width, rng, "bg_width")
    return _trimap_from_regions(a == 1.0, a == 0.0, fg_radius, bg_radius, _reference_shape(reference_size))


def make_release_trimap(alpha: np.ndarray, rng: np.random.Generator,
                        kernel_sizes: tuple[int, int] = RELEASE_KERNEL_SIZES,
                        reference_size: int | tuple[int, int] = RELEASE_REFERENCE_SIZE) -> np.ndarray:
    """Trimap the way the public release makes it: random kernel sizes at 640 x 640.

    Each side draws a kernel size ``k`` uniformly from ``kernel_sizes`` (1..29, both included);
    a k x k elliptical kernel erodes by ``(k - 1) / 2`` pixels, so this is :func:`make_trimap`
    with radii ``(k - 1) / 2`` at ``reference_size``. (An even ``k`` gives a symmetric disk of
    radius ``k/2 - 1/2`` here where OpenCV's even kernel is off-centre by half a pixel.)

    Parameters
    ----------
    alpha : ndarray, shape (H, W), values in [0, 1]
    rng : numpy.random.Generator
    kernel_sizes : (lo, hi) ints >= 1
    reference_size : int or (height, width)

    Returns
    -------
    ndarray, shape (H, W), float64, values in {0, 0.5, 1}
    """
    lo, hi = kernel_sizes
    if not (1 <= lo <= hi):
        raise ValueError(f"kernel_sizes must satisfy 1 <= lo <= hi; got {kernel_sizes!r}")
    fg_size = int(rng.integers(lo, hi, endpoint=True))
    bg_size = int(rng.integers(lo, hi, endpoint=True))
    return make_trimap(alpha, (fg_size - 1) / 2, (bg_size - 1) / 2, reference_size=reference_size)


def mask_to_trimap(mask: np.ndarray, band_width, rng: np.random.Generator | None = None) -> np.ndarray:
    """Trimap with an unknown band around the boundary of a binary mask.

    A way to train from segmentation masks: the mask is trusted except within ``band_width``
    pixels of its boundary, on each side (both sides erode by the same drawn width).

    Parameters
    ----------
    mask : ndarray, shape (H, W), bool or values in {0, 1}
    band_width : float >= 0, or (lo, hi)
        Width of the unknown band on each side of the boundary, in pixels; a range is drawn
        from ``rng`` as in :func:`make_trimap`. The band around a straight edge is
        ``2 * band_width`` pixels wide. 0 gives the mask itself as a two-level trimap.
    rng : numpy.random.Generator, optional
        Required when ``band_width`` is a range.

    Returns
    -------
    ndarray, shape (H, W), float64, values in {0, 0.5, 1}
    """
    m = _check_alpha(mask, "mask")
    binary = m == 1.0
    if not np.all(binary | (m == 0.0)):
        raise ValueError("mask must be binary (values 0 and 1 only)")
    radius = _draw_width(band_width, rng, "band_width")
    return _trimap_from_regions(binary, ~binary, radius, radius, None)


def make_coarse_mask(alpha: np.ndarray, rng: np.random.Generator,
                     threshold_range: tuple[float, float] = (0.01, 1.0),
                     kernel_sizes: tuple[int, int] = RELEASE_KERNEL_SIZES,
                     reference_size: int | tuple[int, int] | None = RELEASE_REFERENCE_SIZE) -> np.ndarray:
    """Coarse binary "segmentation" label from a true alpha (SPEC.md's recipe).

    ``mask = alpha >= t`` with ``t`` uniform in ``[threshold_range[0], threshold_range[1])``,
    then, with equal probability, one of: erode; dilate; erode then dilate; dilate then erode,
    each with its own elliptical kernel of random size ``k`` (uniform in ``kernel_sizes``,
    both ends included; a k x k kernel has radius ``(k - 1) / 2``). Draw order: threshold,
    operation, then one size per morphological step.

    Parameters
    ----------
    alpha : ndarray, shape (H, W), values in [0, 1]
    rng : numpy.random.Generator
    threshold_range : (lo, hi) with 0 < lo < hi <= 1
    kernel_sizes : (lo, hi) ints >= 1
        Kernel sizes in pixels of ``reference_size``.
    reference_size : int, (height, width) or None
        Working resolution of the kernels (the release's 640 x 640, so the kernels scale with
        the image); the mask is resized there and back with nearest-neighbour. ``None``: kernel
        sizes are in pixels of ``alpha``.

    Returns
    -------
    ndarray, shape (H, W), float64, values in {0, 1}
    """
    a = _check_alpha(alpha)
    t_lo, t_hi = threshold_range
    if not (0.0 < t_lo < t_hi <= 1.0):
        raise ValueError(f"threshold_range must satisfy 0 < lo < hi <= 1; got {threshold_range!r}")
    k_lo, k_hi = kernel_sizes
    if not (1 <= k_lo <= k_hi):
        raise ValueError(f"kernel_sizes must satisfy 1 <= lo <= hi; got {kernel_sizes!r}")
    threshold = rng.uniform(t_lo, t_hi)
    operation = int(rng.integers(4))
    steps = {0: ("erode",), 1: ("dilate",), 2: ("erode", "dilate"), 3: ("dilate", "erode")}[operation]

    reference = _reference_shape(reference_size)
    height, width = a.shape
    mask = a >= threshold
    if reference is not None:
        mask = _resize_nearest(mask, *reference)
    for step in steps:
        radius = (int(rng.integers(k_lo, k_hi, endpoint=True)) - 1) / 2
        mask = erode_disk(mask, radius) if step == "erode" else dilate_disk(mask, radius)
    if reference is not None:
        mask = _resize_nearest(mask, height, width)
    return mask.astype(np.float64)


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


# ---------------------------------------------------------------------------------------------
# Imperfect alpha labels: what a human with a labelling tool hands in instead of the exact matte.

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
