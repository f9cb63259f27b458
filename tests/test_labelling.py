"""The label transforms of mattinglib.data.labelling: MakeLabel and DegradeAlpha.

What they promise: each label kind is drawn by its own generator with the transform's widths,
from the exact alpha and from the given generator only (so a sample's label is a pure function
of its generator's seed); the sample comes back as a new dict with only its ``trimap`` (MakeLabel)
or ``alpha`` (DegradeAlpha) replaced, as a float32 (1, H, W) tensor; a sample without an alpha,
or an unknown kind, is an error naming it.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mattinglib.build import train_transform
from mattinglib.config import LABELS, TrainConfig
from mattinglib.data.labelling import DegradeAlpha, MakeLabel
from mattinglib.data.transforms import make_sample
from mattinglib.labels import (ALPHA_LABELS, degrade_alpha, make_coarse_mask, make_release_trimap, make_scribbles,
                               make_trimap, mask_to_trimap)

HEIGHT, WIDTH, EDGE = 48, 64, 32


def _edge_alpha() -> np.ndarray:
    """(HEIGHT, WIDTH) matte: 1 left of column EDGE, a soft column EDGE (128/255), 0 right of it."""
    alpha = np.zeros((HEIGHT, WIDTH))
    alpha[:, :EDGE] = 1.0
    alpha[:, EDGE] = 128 / 255
    return alpha


def _disk_alpha(size: int = 64) -> np.ndarray:
    """A soft-rimmed disk quantised to 8 bits, wide enough for scribbles on both sides."""
    yy, xx = np.mgrid[:size, :size]
    distance = np.hypot(yy - size / 2, xx - size / 2)
    return np.round(np.clip((20.0 - distance) / 4.0, 0, 1) * 255) / 255


def _sample(alpha: np.ndarray, name: str = "edge") -> dict:
    """A sample whose trimap (all unknown) no label kind can produce unchanged."""
    image = np.random.default_rng(7).random((*alpha.shape, 3))
    return make_sample(name, image, np.full(alpha.shape, 0.5), alpha)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_unknown_label_kind_is_rejected_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown label kind 'fine'") as error:
        MakeLabel("fine")
    assert all(kind in str(error.value) for kind in LABELS)


@pytest.mark.parametrize("kind", LABELS)
def test_each_kind_is_drawn_by_its_own_generator(kind):
    """Same alpha, same seed: the label is the one its generator draws with the transform's widths."""
    alpha = _disk_alpha()
    expected = {"trimap": lambda rng: make_trimap(alpha, (2, 6), rng=rng),
                "trimap-release": lambda rng: make_release_trimap(alpha, rng),
                "mask": lambda rng: mask_to_trimap(make_coarse_mask(alpha, rng), 5),
                "scribble": lambda rng: make_scribbles(alpha, rng)}[kind](_rng(3))
    label = MakeLabel(kind, trimap_width=(2, 6), mask_band=5).draw(alpha, _rng(3))
    assert label.shape == alpha.shape and set(np.unique(label)) <= {0.0, 0.5, 1.0}
    np.testing.assert_array_equal(label, expected)


def test_the_kinds_draw_different_labels():
    alpha = _disk_alpha()
    labels = {kind: MakeLabel(kind).draw(alpha, _rng(3)) for kind in LABELS}
    for i, first in enumerate(LABELS):
        for second in LABELS[i + 1:]:
            assert not np.array_equal(labels[first], labels[second]), (first, second)


@pytest.mark.parametrize("width", [0, 2, 5])
def test_a_trimap_label_has_the_band_width_it_is_given(width):
    """Around a straight edge the unknown band is the soft column plus ``width`` px on each side,
    and what it calls known agrees with the alpha."""
    alpha = _edge_alpha()
    label = MakeLabel("trimap", trimap_width=(width, width)).draw(alpha, _rng())
    unknown_columns = np.flatnonzero((label == 0.5).all(axis=0))
    np.testing.assert_array_equal(unknown_columns, np.arange(EDGE - width, EDGE + width + 1))
    assert np.all(alpha[label == 1.0] == 1.0) and np.all(alpha[label == 0.0] == 0.0)
    assert set(np.unique(label)) == {0.0, 0.5, 1.0}


def test_a_trimap_label_draws_its_width_from_the_range():
    """A (lo, hi) range draws the width per label: several seeds give several band widths, each in range."""
    alpha = _edge_alpha()
    widths = set()
    for seed in range(12):
        label = MakeLabel("trimap", trimap_width=(1, 8)).draw(alpha, _rng(seed))
        band = (label == 0.5).all(axis=0)
        left, right = EDGE - np.flatnonzero(band).min(), np.flatnonzero(band).max() - EDGE
        assert 1 <= left <= 8 and 1 <= right <= 8  # foreground and background drawn each in range
        widths.add((left, right))
    assert len(widths) > 3


def test_a_mask_label_has_the_band_it_is_given():
    alpha = _disk_alpha()
    without_band = MakeLabel("mask", mask_band=0).draw(alpha, _rng(5))
    with_band = MakeLabel("mask", mask_band=4).draw(alpha, _rng(5))
    assert set(np.unique(without_band)) == {0.0, 1.0}  # the coarse mask itself
    assert (with_band == 0.5).sum() > 0
    # The band only takes pixels away from the known ones: nothing flips between FG and BG.
    known = with_band != 0.5
    np.testing.assert_array_equal(with_band[known], without_band[known])


def test_scribbles_label_only_sure_pixels():
    alpha = _disk_alpha()
    label = MakeLabel("scribble").draw(alpha, _rng(2))
    assert (label == 1.0).any() and (label == 0.0).any()
    assert np.all(alpha[label == 1.0] == 1.0) and np.all(alpha[label == 0.0] == 0.0)
    assert (label == 0.5).mean() > 0.5  # sparse: most pixels stay unlabelled


@pytest.mark.parametrize("kind", LABELS)
def test_make_label_replaces_only_the_trimap(kind):
    sample = _sample(_disk_alpha(), name="disk")
    before = {key: value.clone() if torch.is_tensor(value) else value for key, value in sample.items()}
    labelled = MakeLabel(kind)(sample, _rng(4))
    assert labelled is not sample and set(labelled) == set(sample)
    for key in ("image", "alpha", "name"):
        assert labelled[key] is sample[key]
    # The caller's sample is left as it was.
    assert all(torch.equal(sample[key], before[key]) for key in ("image", "trimap", "alpha"))
    trimap = labelled["trimap"]
    assert trimap.dtype == torch.float32 and trimap.shape == (1, 64, 64)
    expected = MakeLabel(kind).draw(sample["alpha"][0].numpy().astype(np.float64), _rng(4))
    np.testing.assert_array_equal(trimap[0].numpy(), expected.astype(np.float32))
    assert not torch.equal(trimap, sample["trimap"])


@pytest.mark.parametrize("kind", LABELS)
def test_the_label_depends_on_the_generator_only(kind):
    """Same seed, same label, whatever numpy's global state; other seeds draw other labels."""
    sample, make = _sample(_disk_alpha()), MakeLabel(kind, trimap_width=(2, 9))
    np.random.seed(1)
    first = make(sample, _rng(11))["trimap"]
    np.random.seed(2)
    torch.manual_seed(2)
    again = make(sample, _rng(11))["trimap"]
    assert torch.equal(first, again)
    others = [make(sample, _rng(seed))["trimap"] for seed in range(12, 18)]
    assert any(not torch.equal(first, other) for other in others)


def test_a_sample_without_alpha_is_an_error_naming_it():
    image = np.zeros((8, 8, 3))
    no_alpha = make_sample("photo_3", image, np.full((8, 8), 0.5))
    with pytest.raises(ValueError, match=r"'photo_3' has no alpha to draw a 'mask' label"):
        MakeLabel("mask")(no_alpha, _rng())
    with pytest.raises(ValueError, match=r"'photo_3' has no alpha to degrade into a 'smoothed' label"):
        DegradeAlpha("smoothed")(no_alpha, _rng())
    with pytest.raises(ValueError, match="'photo_3' has no alpha"):
        DegradeAlpha("smoothed")(no_alpha | {"alpha": None}, _rng())


@pytest.mark.parametrize("kind", ALPHA_LABELS)
def test_degrade_alpha_replaces_only_the_alpha(kind):
    sample = _sample(_disk_alpha(), name="disk")
    exact = sample["alpha"].clone()
    degraded = DegradeAlpha(kind)(sample, _rng(6))
    assert degraded is not sample and set(degraded) == set(sample)
    for key in ("image", "trimap", "name"):
        assert degraded[key] is sample[key]
    assert torch.equal(sample["alpha"], exact)  # the caller's alpha is left as it was
    alpha = degraded["alpha"]
    assert alpha.dtype == torch.float32 and alpha.shape == exact.shape
    expected = degrade_alpha(exact[0].numpy().astype(np.float64), kind, _rng(6))
    np.testing.assert_array_equal(alpha[0].numpy(), expected.astype(np.float32))
    assert torch.equal(alpha, exact) == (kind == "exact")
    assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0


def test_shifted_alpha_takes_its_direction_from_the_generator():
    sample = _sample(_disk_alpha())
    shifted = [DegradeAlpha("shifted")(sample, _rng(seed))["alpha"] for seed in range(8)]
    assert torch.equal(shifted[0], DegradeAlpha("shifted")(sample, _rng(0))["alpha"])
    # Outwards the matte grows, inwards it shrinks: both directions occur among the seeds.
    areas = {round(float(alpha.sum()), 3) for alpha in shifted}
    exact_area = float(sample["alpha"].sum())
    assert min(areas) < exact_area < max(areas)


def test_unknown_alpha_label_kind_is_an_error():
    with pytest.raises(ValueError, match="alpha label kind must be one of"):
        DegradeAlpha("blurred")(_sample(_edge_alpha()), _rng())


def test_training_labels_come_from_the_exact_alpha_before_it_is_degraded():
    """train_transform draws the trimap first, then degrades the alpha: the trimap a run trains
    from is the one the exact matte gives, and only the alpha (fine supervision) is imperfect."""
    config = TrainConfig(label="trimap", alpha_label="combined", trimap_width=(3, 3), crop_size=48)
    label_step, degrade_step = train_transform(config, relabel=True).transforms[:2]
    assert isinstance(label_step, MakeLabel) and isinstance(degrade_step, DegradeAlpha)
    sample = _sample(_edge_alpha())
    rng = _rng(9)
    out = degrade_step(label_step(sample, rng), rng)
    np.testing.assert_array_equal(out["trimap"][0].numpy(), make_trimap(_edge_alpha(), 3).astype(np.float32))
    assert not torch.equal(out["alpha"], sample["alpha"])
