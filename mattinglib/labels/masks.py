"""Coarse binary "segmentation" labels made from a known alpha matte.

:func:`make_coarse_mask` thresholds the matte at a random level and then erodes and / or
dilates it with random kernels, as the public release's recipe does (docs/method.md), to imitate the errors of a
segmentation model's mask.
"""
from __future__ import annotations

import numpy as np

from ._args import _check_alpha, _reference_shape
from .morphology import _resize_nearest, dilate_disk, erode_disk
from .trimaps import RELEASE_KERNEL_SIZES, RELEASE_REFERENCE_SIZE


def make_coarse_mask(alpha: np.ndarray, rng: np.random.Generator,
                     threshold_range: tuple[float, float] = (0.01, 1.0),
                     kernel_sizes: tuple[int, int] = RELEASE_KERNEL_SIZES,
                     reference_size: int | tuple[int, int] | None = RELEASE_REFERENCE_SIZE) -> np.ndarray:
    """Coarse binary "segmentation" label from a true alpha (the release's recipe, docs/method.md).

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
