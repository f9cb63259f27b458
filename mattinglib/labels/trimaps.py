"""Trimap labels made from a known alpha matte or a binary mask.

:func:`make_trimap` erodes the exact foreground and background of an alpha matte by a disk
(fixed or randomly drawn widths, optionally at a working resolution);
:func:`make_release_trimap` is the public release's recipe (random kernel sizes at
640 x 640); :func:`mask_to_trimap` puts an unknown band around a segmentation mask's
boundary. All return trimaps with the levels of :mod:`mattinglib.labels.codec`.
"""
from __future__ import annotations

import numpy as np

from ._args import _check_alpha, _draw_width, _reference_shape
from .codec import BACKGROUND, FOREGROUND, UNKNOWN
from .morphology import _resize_nearest, erode_disk

#: The public release's trimap / coarse-mask recipe: elliptical kernels of size 1..29 pixels
#: (a k x k kernel erodes by (k - 1) / 2 pixels) at a working resolution of 640 x 640.
RELEASE_KERNEL_SIZES = (1, 29)
RELEASE_REFERENCE_SIZE = 640


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
    """Trimap label from a true alpha matte (docs/method.md, "Labels made from a true alpha").

    ``FG = (alpha == 1)`` eroded by a disk of radius ``fg_width``, ``BG = (alpha == 0)`` eroded
    independently by a disk of radius ``bg_width``; every other pixel is unknown. The tests are
    exact (no tolerance): alpha read from 8-bit files (k / 255) hits 0 and 1
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
