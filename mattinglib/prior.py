"""DDC as a matting prior on its own: alpha optimised directly, with no network.

Given one image and its trimap, minimise ``L_known + weight * L_DDC`` (or DC) over free
per-pixel alpha (through a sigmoid on logits, so alpha stays in (0, 1)). This separates a
failure of the *loss* from a failure of the *network*: if the optimum of the loss is a good
matte but a network trained with it is not, the network (capacity, resolution, training) is
the bottleneck, not the loss.
"""
from __future__ import annotations

import numpy as np
import torch

from .losses import dc_loss_from_neighbors, ddc_loss_from_neighbors, known_loss, select_neighbors
from .losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK


def optimise_alpha(image: np.ndarray, trimap: np.ndarray, loss: str = "ddc", weight: float = 10.0,
                   kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK, steps: int = 600, lr: float = 0.1,
                   init: str = "trimap") -> np.ndarray:
    """Alpha that minimises the known loss plus ``weight`` x DDC (or DC) for one image.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float in [0, 1]
    trimap : ndarray, shape (H, W), values {0, 0.5, 1}
    loss : {"ddc", "dc", "none"}
        The propagation term ("none": known loss only, i.e. the initial unknown values stay).
    weight : float
        Its weight (lambda of the paper, 10 by default).
    kernel_size, topk : int
        Neighbour window and count.
    steps : int
        Adam steps on the alpha logits.
    lr : float
        Adam learning rate on the logits.
    init : {"trimap", "half"}
        Start from the trimap's levels (unknown at 0.5, known at 0.02 / 0.98) or 0.5 everywhere.

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]
        The optimised alpha. Deterministic for the same inputs (CPU).
    """
    if loss not in ("ddc", "dc", "none"):
        raise ValueError(f"loss must be 'ddc', 'dc' or 'none', got {loss!r}")
    if image.shape[:2] != trimap.shape:
        raise ValueError(f"image {image.shape[:2]} and trimap {trimap.shape} differ in size")
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[None]
    t = torch.from_numpy(trimap.astype(np.float32))[None, None]
    start = t.clamp(0.02, 0.98) if init == "trimap" else torch.full_like(t, 0.5)
    logits = torch.logit(start).requires_grad_(True)
    neighbors = select_neighbors(x, kernel_size, topk) if loss != "none" else None
    propagate = {"ddc": ddc_loss_from_neighbors, "dc": dc_loss_from_neighbors}.get(loss)
    optimiser = torch.optim.Adam([logits], lr=lr)
    for _ in range(steps):
        alpha = torch.sigmoid(logits)
        total = known_loss(alpha, t)
        if propagate is not None:
            total = total + weight * propagate(alpha, neighbors)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
    return torch.sigmoid(logits).detach()[0, 0].double().numpy()
