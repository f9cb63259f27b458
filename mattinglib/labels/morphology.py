"""Binary morphology by a disk, and the nearest-neighbour resampling it runs at.

Every morphological operation of the label generators uses a disk of a given radius (in
pixels): the offsets (dy, dx) with dy^2 + dx^2 <= radius^2. Eroding a region by a disk of
radius r removes every pixel that has a pixel outside the region within Euclidean distance r,
so the region retreats by r pixels from its boundary. Pixels outside the image count as inside
the region being eroded (the image border never erodes anything), which is also OpenCV's
default.

The release recipes erode at a fixed working resolution; :func:`_resize_nearest` moves a
mask there and back with OpenCV's nearest-neighbour index rule.
"""
from __future__ import annotations

import numpy as np


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
