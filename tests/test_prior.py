"""DDC as a prior: per-pixel optimisation recovers alpha from a trimap on a composite."""
import numpy as np
import pytest

from mattinglib.data import SyntheticMattingDataset
from mattinglib.evaluate import sample_arrays
from mattinglib.metrics import matting_metrics
from mattinglib.prior import optimise_alpha


def test_ddc_prior_beats_the_trimap_and_is_deterministic():
    image, alpha, trimap = sample_arrays(SyntheticMattingDataset(size=64, length=1, seed=3, split="test")[0])
    trimap_sad = matting_metrics(trimap, alpha, trimap, "unknown")["sad"]
    first = optimise_alpha(image, trimap, "ddc", 10.0, kernel_size=7, topk=7, steps=150)
    again = optimise_alpha(image, trimap, "ddc", 10.0, kernel_size=7, topk=7, steps=150)
    assert np.array_equal(first, again)
    assert matting_metrics(first, alpha, trimap, "unknown")["sad"] < 0.8 * trimap_sad
    assert first.shape == alpha.shape and 0 <= first.min() and first.max() <= 1


def test_prior_refuses_bad_input():
    with pytest.raises(ValueError, match="loss"):
        optimise_alpha(np.zeros((8, 8, 3)), np.zeros((8, 8)), loss="l2")
    with pytest.raises(ValueError, match="differ"):
        optimise_alpha(np.zeros((8, 8, 3)), np.zeros((8, 9)))
