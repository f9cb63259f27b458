"""MattingCriterion: a weighted sum of named losses, in the ViTMatte spirit.

Names: ``known`` and ``ddc`` / ``dc`` (trimap-only training: the paper's recipe is
``{"known": 1, "ddc": 10}``), ``l1``, ``laplacian``, ``gradient`` (fine labels; need
``batch["alpha"]``) and ``trimap_l1`` (naive baseline). ``gradient`` is averaged over the
trimap's transition (``trimap == 0.5``), as in ViTMatte; ``l1`` and ``laplacian`` over the
whole image. ``scaled_ddc`` (an extension of ours, :mod:`.scaled_ddc`) is DDC with each colour
distance divided by a local foreground / background contrast estimated from the trimap's known
pixels; it is listed in ``EXTENSION_LOSS_NAMES``, apart from the original ``LOSS_NAMES``.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..labels.codec import UNKNOWN
from .ddc import dc_loss_from_neighbors, ddc_loss_from_neighbors
from .fine import gradient_loss, l1_loss, laplacian_loss, trimap_l1_loss
from .known import known_loss
from .neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK, Neighbors, select_neighbors
from .scaled_ddc import DEFAULT_CONTRAST_FLOOR, contrast_window_for, local_contrast, scaled_ddc_loss_from_neighbors

LOSS_NAMES = ("known", "ddc", "dc", "l1", "laplacian", "gradient", "trimap_l1")
_NEEDS_ALPHA = ("l1", "laplacian", "gradient")
#: Losses of our extensions, accepted by the criterion like the original ones.
EXTENSION_LOSS_NAMES = ("scaled_ddc",)
_ALL_LOSS_NAMES = LOSS_NAMES + EXTENSION_LOSS_NAMES
_NEEDS_NEIGHBORS = ("ddc", "dc", "scaled_ddc")


def _check_weights(weights: Mapping[str, float], where: str) -> dict[str, float]:
    if not isinstance(weights, Mapping):
        raise ValueError(f"{where}: weights must be a mapping from loss name to weight; got {type(weights).__name__}")
    unknown = sorted(set(weights) - set(_ALL_LOSS_NAMES))
    if unknown:
        raise ValueError(f"{where}: unknown loss name(s) {unknown}; known names are {list(_ALL_LOSS_NAMES)}")
    checked = {}
    for name, weight in weights.items():
        weight = float(weight)
        if not weight >= 0.0:  # also rejects NaN
            raise ValueError(f"{where}: the weight of {name!r} must be >= 0; got {weight}")
        checked[name] = weight
    return checked


class MattingCriterion(nn.Module):
    """Weighted sum of named matting losses.

    Parameters
    ----------
    weights : mapping str -> float
        Weight of each loss by name (see ``LOSS_NAMES`` and ``EXTENSION_LOSS_NAMES``); missing names weigh 0. A loss whose
        weight is 0 is not computed.
    kernel_size, topk : int, default DEFAULT_KERNEL_SIZE, DEFAULT_TOPK (11, 11)
        DDC / DC window size and number of neighbours, used when the batch carries no
        precomputed ``"neighbors"``.
    known_balanced : bool, default False
        Passed to :func:`known_loss`.
    contrast_window : int, optional
        Odd window of the ``scaled_ddc`` contrast estimate; default ``2 * kernel_size + 1``.
    contrast_floor : float, default 0.05
        Lower clamp of the ``scaled_ddc`` contrast estimate.

    Examples
    --------
    >>> criterion = MattingCriterion({"known": 1.0, "ddc": 10.0})
    >>> losses = criterion(pred, batch)          # doctest: +SKIP
    >>> losses["total"].backward()               # doctest: +SKIP
    """

    def __init__(self, weights: Mapping[str, float], kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK,
                 known_balanced: bool = False, *, contrast_window: int | None = None,
                 contrast_floor: float = DEFAULT_CONTRAST_FLOOR):
        super().__init__()
        self.weights = _check_weights(weights, "MattingCriterion")
        self.kernel_size = kernel_size
        self.topk = topk
        self.known_balanced = known_balanced
        self.contrast_window = contrast_window_for(kernel_size) if contrast_window is None else int(contrast_window)
        self.contrast_floor = float(contrast_floor)

    def extra_repr(self) -> str:
        return (f"weights={self.weights}, kernel_size={self.kernel_size}, topk={self.topk}, "
                f"known_balanced={self.known_balanced}")

    def forward(self, pred: torch.Tensor, batch: Mapping[str, object],
                weights: Mapping[str, float] | None = None) -> dict[str, torch.Tensor]:
        """Compute the losses.

        Parameters
        ----------
        pred : Tensor, shape (B, 1, H, W), float
            Predicted alpha in [0, 1].
        batch : mapping
            ``"image"`` (B, 3, H, W) RGB in [0, 1]; ``"trimap"`` (B, 1, H, W) in {0, 0.5, 1};
            ``"alpha"`` (B, 1, H, W), needed by l1 / laplacian / gradient; optionally
            ``"neighbors"`` (a :class:`Neighbors` of (B, k, H, W) tensors), otherwise the
            neighbours are selected from the image here, once for ddc, dc and scaled_ddc together.
        weights : mapping str -> float, optional
            Replaces the stored weights for this call only (e.g. a DDC-weight ramp).

        Returns
        -------
        dict str -> Tensor (scalars)
            Each computed loss by name, *unweighted*, and ``"total"``, the weighted sum.
        """
        weights = self.weights if weights is None else _check_weights(weights, "MattingCriterion.forward")
        active = [name for name in _ALL_LOSS_NAMES if weights.get(name, 0.0) != 0.0]
        for key in ("image", "trimap"):
            if key not in batch:
                raise ValueError(f"MattingCriterion: the batch has no {key!r} (keys: {sorted(batch)})")
        needs_alpha = [name for name in active if name in _NEEDS_ALPHA]
        if needs_alpha and batch.get("alpha") is None:
            raise ValueError(f"MattingCriterion: loss(es) {needs_alpha} need the true alpha, but the batch has "
                             "no 'alpha' (a trimap-only dataset has none: set their weights to 0)")
        trimap = batch["trimap"]
        neighbors = None
        if any(name in _NEEDS_NEIGHBORS for name in active):
            neighbors = batch.get("neighbors")
            if neighbors is None:
                neighbors = select_neighbors(batch["image"].to(pred.device), self.kernel_size, self.topk)
            neighbors = Neighbors(*(t.to(pred.device) for t in neighbors))

        losses: dict[str, torch.Tensor] = {}
        for name in active:
            if name == "known":
                losses[name] = known_loss(pred, trimap, balanced=self.known_balanced)
            elif name == "ddc":
                losses[name] = ddc_loss_from_neighbors(pred, neighbors)
            elif name == "dc":
                losses[name] = dc_loss_from_neighbors(pred, neighbors)
            elif name == "scaled_ddc":
                contrast = local_contrast(batch["image"].to(pred.device), trimap.to(pred.device),
                                          self.contrast_window, self.contrast_floor)
                losses[name] = scaled_ddc_loss_from_neighbors(pred, neighbors, contrast)
            elif name == "l1":
                losses[name] = l1_loss(pred, batch["alpha"])
            elif name == "laplacian":
                losses[name] = laplacian_loss(pred, batch["alpha"])
            elif name == "gradient":
                losses[name] = gradient_loss(pred, batch["alpha"], mask=trimap == UNKNOWN)
            elif name == "trimap_l1":
                losses[name] = trimap_l1_loss(pred, trimap)
        total = pred.new_zeros(()) + 0.0 * pred.sum() if not losses else None
        for name, value in losses.items():
            term = weights[name] * value
            total = term if total is None else total + term
        losses["total"] = total
        return losses
