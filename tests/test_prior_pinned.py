"""The per-image DDC prior gives the same bits as before it had one implementation.

``mattinglib.matte`` (the ``matte`` command, coarse to fine) and ``mattinglib.prior`` (the
study's prior, notebook 02) each had their own optimisation loop; both now run
:func:`mattinglib.prior.optimise_alpha`. The SHA-256 digests below are of the float64 alphas
the two loops returned, recorded before they were merged (torch 2.13 on CPU; the same with one
thread or two), on a small image: a soft-edged disc of 96 x 88 px.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mattinglib.matte import ddc_prior_alpha, matte_image
from mattinglib.prior import optimise_alpha

#: ``matte_image(image, trimap)`` with every default (ddc-prior, 3 levels asked, 2 used, 41 x 41 window).
MATTE_DIGEST = "9d3fbe3d8c858ff5d81756217c64e19bf7be8ec47072ad84b28ea9a7f9cdb9be"
#: ``ddc_prior_alpha`` on 3 levels with a cosine decay of the learning rate.
COARSE_TO_FINE_DIGEST = "f3b155e0cf7d0cc3de6a3b2d0857b1fc8c574e3155e907bbb59b43af8183d8de"
#: ``optimise_alpha(image, trimap, loss, 10.0, kernel_size=7, topk=7, steps=60, init=init)``.
PRIOR_DIGESTS = {
    ("ddc", "trimap"): "3d681fb9125f6e13f5066cd323b2987ecac1a48005c426bcd0f9eefd085b50bb",
    ("ddc", "half"): "dc31c6496e503d128ca3ae27d7dc8c53c510955037e7d8db42cf24c4d3cee37b",
    ("dc", "trimap"): "43641b4aaa0ab00f7f8cd1e4c3b56cbfd78b6fd4b2d826555cc9cb9a4f0b2d87",
    ("dc", "half"): "eb39327cd4da734f69c7940b2ccc8eab31096f23b329d7d4d8778dcf30d6af3a",
    ("none", "trimap"): "80eae3636fa8e5480324cf4f1215118af3f242805dd9956249bcf8a3b2b23b0f",
    ("none", "half"): "f439768da63954b9687e9ff246251c06388f647bba0e9694a1c8882d2767cb6a",
}


def disc_scene(height: int = 96, width: int = 88):
    """(image (H, W, 3) float64 in [0, 1], trimap (H, W)): a red disc on blue with a little noise,
    the trimap's unknown band straddling its soft edge."""
    yy, xx = np.mgrid[:height, :width]
    radius = np.hypot(yy - height / 2 + 0.5, xx - width / 2 + 0.5)
    alpha = np.clip(height / 4 + 1.0 - radius, 0.0, 1.0)
    noise = np.random.default_rng(0).normal(0, 0.01, (height, width, 3))
    image = np.clip(alpha[..., None] * [0.9, 0.2, 0.1] + (1 - alpha[..., None]) * [0.1, 0.3, 0.8] + noise, 0, 1)
    trimap = np.full((height, width), 0.5)
    trimap[radius < height / 4 - 5] = 1.0
    trimap[radius > height / 4 + 6] = 0.0
    return image, trimap


def digest(alpha: np.ndarray) -> str:
    assert alpha.dtype == np.float64 and alpha.shape == (96, 88)
    return hashlib.sha256(np.ascontiguousarray(alpha).tobytes()).hexdigest()


def test_the_matte_of_a_small_image_is_the_one_of_before():
    image, trimap = disc_scene()
    assert digest(matte_image(image, trimap)) == MATTE_DIGEST
    coarse_to_fine = ddc_prior_alpha(image, trimap, steps=20, coarse_steps=15, levels=3, final_lr=0.1,
                                     kernel_size=11, topk=5)
    assert digest(coarse_to_fine) == COARSE_TO_FINE_DIGEST


@pytest.mark.parametrize("loss,init", list(PRIOR_DIGESTS))
def test_the_study_prior_is_the_one_of_before(loss, init):
    image, trimap = disc_scene()
    alpha = optimise_alpha(image, trimap, loss, 10.0, kernel_size=7, topk=7, steps=60, init=init)
    assert digest(alpha) == PRIOR_DIGESTS[loss, init]
