"""The trimap codec: the three trimap levels and :func:`decode_trimap`.

A trimap label ``T`` takes the values 0 (background), 1/2 (unknown / transition) and 1
(foreground). Files store 0 / 128 / 255.

This is all that the metrics, the losses and the file readers need to read a trimap, so it
depends on numpy alone and importing it does not import the label generators of the rest of
:mod:`mattinglib.labels`.
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
