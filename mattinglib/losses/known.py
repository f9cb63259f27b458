"""The known loss: L1 to the trimap on its known region.

``L_known = mean over pixels with T != 1/2 of |a - T|`` (docs/method.md); 0 when there is no known
pixel in the batch.
"""
from __future__ import annotations

import torch

from ..labels.codec import UNKNOWN


def known_loss(alpha: torch.Tensor, trimap: torch.Tensor, balanced: bool = False) -> torch.Tensor:
    """Mean absolute difference to the trimap over its known pixels.

    Parameters
    ----------
    alpha : Tensor, shape (B, 1, H, W) or (1, H, W), float
        Predicted alpha in [0, 1].
    trimap : Tensor, same shape as alpha
        Trimap label in {0, 0.5, 1}; 0.5 is unknown and ignored.
    balanced : bool, default False
        Our extension, not the paper's: the mean of the foreground term and the background term,
        each averaged over its own pixels, so that a crop whose known pixels are mostly
        background still pays fully for a wrong foreground (predicting alpha = 0 everywhere
        then costs 0.5, whatever the foreground share). A side without pixels counts 0.

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
    if balanced:
        side_means = []
        for level in (0.0, 1.0):
            side = trimap == level
            error = torch.where(side, (alpha - level).abs(), alpha.new_zeros(()))
            side_means.append(error.sum() / side.sum().clamp(min=1).to(alpha.dtype))
        return (side_means[0] + side_means[1]) / 2
    known = trimap != UNKNOWN
    n_known = known.sum()
    # The masked sum is a sum of zeros when nothing is known: differentiable either way.
    masked_error = torch.where(known, (alpha - trimap.to(alpha.dtype)).abs(), alpha.new_zeros(()))
    return masked_error.sum() / n_known.clamp(min=1).to(alpha.dtype)
