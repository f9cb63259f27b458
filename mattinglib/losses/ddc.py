"""The DDC loss (directional distance consistency) and its undirected ablation, DC.

``L_DDC = mean over b, i, j in S_i of |d_ij - (a_i - a_j)|`` and
``L_DC  = mean |d_ij - |a_i - a_j||``, with the neighbours ``S_i`` and distances ``d_ij`` of
:func:`mattinglib.losses.select_neighbors`. Plain means over ``B * k * H * W`` terms, no
weight (the trimap-only recipe multiplies L_DDC by 10 outside).

Both are one fused ``torch.autograd.Function``: the loss is piecewise linear in alpha, so the
forward pass computes the loss *and* its gradient in the same sweep over the ``k * H * W``
pairs (the sign of every term, scattered to ``i`` and ``j``), keeps only that ``(B, H*W)``
gradient, and the backward pass is one multiplication by the incoming scalar gradient. No
``(B, k, H, W)`` intermediate is kept for the backward. On CPU the sweep is a serial numba
kernel (safe in forked DataLoader workers); on other devices, or without numba, the same
computation in torch (gather, sign, one ``scatter_add_``).

The derivative of ``|x|`` at 0 is taken as 0 (``sign(0) = 0``), as torch's ``abs`` does, so
the results equal those of autograd through the naive formulation, including the centre
pair ``j = i`` (``d = 0``, ``a_i - a_i = 0``), which contributes nothing. The loss is not
twice differentiable (the function is marked ``once_differentiable``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from .neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK, Neighbors, numba, select_neighbors

if numba is not None:

    @numba.njit(cache=True, nogil=True)
    def _pair_sweep_kernel(alpha_flat, distance, index, directed, want_grad, grad_count):  # pragma: no cover
        """Numba kernel. alpha_flat (B, H*W + 1) with a trailing 0; distance, index (B, k, H*W).

        Returns the sum of the terms (float64); adds d(term)/d(alpha) (a count of signs, exact
        in float) to grad_count (B, H*W + 1) when want_grad.
        """
        n_batch, topk, n_pixels = distance.shape
        total = 0.0
        # Plane by plane (m outer): distance and index are read sequentially.
        for b in range(n_batch):
            for m in range(topk):
                for p in range(n_pixels):
                    j = index[b, m, p]
                    alpha_difference = alpha_flat[b, p] - alpha_flat[b, j]
                    if directed:
                        residual = distance[b, m, p] - alpha_difference
                    else:
                        residual = distance[b, m, p] - abs(alpha_difference)
                    total += abs(residual)
                    if want_grad:
                        # d|r|/da_i = -sign(r) * d(alpha term)/da_i, and the opposite for a_j;
                        # sign(0) = 0 as in torch. Branch-free: the signs are unpredictable.
                        step = np.float64(residual > 0) - np.float64(residual < 0)
                        if not directed:
                            step *= np.float64(alpha_difference > 0) - np.float64(alpha_difference < 0)
                        grad_count[b, p] -= step
                        grad_count[b, j] += step
        return total


def _pad_flat(alpha: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B, H*W + 1) with a trailing zero: the alpha of 'outside the image'."""
    flat = alpha.reshape(alpha.shape[0], -1)
    return torch.cat([flat, flat.new_zeros(flat.shape[0], 1)], dim=1)


def _sweep_numba(alpha_flat, distance, index, directed, want_grad):
    grad_count = torch.zeros_like(alpha_flat) if want_grad else alpha_flat.new_zeros(1, 1)
    total = _pair_sweep_kernel(alpha_flat.numpy(), distance.numpy(), index.numpy(),
                               directed, want_grad, grad_count.numpy())
    return total, grad_count


def _sweep_torch(alpha_flat, distance, index, directed, want_grad):
    n_batch, topk, n_pixels = distance.shape
    alpha_j = torch.gather(alpha_flat, 1, index.view(n_batch, -1)).view(n_batch, topk, n_pixels)
    alpha_difference = torch.sub(alpha_flat[:, None, :n_pixels], alpha_j, out=alpha_j)  # reuse memory
    if directed:
        residual = distance - alpha_difference
    else:
        residual = distance - alpha_difference.abs()
    total = residual.abs().sum(dtype=torch.float64).item()
    grad_count = None
    if want_grad:
        step = residual.sign_()
        if not directed:
            step.mul_(alpha_difference.sign_())
        grad_count = torch.zeros_like(alpha_flat)
        grad_count.scatter_add_(1, index.view(n_batch, -1), step.view(n_batch, -1))
        grad_count[:, :n_pixels] -= step.sum(1)
    return total, grad_count


class _PairLoss(torch.autograd.Function):
    """Fused DDC / DC loss: forward returns the mean and stores its gradient."""

    @staticmethod
    def forward(ctx, alpha, distance, index, directed):
        n_batch, _, height, width = alpha.shape
        topk = distance.shape[1]
        alpha_flat = _pad_flat(alpha.detach())
        distance = distance.detach().reshape(n_batch, topk, height * width)
        index = index.reshape(n_batch, topk, height * width)
        want_grad = ctx.needs_input_grad[0]
        use_numba = numba is not None and alpha.device.type == "cpu"
        if use_numba:
            alpha_flat = alpha_flat.contiguous()
            distance, index = distance.contiguous(), index.contiguous()
            total, grad_count = _sweep_numba(alpha_flat, distance, index, directed, want_grad)
        else:
            total, grad_count = _sweep_torch(alpha_flat, distance, index, directed, want_grad)
        n_terms = n_batch * topk * height * width
        if want_grad:
            # Drop the slot of 'outside the image': that alpha is the constant 0, not a parameter.
            ctx.save_for_backward(grad_count[:, :height * width].reshape(alpha.shape))
            ctx.n_terms = n_terms
        return alpha.new_tensor(total / n_terms)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (grad_count,) = ctx.saved_tensors
        return grad_count * (grad_output / ctx.n_terms), None, None, None


def _check_pair_inputs(alpha: torch.Tensor, neighbors: Neighbors) -> tuple[torch.Tensor, Neighbors]:
    if not isinstance(alpha, torch.Tensor) or not alpha.is_floating_point():
        raise ValueError(f"alpha must be a floating-point torch.Tensor; got {getattr(alpha, 'dtype', type(alpha))}")
    distance, index = neighbors
    if alpha.ndim == 3:
        alpha = alpha.unsqueeze(0)
        if distance.ndim == 3:
            distance, index = distance.unsqueeze(0), index.unsqueeze(0)
    if alpha.ndim != 4 or alpha.shape[1] != 1:
        raise ValueError(f"alpha must have shape (B, 1, H, W) or (1, H, W); got {tuple(alpha.shape)}")
    n_batch, _, height, width = alpha.shape
    if distance.ndim != 4 or distance.shape[0] != n_batch or distance.shape[2:] != (height, width):
        raise ValueError(f"neighbors.distance must have shape (B, k, H, W) = ({n_batch}, k, {height}, {width}) "
                         f"to match alpha; got {tuple(distance.shape)}")
    if index.shape != distance.shape or index.dtype != torch.int64:
        raise ValueError(f"neighbors.index must be int64 with the shape of neighbors.distance "
                         f"{tuple(distance.shape)}; got {index.dtype} {tuple(index.shape)}")
    if distance.device != alpha.device or index.device != alpha.device:
        raise ValueError(f"alpha ({alpha.device}) and neighbors ({distance.device}) must be on the same device")
    return alpha, Neighbors(distance.to(alpha.dtype), index)


def ddc_loss_from_neighbors(alpha: torch.Tensor, neighbors: Neighbors) -> torch.Tensor:
    """DDC loss given precomputed neighbours.

    Parameters
    ----------
    alpha : Tensor, shape (B, 1, H, W) or (1, H, W), float32 or float64
        Predicted alpha in [0, 1].
    neighbors : Neighbors
        From :func:`select_neighbors` on the matching image: ``distance`` and ``index`` of
        shape (B, k, H, W) (or (k, H, W) with an unbatched alpha), same device as alpha.

    Returns
    -------
    Tensor, scalar, alpha's dtype
        ``mean |d_ij - (a_i - a_j)|`` over ``B * k * H * W`` terms; differentiable in alpha.
    """
    alpha, neighbors = _check_pair_inputs(alpha, neighbors)
    return _PairLoss.apply(alpha, neighbors.distance, neighbors.index, True)


def dc_loss_from_neighbors(alpha: torch.Tensor, neighbors: Neighbors) -> torch.Tensor:
    """DC loss ``mean |d_ij - |a_i - a_j||`` given precomputed neighbours.

    Same parameters and return value as :func:`ddc_loss_from_neighbors`.
    """
    alpha, neighbors = _check_pair_inputs(alpha, neighbors)
    return _PairLoss.apply(alpha, neighbors.distance, neighbors.index, False)


def ddc_loss(image: torch.Tensor, alpha: torch.Tensor, kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK) -> torch.Tensor:
    """DDC loss with the neighbour selection done here (see :func:`select_neighbors`).

    Parameters
    ----------
    image : Tensor, shape (B, 3, H, W) or (3, H, W)
        RGB in [0, 1].
    alpha : Tensor, shape (B, 1, H, W) or (1, H, W), image's dtype
        Predicted alpha in [0, 1].
    kernel_size, topk : int, default 11, 11
        Window size ``K`` and number of neighbours ``k``.

    Returns
    -------
    Tensor, scalar
    """
    return ddc_loss_from_neighbors(alpha, select_neighbors(image, kernel_size, topk))


def dc_loss(image: torch.Tensor, alpha: torch.Tensor, kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK) -> torch.Tensor:
    """DC loss with the neighbour selection done here; parameters as :func:`ddc_loss`."""
    return dc_loss_from_neighbors(alpha, select_neighbors(image, kernel_size, topk))
