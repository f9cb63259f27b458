"""The DDC / DC losses in the naive formulation of the paper's public release.

Written by us from the method (docs/method.md), deliberately plain: unfold the zero-padded image and alpha over
the ``K x K`` window, take ``torch.norm`` of the colour difference over the channel axis,
``topk(largest=False)`` over the window axis, gather the alpha of the selected pixels and
average ``|d - (a_i - a_j)|``. The selection is recomputed inside every call, as the release
does in every training step. It is the baseline of ``python -m mattinglib.bench ddc`` and a
second oracle for the tests of :mod:`mattinglib.losses.ddc`; do not optimise it.

Memory: the unfolded image is ``B * 3 * K*K * H * W`` values (1.5 GB in float32 at
batch 4, 512 x 512, K = 11), and the difference and its norm add as much again.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK


def reference_select(image: torch.Tensor, kernel_size: int = DEFAULT_KERNEL_SIZE,
                     topk: int = DEFAULT_TOPK) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbour selection by unfold / norm / topk.

    Parameters
    ----------
    image : Tensor, shape (B, 3, H, W), float
        RGB in [0, 1].
    kernel_size, topk : int
        Window size ``K`` (odd) and number ``k`` of neighbours kept.

    Returns
    -------
    distance : Tensor, shape (B, k, H * W), the image's dtype
        Selected ``d_ij``, ascending along axis 1.
    window_index : Tensor, shape (B, k, H * W), int64
        Position of each selected ``j`` in the row-major ``K x K`` window (0 .. K*K - 1).
    """
    n_batch, n_channels, height, width = image.shape
    pad = kernel_size // 2
    window = F.unfold(image, kernel_size, padding=pad)  # (B, 3*K*K, H*W), zeros outside
    window = window.view(n_batch, n_channels, kernel_size * kernel_size, height * width)
    centre = image.view(n_batch, n_channels, 1, height * width)
    all_distances = torch.norm(window - centre, dim=1)  # (B, K*K, H*W)
    distance, window_index = torch.topk(all_distances, topk, dim=1, largest=False)
    return distance, window_index


def reference_alpha_differences(alpha: torch.Tensor, window_index: torch.Tensor,
                                kernel_size: int = DEFAULT_KERNEL_SIZE) -> torch.Tensor:
    """``a_i - a_j`` for the selected pairs, by unfolding the zero-padded alpha.

    Parameters
    ----------
    alpha : Tensor, shape (B, 1, H, W), float
        Alpha in [0, 1]; the gradient flows through it (through the unfold and the gather).
    window_index : Tensor, shape (B, k, H * W), int64
        From :func:`reference_select` with the same ``kernel_size``.

    Returns
    -------
    Tensor, shape (B, k, H * W)
    """
    n_batch, _, height, width = alpha.shape
    alpha_window = F.unfold(alpha, kernel_size, padding=kernel_size // 2)  # (B, K*K, H*W), 0 outside
    alpha_j = torch.gather(alpha_window, 1, window_index)  # (B, k, H*W)
    alpha_i = alpha.view(n_batch, 1, height * width)
    return alpha_i - alpha_j


def _reference_alpha_pairs(image, alpha, kernel_size, topk):
    with torch.no_grad():  # the selection carries no gradient
        distance, window_index = reference_select(image, kernel_size, topk)
    return distance, reference_alpha_differences(alpha, window_index, kernel_size)


def reference_ddc_loss(image: torch.Tensor, alpha: torch.Tensor, kernel_size: int = DEFAULT_KERNEL_SIZE,
                       topk: int = DEFAULT_TOPK) -> torch.Tensor:
    """DDC loss ``mean |d_ij - (a_i - a_j)|``, selection included.

    Parameters
    ----------
    image : Tensor, shape (B, 3, H, W), float
        RGB in [0, 1].
    alpha : Tensor, shape (B, 1, H, W), same dtype
        Predicted alpha in [0, 1]; the gradient flows through it.
    kernel_size, topk : int
        Window size ``K`` and number of neighbours ``k``.

    Returns
    -------
    Tensor, scalar
        Mean over batch, pixels and selected neighbours.
    """
    distance, alpha_difference = _reference_alpha_pairs(image, alpha, kernel_size, topk)
    return torch.mean(torch.abs(distance - alpha_difference))


def reference_dc_loss(image: torch.Tensor, alpha: torch.Tensor, kernel_size: int = DEFAULT_KERNEL_SIZE,
                      topk: int = DEFAULT_TOPK) -> torch.Tensor:
    """DC loss ``mean |d_ij - |a_i - a_j||`` (the undirected ablation), selection included.

    Same parameters and return value as :func:`reference_ddc_loss`.
    """
    distance, alpha_difference = _reference_alpha_pairs(image, alpha, kernel_size, topk)
    return torch.mean(torch.abs(distance - torch.abs(alpha_difference)))
