"""Scaled DDC: the DDC loss with colour distances divided by the local FG / BG contrast.

An extension of ours, not the paper's (docs/method.md describes both). DDC asks
``a_i - a_j <= d_ij`` (directionally) with ``d_ij = ||I_i - I_j||_2``. For a locally constant
foreground ``F`` and background ``B``, ``I = a F + (1 - a) B``, so
``||I_i - I_j|| = |a_i - a_j| * ||F - B||``: wherever ``||F - B|| < 1`` plain DDC lets alpha change
*less* than the truth does, and flattens soft transitions (hair). Scaled DDC divides the
colour distance by a no-gradient estimate ``c_i`` of ``||F - B||`` around ``i``::

    m^FG_i = mean of I over the known-FG pixels (T == 1) of the W x W window centred on i
             (the image's global known-FG mean where that window holds none)
    m^BG_i = the same over the known-BG pixels (T == 0)
    c_i    = clamp(||m^FG_i - m^BG_i||_2, floor, sqrt(3))      (1 where the crop lacks FG or BG)
    t_ij   = min(d_ij / c_i, max(d_ij, 1))
    L      = mean over b, i, j in S_i of |t_ij - (a_i - a_j)|

The norm is DDC's (Euclidean over the three RGB channels, RGB in [0, 1]), so ``c`` and ``d``
share units and ``sqrt(3)`` is the largest either can be. The cap ``max(d_ij, 1)`` stops an
*enlargement* by ``1 / c_i`` at 1, the largest possible alpha difference, and never lowers a
target below ``d_ij``; the cap only shifts the loss by a constant (a target >= 1 keeps its
residual's sign for every alpha in [0, 1]), and with ``c == 1`` ``t_ij = d_ij`` exactly, so
the loss *is* DDC. The pixels, the neighbours ``S_i`` (:func:`select_neighbors`, zero
padding outside the image included), the signed form and the mean over ``B * k * H * W``
terms are DDC's: the loss is :func:`ddc_loss_from_neighbors` called with the rescaled
distances.

The default window is ``2 K + 1`` (23 for K = 11), larger than the DDC neighbourhood, so that
pixels of a transition band see known pixels on both sides; pixels deeper in a wide band fall
back to the crop's global FG / BG means. The default floor 0.05 bounds the rescaling at 20x.
"""
from __future__ import annotations

import math

import torch

from ..labels.codec import BACKGROUND, FOREGROUND
from .ddc import ddc_loss_from_neighbors
from .neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK, Neighbors, select_neighbors

#: Window side of the contrast estimate for the default DDC window K = 11: 2 K + 1.
DEFAULT_CONTRAST_WINDOW = 2 * DEFAULT_KERNEL_SIZE + 1
#: Lower bound of the contrast estimate (RGB units), i.e. at most a 20x enlargement of d_ij.
DEFAULT_CONTRAST_FLOOR = 0.05
#: Upper bound of the contrast estimate: the largest Euclidean distance between two RGB
#: colours in [0, 1].
MAX_COLOUR_DISTANCE = math.sqrt(3.0)


def contrast_window_for(kernel_size: int) -> int:
    """The default contrast window ``2 K + 1`` for a DDC window ``K``."""
    return 2 * int(kernel_size) + 1


def _box_sum(x: torch.Tensor, window: int) -> torch.Tensor:
    """Sum of ``x`` (B, C, H, W) over the ``window x window`` box centred on every pixel.

    Outside the image counts as nothing (the box is cut at the border). Integral image in
    float64, so any window (also one larger than the image) costs O(H W).
    """
    n_batch, channels, height, width = x.shape
    radius = window // 2
    table = torch.nn.functional.pad(x.to(torch.float64).cumsum(2).cumsum(3), (1, 0, 1, 0))
    ys = torch.arange(height, device=x.device)
    xs = torch.arange(width, device=x.device)
    y0, y1 = (ys - radius).clamp(0, height), (ys + radius + 1).clamp(0, height)
    x0, x1 = (xs - radius).clamp(0, width), (xs + radius + 1).clamp(0, width)
    rows_hi, rows_lo = table.index_select(2, y1), table.index_select(2, y0)
    box = (rows_hi.index_select(3, x1) - rows_hi.index_select(3, x0)
           - rows_lo.index_select(3, x1) + rows_lo.index_select(3, x0))
    return box


def _check_contrast_inputs(image: torch.Tensor, trimap: torch.Tensor, window: int, floor: float):
    if not isinstance(image, torch.Tensor) or not image.is_floating_point():
        raise ValueError(f"image must be a floating-point torch.Tensor; got {getattr(image, 'dtype', type(image))}")
    if not isinstance(trimap, torch.Tensor):
        raise ValueError(f"trimap must be a torch.Tensor; got {type(trimap).__name__}")
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if trimap.ndim == 3:
        trimap = trimap.unsqueeze(0)
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must have shape (B, 3, H, W) or (3, H, W); got {tuple(image.shape)}")
    expected = (image.shape[0], 1, *image.shape[2:])
    if tuple(trimap.shape) != expected:
        raise ValueError(f"trimap must have shape {expected} to match the image; got {tuple(trimap.shape)}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer; got {window!r}")
    floor = float(floor)
    if not 0.0 < floor <= MAX_COLOUR_DISTANCE:
        raise ValueError(f"floor must lie in (0, sqrt(3)]; got {floor}")
    return image, trimap.to(image.device), floor


@torch.no_grad()
def local_contrast(image: torch.Tensor, trimap: torch.Tensor, window: int = DEFAULT_CONTRAST_WINDOW,
                   floor: float = DEFAULT_CONTRAST_FLOOR) -> torch.Tensor:
    """Local estimate ``c_i`` of the foreground / background contrast ``||F - B||_2`` (no gradient).

    Parameters
    ----------
    image : Tensor, shape (B, 3, H, W) or (3, H, W), float
        RGB in [0, 1].
    trimap : Tensor, shape (B, 1, H, W) or (1, H, W)
        Levels {0, 0.5, 1}: known BG (0), unknown (0.5), known FG (1).
    window : int, default 23 (``2 K + 1`` for K = 11)
        Odd side of the square window, centred on each pixel, whose known FG and known BG
        pixels give the local means (the window is cut at the image border).
    floor : float, default 0.05
        Lower clamp of ``c`` (RGB units); ``c`` is also clamped above at ``sqrt(3)``.

    Returns
    -------
    Tensor, shape (B, 1, H, W), image's dtype and device, no grad
        ``c_i = clamp(||m^FG_i - m^BG_i||_2, floor, sqrt(3))``, where ``m^FG_i`` (``m^BG_i``)
        is the mean colour of the known-FG (known-BG) pixels of the window, or of the whole
        image where the window holds none. Where the image has no known FG or no known BG
        pixel at all, ``c = 1`` (the loss falls back to plain DDC there).
    """
    image, trimap, floor = _check_contrast_inputs(image, trimap, window, floor)
    image = image.detach()
    means = []
    for level in (FOREGROUND, BACKGROUND):
        mask = (trimap == level).to(torch.float64)
        local_sum = _box_sum(image * mask, window)            # (B, 3, H, W), float64
        local_count = _box_sum(mask, window)                  # (B, 1, H, W)
        global_sum = (image.to(torch.float64) * mask).sum((2, 3), keepdim=True)
        global_count = mask.sum((2, 3), keepdim=True)
        has_local = local_count > 0.5                         # counts are integers (exact in float64)
        local_mean = local_sum / local_count.clamp_min(1.0)
        global_mean = global_sum / global_count.clamp_min(1.0)
        means.append((torch.where(has_local, local_mean, global_mean), global_count > 0.5))
    (fg_mean, has_fg), (bg_mean, has_bg) = means
    contrast = (fg_mean - bg_mean).pow(2).sum(1, keepdim=True).sqrt()
    contrast = contrast.clamp(floor, MAX_COLOUR_DISTANCE)
    contrast = torch.where(has_fg & has_bg, contrast, torch.ones_like(contrast))
    return contrast.to(image.dtype)


def scale_distances(neighbors: Neighbors, contrast: torch.Tensor) -> Neighbors:
    """The neighbours with the targets ``t_ij = min(d_ij / c_i, max(d_ij, 1))`` as distances.

    Parameters
    ----------
    neighbors : Neighbors
        ``distance`` and ``index`` of shape (B, k, H, W) (or (k, H, W)).
    contrast : Tensor, shape (B, 1, H, W) (or (1, H, W)), positive
        ``c_i`` of :func:`local_contrast`, broadcast over the ``k`` neighbours.

    Returns
    -------
    Neighbors
        Same ``index``; ``distance`` replaced by the (no-grad) targets. ``c == 1`` gives the
        distances back unchanged.
    """
    distance, index = neighbors
    contrast = contrast.detach().to(device=distance.device, dtype=distance.dtype)
    if contrast.ndim != distance.ndim or contrast.shape[-3] != 1 or (
            contrast.shape[:-3] + contrast.shape[-2:] != distance.shape[:-3] + distance.shape[-2:]):
        raise ValueError(f"contrast must have shape (B, 1, H, W) matching neighbors.distance "
                         f"{tuple(distance.shape)}; got {tuple(contrast.shape)}")
    distance = distance.detach()
    target = torch.minimum(distance / contrast, distance.clamp_min(1.0))
    return Neighbors(target, index)


def scaled_ddc_loss_from_neighbors(alpha: torch.Tensor, neighbors: Neighbors, contrast: torch.Tensor) -> torch.Tensor:
    """Scaled DDC given precomputed neighbours and contrast: DDC on :func:`scale_distances`.

    Parameters
    ----------
    alpha : Tensor, shape (B, 1, H, W) or (1, H, W), float
        Predicted alpha in [0, 1].
    neighbors : Neighbors
        From :func:`select_neighbors` on the matching image, (B, k, H, W).
    contrast : Tensor, shape (B, 1, H, W)
        ``c_i`` (e.g. :func:`local_contrast`); not differentiated.

    Returns
    -------
    Tensor, scalar, alpha's dtype
        ``mean |t_ij - (a_i - a_j)|`` over ``B * k * H * W`` terms; differentiable in alpha.
    """
    return ddc_loss_from_neighbors(alpha, scale_distances(neighbors, contrast))


def scaled_ddc_loss(image: torch.Tensor, alpha: torch.Tensor, trimap: torch.Tensor,
                    kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK,
                    contrast_window: int | None = None, contrast_floor: float = DEFAULT_CONTRAST_FLOOR,
                    neighbors: Neighbors | None = None) -> torch.Tensor:
    """Scaled DDC loss with the neighbour selection and the contrast estimate done here.

    Parameters
    ----------
    image : Tensor, shape (B, 3, H, W) or (3, H, W)
        RGB in [0, 1].
    alpha : Tensor, shape (B, 1, H, W) or (1, H, W), image's dtype
        Predicted alpha in [0, 1].
    trimap : Tensor, shape (B, 1, H, W) or (1, H, W)
        Levels {0, 0.5, 1}; its known pixels give the contrast estimate only.
    kernel_size, topk : int, default 11, 11
        DDC's window size ``K`` and number of neighbours ``k``.
    contrast_window : int, optional
        Odd window of :func:`local_contrast`; default ``2 * kernel_size + 1``.
    contrast_floor : float, default 0.05
        Lower clamp of the contrast.
    neighbors : Neighbors, optional
        Precomputed neighbours of the image (selected here otherwise).

    Returns
    -------
    Tensor, scalar
    """
    window = contrast_window_for(kernel_size) if contrast_window is None else contrast_window
    if neighbors is None:
        neighbors = select_neighbors(image, kernel_size, topk)
    contrast = local_contrast(image, trimap, window, contrast_floor)
    if alpha.ndim == 3 and contrast.shape[0] == 1:
        contrast = contrast[0]
    return scaled_ddc_loss_from_neighbors(alpha, neighbors, contrast)
