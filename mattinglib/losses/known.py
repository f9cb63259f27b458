"""The known loss: L1 to the trimap on its known region.

``L_known = mean over pixels with T != 1/2 of |a - T|`` (SPEC.md); 0 when there is no known
pixel in the batch.
"""
from __future__ import annotations

import torch

from ..labels import UNKNOWN


def known_loss(alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference to the trimap over its known pixels.

    Parameters
    ----------
    alpha : Tensor, shape (B, 1, H, W) or (1, H, W), float
        Predicted alpha in [0, 1].
    trimap : Tensor, same shape as alpha
        Trimap label in {0, 0.5, 1}; 0.5 is unknown and ignored.

    Returns
    -------
    Tensor, scalar, alpha's dtype
        The mean over all known pixels of the batch (pooled, not per image). When there is no
        known pixel, a zero that is still connected to alpha (its gradient is zero), so that
        ``backward()`` works on every batch.
    """
    if not isinstance(alpha, torch.Tensor) or not isinstance(trimap, torch.Tensor):
        raise ValueError("alpha and trimap must be torch tensors")
    if alpha.shape != trimap.shape:
        raise ValueError(f"alpha {tuple(alpha.shape)} and trimap {tuple(trimap.shape)} must have the same shape")
    known = trimap != UNKNOWN
    n_known = known.sum()
    # The masked sum is a sum of zeros when nothing is known: differentiable either way.
    masked_error = torch.where(known, (alpha - trimap.to(alpha.dtype)).abs(), alpha.new_zeros(()))
    return masked_error.sum() / n_known.clamp(min=1).to(alpha.dtype)
