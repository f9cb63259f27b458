"""DDC as a matting prior on its own: alpha optimised directly, with no network.

Given one image and its trimap, minimise ``L_known + weight * L_DDC`` (or DC) over free
per-pixel alpha (through a sigmoid on logits, so alpha stays in (0, 1)). This separates a
failure of the *loss* from a failure of the *network*: if the optimum of the loss is a good
matte but a network trained with it is not, the network (capacity, resolution, training) is
the bottleneck, not the loss.

:func:`optimise_alpha` is the one implementation: the study's prior (notebook 02, one scale)
and ``python -m mattinglib matte --method ddc-prior`` (:func:`mattinglib.matte.ddc_prior_alpha`,
coarse to fine with its own defaults) both run it.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .losses import dc_loss_from_neighbors, ddc_loss_from_neighbors, known_loss, select_neighbors
from .losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK

#: The propagation terms :func:`optimise_alpha` adds to the known loss ("none": none).
PROPAGATIONS = {"ddc": ddc_loss_from_neighbors, "dc": dc_loss_from_neighbors, "none": None}
#: Known pixels start at these alpha values (not 0 / 1, whose logits are infinite).
INIT_CLAMP = (0.02, 0.98)

StepCallback = Callable[[int, int, torch.Tensor], None]


def image_pyramid(x: torch.Tensor, t: torch.Tensor, levels: int,
                  kernel_size: int = DEFAULT_KERNEL_SIZE) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Image and trimap at up to ``levels`` scales, halving each time, coarsest first.

    The image (1, 3, H, W) is area-averaged. A coarse trimap (1, 1, h, w) pixel is known only
    when every fine pixel it averages has that known value; any mixture becomes unknown, so
    that no coarse level claims more than the trimap says. Halving stops before a side would
    drop below the window ``kernel_size``.
    """
    scales = [(x, t)]
    for _ in range(levels - 1):
        x_fine, t_fine = scales[-1]
        height, width = x_fine.shape[-2:]
        if min(height, width) < 2 * kernel_size:
            break  # the window would cover the whole coarser image: nothing left to gain
        size = (math.ceil(height / 2), math.ceil(width / 2))
        x_coarse = F.interpolate(x_fine, size=size, mode="area")
        mean = F.interpolate(t_fine, size=size, mode="area")
        t_coarse = torch.full_like(mean, 0.5)
        t_coarse[mean <= 1e-6] = 0.0
        t_coarse[mean >= 1 - 1e-6] = 1.0
        scales.append((x_coarse, t_coarse))
    return scales[::-1]


def _optimise_level(x: torch.Tensor, t: torch.Tensor, start: torch.Tensor, loss: str, weight: float, steps: int,
                    lr: float, final_lr: float, kernel_size: int, topk: int,
                    on_step: Callable[[torch.Tensor], None]) -> torch.Tensor:
    """Adam on the logits of one level; returns the optimised logits (no gradient)."""
    logits = torch.logit(start).requires_grad_(True)
    propagate = PROPAGATIONS[loss]
    neighbors = select_neighbors(x, kernel_size, topk) if propagate is not None else None
    optimiser = torch.optim.Adam([logits], lr=lr)
    for step in range(steps):
        if final_lr != 1.0:
            # Cosine decay from lr to final_lr * lr: Adam's sign-like steps on a piecewise linear
            # loss jitter by about lr; decaying it lets alpha settle.
            progress = step / max(steps - 1, 1)
            factor = final_lr + (1 - final_lr) * 0.5 * (1 + math.cos(math.pi * progress))
            optimiser.param_groups[0]["lr"] = lr * factor
        alpha = torch.sigmoid(logits)
        total = known_loss(alpha, t)
        if propagate is not None:
            total = total + weight * propagate(alpha, neighbors)
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        on_step(logits.detach())
    return logits.detach()


def optimise_alpha(image: np.ndarray, trimap: np.ndarray, loss: str = "ddc", weight: float = 10.0,
                   kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK, steps: int = 600, lr: float = 0.1,
                   init: str = "trimap", levels: int = 1, coarse_steps: int | None = None, final_lr: float = 1.0,
                   on_step: StepCallback | None = None) -> np.ndarray:
    """Alpha that minimises the known loss plus ``weight`` x DDC (or DC) for one image.

    With ``levels > 1`` it is optimised coarse to fine: the image and trimap are first halved
    ``levels - 1`` times (:func:`image_pyramid`); each finer level starts its unknown pixels
    from the bilinear upsampling of the coarser level's alpha (known pixels restart from
    ``init``), so alpha crosses a wide unknown band in a few coarse steps instead of hundreds
    of full-size ones.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float in [0, 1]
    trimap : ndarray, shape (H, W), values {0, 0.5, 1}
    loss : {"ddc", "dc", "none"}
        The propagation term ("none": known loss only, i.e. the initial unknown values stay).
    weight : float
        Its weight (lambda of the paper, 10 by default).
    kernel_size, topk : int
        Neighbour window (K x K) and count (k).
    steps : int
        Adam steps on the alpha logits (at full size).
    lr : float
        Adam learning rate on the logits (at the start of each level).
    init : {"trimap", "half"}
        Start from the trimap's levels (unknown at 0.5, known at :data:`INIT_CLAMP`) or 0.5 everywhere.
    levels : int
        Number of scales (1: full size only). Fewer are used when the image is too small.
    coarse_steps : int, optional
        Adam steps at each coarser scale; default ``steps``.
    final_lr : float
        The learning rate decays (cosine) to ``final_lr * lr`` by the end of each level;
        1 keeps it constant.
    on_step : callable ``(done, total, logits)``, optional
        Called after every Adam step with the steps done so far over all levels, their total,
        and the current level's logits, shape (1, 1, h, w) (a progress bar; a tuning script
        reading intermediate results). ``logits`` must not be modified.

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]
        The optimised alpha. Deterministic for the same inputs (CPU).
    """
    if loss not in PROPAGATIONS:
        raise ValueError(f"loss must be 'ddc', 'dc' or 'none', got {loss!r}")
    if init not in ("trimap", "half"):
        raise ValueError(f"init must be 'trimap' or 'half', got {init!r}")
    image = np.asarray(image)
    trimap = np.asarray(trimap)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != trimap.shape:
        raise ValueError(f"image {image.shape} must be (H, W, 3) and trimap {trimap.shape} (H, W): they differ "
                         "in size or shape")
    coarse_steps = steps if coarse_steps is None else coarse_steps
    if steps < 0 or coarse_steps < 0 or levels < 1:
        raise ValueError(f"steps ({steps}) and coarse_steps ({coarse_steps}) must be >= 0 and levels ({levels}) >= 1")
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[None]
    t = torch.from_numpy(np.ascontiguousarray(trimap, dtype=np.float32))[None, None]
    scales = image_pyramid(x, t, levels, kernel_size)
    budget = [coarse_steps] * (len(scales) - 1) + [steps]
    total, done = sum(budget), 0

    def report(logits: torch.Tensor) -> None:
        nonlocal done
        done += 1
        if on_step is not None:
            on_step(done, total, logits)

    logits = None
    for (x_level, t_level), n_steps in zip(scales, budget):
        start = t_level.clamp(*INIT_CLAMP) if init == "trimap" else torch.full_like(t_level, 0.5)
        if logits is not None:
            coarse = torch.sigmoid(F.interpolate(logits, size=t_level.shape[-2:], mode="bilinear", align_corners=False))
            unknown = t_level == 0.5
            # A looser clamp than the known pixels': what the coarse level settled is kept.
            start = torch.where(unknown, coarse.clamp(1e-3, 1 - 1e-3), start)
        logits = _optimise_level(x_level, t_level, start, loss, weight, n_steps, lr, final_lr, kernel_size, topk,
                                 report)
    return torch.sigmoid(logits)[0, 0].double().numpy()
