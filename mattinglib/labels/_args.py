"""Argument checks shared by the label generators and :func:`~mattinglib.labels.degrade_alpha`.

Private: an alpha matte's shape and range check, the fixed-or-drawn width specification of
the trimap, mask and scribble generators, and the working-resolution argument.
"""
from __future__ import annotations

import numpy as np


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


def _reference_shape(reference_size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """A working resolution as (height, width) in pixels, or None; an int means a square."""
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
