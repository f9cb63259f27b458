"""Label generators: morphology, trimaps, coarse masks, mask trimaps and scribbles."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from mattinglib.labels import (dilate_disk, erode_disk, make_coarse_mask, make_release_trimap, make_scribbles,
                               make_trimap, mask_to_trimap)


def _disk(radius: float) -> np.ndarray:
    r = int(np.floor(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return yy * yy + xx * xx <= radius * radius


def _soft_disk_alpha(size: int = 64, radius: float = 20.0, ramp: float = 4.0) -> np.ndarray:
    """A disk with a soft rim, quantised to 8 bits: exact 0 and 1 regions and soft pixels."""
    yy, xx = np.mgrid[:size, :size]
    d = np.hypot(yy - size / 2, xx - size / 2 + 3)
    return np.round(np.clip((radius - d) / ramp, 0, 1) * 255) / 255


def _half_plane_alpha(height: int = 40, width: int = 60, edge: int = 30) -> np.ndarray:
    """Alpha 1 on columns < edge, 0.5 on column edge, 0 beyond: a straight vertical soft edge."""
    alpha = np.zeros((height, width))
    alpha[:, :edge] = 1.0
    alpha[:, edge] = 0.5
    return alpha


@pytest.mark.parametrize("radius", [0, 0.5, 1, 1.5, 2, 3.2, 7, 14.5, 40])
def test_erode_and_dilate_match_scipy_with_a_disk(radius):
    rng = np.random.default_rng(3)
    mask = ndimage.binary_opening(rng.random((37, 45)) > 0.35)
    mask[5:30, 8:40] |= True
    expected_erosion = ndimage.binary_erosion(mask, _disk(radius), border_value=1)
    expected_dilation = ndimage.binary_dilation(mask, _disk(radius), border_value=0)
    np.testing.assert_array_equal(erode_disk(mask, radius), expected_erosion)
    np.testing.assert_array_equal(dilate_disk(mask, radius), expected_dilation)


def test_erosion_ignores_the_image_border_and_rejects_negative_radii():
    full = np.ones((5, 7), dtype=bool)
    np.testing.assert_array_equal(erode_disk(full, 3), full)
    with pytest.raises(ValueError, match="radius"):
        erode_disk(full, -1)


def test_trimap_with_zero_width_is_the_exact_alpha_levels():
    alpha = _soft_disk_alpha()
    trimap = make_trimap(alpha, 0)
    assert trimap.dtype == np.float64 and trimap.shape == alpha.shape
    np.testing.assert_array_equal(trimap == 1, alpha == 1)
    np.testing.assert_array_equal(trimap == 0, alpha == 0)
    np.testing.assert_array_equal(trimap == 0.5, (alpha > 0) & (alpha < 1))


def test_trimap_band_widths_per_side_on_a_straight_edge():
    alpha = _half_plane_alpha(edge=30)
    trimap = make_trimap(alpha, fg_width=4, bg_width=7)
    row = trimap[20]
    # FG loses its last 4 columns (26..29), BG its first 7 (31..37), column 30 is soft.
    assert np.all(row[:26] == 1) and np.all(row[26:38] == 0.5) and np.all(row[38:] == 0)
    # Rows are identical: the top and bottom borders do not erode anything.
    assert np.all(trimap == row[None, :])


def test_trimap_known_regions_only_where_alpha_is_exact():
    alpha = _soft_disk_alpha()
    rng = np.random.default_rng(0)
    for _ in range(5):
        trimap = make_trimap(alpha, (0, 9), rng=rng)
        assert set(np.unique(trimap)) <= {0.0, 0.5, 1.0}
        assert np.all(alpha[trimap == 1] == 1) and np.all(alpha[trimap == 0] == 0)
        assert np.all(trimap[(alpha > 0) & (alpha < 1)] == 0.5)
    # An alpha just below 1 is not foreground: the test is exact, with no tolerance.
    nearly = np.full((8, 8), 1 - 1e-7)
    assert np.all(make_trimap(nearly, 0) == 0.5)


def test_trimap_ranges_draw_from_the_generator_deterministically():
    alpha = _soft_disk_alpha()
    first = make_trimap(alpha, (1, 12), (2, 9), rng=np.random.default_rng(7))
    again = make_trimap(alpha, (1, 12), (2, 9), rng=np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    # The draws are the two widths, FG first: integers for integer ranges, both ends included.
    rng = np.random.default_rng(7)
    fg, bg = rng.integers(1, 12, endpoint=True), rng.integers(2, 9, endpoint=True)
    np.testing.assert_array_equal(first, make_trimap(alpha, int(fg), int(bg)))


@pytest.mark.parametrize("bad, match", [
    (np.zeros((4, 4, 1)), "shape"),
    (np.full((4, 4), 1.5), r"\[0, 1\]"),
    (np.full((4, 4), np.nan), r"\[0, 1\]"),
])
def test_trimap_rejects_bad_alpha(bad, match):
    with pytest.raises(ValueError, match=match):
        make_trimap(bad, 2)


def test_trimap_rejects_bad_widths():
    alpha = _soft_disk_alpha()
    with pytest.raises(ValueError, match="rng"):
        make_trimap(alpha, (1, 5))
    with pytest.raises(ValueError, match="lo <= hi"):
        make_trimap(alpha, (5, 1), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=">= 0"):
        make_trimap(alpha, -2)


def test_reference_size_equal_to_the_image_changes_nothing():
    alpha = _soft_disk_alpha(size=48)
    np.testing.assert_array_equal(make_trimap(alpha, 3, 5, reference_size=48), make_trimap(alpha, 3, 5))


def test_reference_size_scales_widths_to_the_working_resolution():
    # At half the working size a width of 8 working pixels is 4 image pixels, and the
    # nearest round trip is exact for a factor of 2.
    alpha = _half_plane_alpha(height=32, width=64, edge=30)
    trimap = make_trimap(alpha, 8, 8, reference_size=(64, 128))
    np.testing.assert_array_equal(trimap, make_trimap(alpha, 4, 4))


def test_release_trimap_levels_and_invariants():
    alpha = _soft_disk_alpha(size=80)
    rng = np.random.default_rng(1)
    for _ in range(3):
        trimap = make_release_trimap(alpha, rng)
        assert trimap.shape == alpha.shape and set(np.unique(trimap)) <= {0.0, 0.5, 1.0}
        # 80 divides 640: the nearest round trip is exact, so known labels stay correct.
        assert np.all(alpha[trimap == 1] == 1) and np.all(alpha[trimap == 0] == 0)


def test_mask_to_trimap_band_on_each_side():
    mask = _half_plane_alpha(edge=30) == 1
    trimap = mask_to_trimap(mask, 5)
    row = trimap[10]
    assert np.all(row[:25] == 1) and np.all(row[25:35] == 0.5) and np.all(row[35:] == 0)
    np.testing.assert_array_equal(mask_to_trimap(mask, 0), mask.astype(float))
    with pytest.raises(ValueError, match="binary"):
        mask_to_trimap(np.full((4, 4), 0.5), 2)


def test_coarse_mask_thresholds_at_the_drawn_level():
    alpha = _soft_disk_alpha(ramp=12)
    mask = make_coarse_mask(alpha, np.random.default_rng(5), kernel_sizes=(1, 1), reference_size=None)
    threshold = np.random.default_rng(5).uniform(0.01, 1.0)
    np.testing.assert_array_equal(mask, (alpha >= threshold).astype(float))


def test_coarse_mask_stays_within_its_morphological_bounds():
    alpha = _soft_disk_alpha(size=96, radius=30, ramp=8)
    rng = np.random.default_rng(11)
    masks = [make_coarse_mask(alpha, rng, reference_size=None) for _ in range(12)]
    # Each step uses a kernel of at most 29 px (radius 14); a threshold in [0.01, 1) lies
    # between (alpha == 1) and (alpha >= 0.01).
    inner = erode_disk(alpha == 1, 14)
    outer = dilate_disk(alpha >= 0.01, 14)
    for mask in masks:
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert np.all(mask[inner] == 1) and np.all(mask[~outer] == 0)
    assert len({m.tobytes() for m in masks}) > 6


def test_coarse_mask_at_the_release_resolution_is_deterministic():
    alpha = _soft_disk_alpha(size=50)
    first = make_coarse_mask(alpha, np.random.default_rng(2))
    np.testing.assert_array_equal(first, make_coarse_mask(alpha, np.random.default_rng(2)))
    assert first.shape == alpha.shape
    with pytest.raises(ValueError, match="threshold_range"):
        make_coarse_mask(alpha, np.random.default_rng(2), threshold_range=(0.0, 1.0))


def test_scribbles_lie_strictly_inside_the_true_regions():
    alpha = _soft_disk_alpha(size=96, radius=30)
    rng = np.random.default_rng(4)
    for _ in range(5):
        scribbles = make_scribbles(alpha, rng, n_strokes=(1, 3), width=3)
        assert set(np.unique(scribbles)) == {0.0, 0.5, 1.0}
        assert np.all(alpha[scribbles == 1] == 1) and np.all(alpha[scribbles == 0] == 0)
        # Sparse: most pixels stay unlabelled.
        assert np.mean(scribbles == 0.5) > 0.8
    np.testing.assert_array_equal(make_scribbles(alpha, np.random.default_rng(9)),
                                  make_scribbles(alpha, np.random.default_rng(9)))


def test_scribbles_skip_a_region_too_thin_for_the_stroke():
    alpha = np.zeros((40, 40))
    alpha[10:30, 19:21] = 1.0                       # a 2-px-wide foreground
    scribbles = make_scribbles(alpha, np.random.default_rng(0), n_strokes=3, width=5)
    assert not np.any(scribbles == 1) and np.any(scribbles == 0)
    with pytest.raises(ValueError, match="width"):
        make_scribbles(alpha, np.random.default_rng(0), width=0.5)


# ---- imperfect alpha labels ---------------------------------------------------------------
def _soft_disc(size=48, radius=12.0, soft=4.0):
    yy, xx = np.mgrid[:size, :size]
    distance = np.hypot(yy - size / 2, xx - size / 2)
    return np.clip((radius + soft / 2 - distance) / soft, 0.0, 1.0)


def test_degrade_alpha_kinds_do_what_they_say():
    from mattinglib.labels import ALPHA_LABELS, QUANTISE_LEVELS, degrade_alpha

    alpha = _soft_disc()
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(degrade_alpha(alpha, "exact"), alpha)
    smoothed = degrade_alpha(alpha, "smoothed")
    assert abs(smoothed.mean() - alpha.mean()) < 1e-3  # blurring moves no mass...
    assert np.abs(np.diff(smoothed, axis=1)).max() < np.abs(np.diff(alpha, axis=1)).max()  # ...but softens edges
    quantised = degrade_alpha(alpha, "quantised")
    assert set(np.unique(quantised)) <= set(np.linspace(0, 1, QUANTISE_LEVELS))
    assert np.abs(quantised - alpha).max() <= 0.5 / (QUANTISE_LEVELS - 1) + 1e-12
    means = {degrade_alpha(alpha, "shifted", np.random.default_rng(seed)).mean() for seed in range(8)}
    assert min(means) < alpha.mean() - 0.01 and max(means) > alpha.mean() + 0.01  # inwards and outwards
    for kind in ALPHA_LABELS:
        out = degrade_alpha(alpha, kind, rng)
        assert out.shape == alpha.shape and out.min() >= 0 and out.max() <= 1


def test_degrade_alpha_refuses_bad_input():
    from mattinglib.labels import degrade_alpha

    with pytest.raises(ValueError, match="one of"):
        degrade_alpha(_soft_disc(), "blurry")
    with pytest.raises(ValueError, match="pass rng"):
        degrade_alpha(_soft_disc(), "shifted")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        degrade_alpha(_soft_disc() * 2, "smoothed")


# ---- the package's layout -----------------------------------------------------------------
def test_reading_trimaps_does_not_load_the_label_generators():
    # The metrics and losses read trimaps through mattinglib.labels.codec alone; a fresh
    # interpreter shows whether anything on their import path pulls in the generators.
    import mattinglib

    root = str(Path(mattinglib.__file__).resolve().parents[1])
    code = ("import sys, mattinglib.metrics, mattinglib.losses; "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('mattinglib.labels'))))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root,
                            check=True, timeout=120)
    assert result.stdout.split() == ["mattinglib.labels", "mattinglib.labels.codec"]


def test_every_public_name_resolves_from_the_package():
    import mattinglib.labels as labels

    for name in labels.__all__:
        value = getattr(labels, name)
        assert name in dir(labels)
        if callable(value):
            assert value.__module__.startswith("mattinglib.labels.")
    assert labels.UNKNOWN == 0.5 and labels.RELEASE_REFERENCE_SIZE == 640
    with pytest.raises(AttributeError, match="no attribute"):
        labels.make_trimaps  # noqa: B018  (a misspelt name must not resolve)
