"""Transforms that turn a sample's true alpha into the label a run trains from.

:class:`MakeLabel` draws the coarse label (trimap, coarse mask, scribbles) from the alpha;
:class:`DegradeAlpha` replaces the alpha by an imperfect one, as a labelling tool would make
it. Both follow the :class:`mattinglib.data.transforms.Transform` protocol
(``transform(sample, rng) -> sample``), so the label a sample gets is a pure function of the
dataset's seed, epoch and index.
"""
from __future__ import annotations

import numpy as np
import torch

from mattinglib.config import LABELS
from mattinglib.labels import (degrade_alpha, make_coarse_mask, make_release_trimap, make_scribbles, make_trimap,
                               mask_to_trimap)


class MakeLabel:
    """Transform: replace ``sample["trimap"]`` by a coarse training label drawn from its alpha.

    Parameters
    ----------
    kind : {"trimap", "trimap-release", "mask", "scribble"}
        See :mod:`mattinglib.labels`; a coarse mask is turned into a trimap with an unknown
        band of ``mask_band`` px on each side of its boundary.
    trimap_width : (int, int)
        Range of the unknown band's width (px per side) of ``"trimap"`` labels.
    mask_band : int
        Unknown band (px per side) around a coarse mask's boundary.
    """

    def __init__(self, kind: str, trimap_width=(3, 12), mask_band: int = 8):
        if kind not in LABELS:
            raise ValueError(f"unknown label kind {kind!r}; expected one of {LABELS}")
        self.kind, self.trimap_width, self.mask_band = kind, trimap_width, mask_band

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if "alpha" not in sample:
            raise ValueError(f"sample {sample.get('name')!r} has no alpha to draw a {self.kind!r} label from")
        label = self.draw(sample["alpha"][0].numpy().astype(np.float64), rng)
        return sample | {"trimap": torch.from_numpy(label.astype(np.float32))[None]}

    def draw(self, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The label of one (H, W) matte in [0, 1]: (H, W) values in {0, 0.5, 1}."""
        if self.kind == "trimap":
            return make_trimap(alpha, self.trimap_width, rng=rng)
        if self.kind == "trimap-release":
            return make_release_trimap(alpha, rng)
        if self.kind == "mask":
            return mask_to_trimap(make_coarse_mask(alpha, rng), self.mask_band)
        return make_scribbles(alpha, rng)


class DegradeAlpha:
    """Transform: replace ``sample["alpha"]`` by an imperfect alpha label (training sets only).

    ``kind`` as in :func:`mattinglib.labels.degrade_alpha`. Applied after the coarse label is
    drawn, so trimaps still come from the exact matte; only fine supervision reads the alpha.
    """

    def __init__(self, kind: str):
        self.kind = kind

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if sample.get("alpha") is None:
            raise ValueError(f"sample {sample.get('name')!r} has no alpha to degrade into a {self.kind!r} label")
        alpha = degrade_alpha(sample["alpha"][0].numpy().astype(np.float64), self.kind, rng)
        return sample | {"alpha": torch.from_numpy(alpha.astype(np.float32))[None]}
