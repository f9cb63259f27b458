"""Losses against a true alpha (fine labels), and the naive trimap-L1 baseline.

The fine-label baseline (docs/method.md) is L1 over the whole image plus a 5-level Laplacian-pyramid
L1; the ViTMatte recipe adds a Sobel-gradient L1 on the transition region.

Normalisation choices (documented because recipes differ):

- ``laplacian_loss``: the pyramid is built with the 5x5 binomial Gaussian kernel
  ``outer(w, w)``, ``w = [1, 4, 6, 4, 1] / 16``, reflect-padded (ViTMatte / MatteFormer
  recipe): each level blurs, keeps every second pixel, upsamples by zero insertion and a
  blur with 4 times the kernel, and band ``i`` is ``level_i - upsampled(level_(i+1))``
  (``i = 0`` the finest). The loss is ``sum_i 2**i * mean |band_i(alpha) - band_i(gt)|``
  over the ``levels`` bands -- each band's mean, weighted by ``2**i`` as in those recipes,
  and not divided by the number of levels. The residual low-pass image is not compared.
- ``gradient_loss``: Sobel kernels divided by 8 (a unit-slope ramp gives gradient 1 per
  pixel), replicate padding; the loss is the mean over pixels (within the mask if given) of
  ``|gx(alpha) - gx(gt)| + |gy(alpha) - gy(gt)|``.
- ``l1_loss``: mean absolute difference, over the mask if given.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def _check_pair(alpha: torch.Tensor, target: torch.Tensor, target_name: str) -> None:
    if not isinstance(alpha, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise ValueError(f"alpha and {target_name} must be torch tensors")
    if alpha.shape != target.shape:
        raise ValueError(f"alpha {tuple(alpha.shape)} and {target_name} {tuple(target.shape)} "
                         "must have the same shape")
    if alpha.ndim not in (3, 4) or alpha.shape[-3] != 1:
        raise ValueError(f"alpha must have shape (B, 1, H, W) or (1, H, W); got {tuple(alpha.shape)}")


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    return x.unsqueeze(0) if x.ndim == 3 else x


def _masked_mean(error: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return error.mean()
    if mask.shape != error.shape:
        raise ValueError(f"mask must have the shape of alpha {tuple(error.shape)}; got {tuple(mask.shape)}")
    weight = mask.to(error.dtype)
    # Empty mask: a zero connected to alpha rather than 0/0.
    return (error * weight).sum() / weight.sum().clamp(min=1)


def l1_loss(alpha: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean ``|alpha - gt|``, over the pixels where ``mask`` is nonzero when given.

    Parameters
    ----------
    alpha, gt : Tensor, shape (B, 1, H, W) or (1, H, W), float
        Prediction and true alpha in [0, 1].
    mask : Tensor of the same shape, bool or {0, 1}, optional
        Pixels to average over (e.g. the transition); 0 when the mask is empty.

    Returns
    -------
    Tensor, scalar
    """
    _check_pair(alpha, gt, "gt")
    return _masked_mean((alpha - gt).abs(), mask)


def _gaussian_kernel(like: torch.Tensor) -> torch.Tensor:
    w = _BINOMIAL.to(device=like.device, dtype=like.dtype)
    return torch.outer(w, w).view(1, 1, 5, 5)


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel)


def _laplacian_bands(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    kernel = _gaussian_kernel(x)
    bands = []
    current = x
    for _ in range(levels):
        down = _blur(current, kernel)[:, :, ::2, ::2]
        up = torch.zeros_like(current)
        up[:, :, ::2, ::2] = down  # zero insertion; the blur of 4 x kernel interpolates
        up = _blur(up, 4 * kernel)
        bands.append(current - up)
        current = down
    return bands


def laplacian_loss(alpha: torch.Tensor, gt: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """Laplacian-pyramid L1 (see the module docstring for the exact normalisation).

    Parameters
    ----------
    alpha, gt : Tensor, shape (B, 1, H, W) or (1, H, W), float
        Prediction and true alpha in [0, 1]. Every level needs at least 3 pixels per side for
        the reflect padding: ``min(H, W) >= 3 * 2**(levels - 1)``.
    levels : int, default 5
        Number of bands.

    Returns
    -------
    Tensor, scalar
        ``sum_i 2**i * mean |band_i(alpha) - band_i(gt)|``.
    """
    _check_pair(alpha, gt, "gt")
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive integer; got {levels!r}")
    alpha, gt = _as_batch(alpha), _as_batch(gt)
    smallest = min(alpha.shape[-2:])
    if smallest < 3 * 2 ** (levels - 1):
        raise ValueError(f"laplacian_loss with {levels} levels needs H and W >= {3 * 2 ** (levels - 1)}; "
                         f"got {tuple(alpha.shape[-2:])}")
    loss = alpha.new_zeros(())
    for i, (band_alpha, band_gt) in enumerate(zip(_laplacian_bands(alpha, levels), _laplacian_bands(gt, levels))):
        loss = loss + (2 ** i) * (band_alpha - band_gt).abs().mean()
    return loss


def _sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    kernel_x = _SOBEL_X.to(device=x.device, dtype=x.dtype).view(1, 1, 3, 3)
    kernel_y = kernel_x.transpose(2, 3)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv2d(padded, kernel_x), F.conv2d(padded, kernel_y)


def gradient_loss(alpha: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sobel-gradient L1: mean ``|gx(a) - gx(gt)| + |gy(a) - gy(gt)|``.

    Parameters
    ----------
    alpha, gt : Tensor, shape (B, 1, H, W) or (1, H, W), float
        Prediction and true alpha in [0, 1].
    mask : Tensor of the same shape, optional
        Where to average (the ViTMatte recipe uses the transition region, trimap == 0.5).

    Returns
    -------
    Tensor, scalar
        In alpha units per pixel (Sobel normalised by 1/8).
    """
    _check_pair(alpha, gt, "gt")
    squeeze = alpha.ndim == 3
    alpha_gx, alpha_gy = _sobel(_as_batch(alpha))
    gt_gx, gt_gy = _sobel(_as_batch(gt))
    error = (alpha_gx - gt_gx).abs() + (alpha_gy - gt_gy).abs()
    return _masked_mean(error[0] if squeeze else error, mask)


def trimap_l1_loss(alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """Naive baseline: mean ``|alpha - T|`` over all pixels, the unknown ones pulled to 0.5.

    Parameters
    ----------
    alpha : Tensor, shape (B, 1, H, W) or (1, H, W), float
    trimap : Tensor, same shape, values in {0, 0.5, 1}

    Returns
    -------
    Tensor, scalar
    """
    _check_pair(alpha, trimap, "trimap")
    return (alpha - trimap.to(alpha.dtype)).abs().mean()
