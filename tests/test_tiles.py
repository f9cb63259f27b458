"""Tiled prediction (mattinglib.tiling): the layout, the blending weights, and agreement with the whole image."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from mattinglib.evaluate import predict_alpha
from mattinglib.models import build_model
from mattinglib.tiling import axis_weights, core_bounds, run_tiled, tile_layout


def _scene(height: int = 200, width: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth image with a disc in front, noise, and its trimap (a band around the disc's edge)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = np.hypot(yy - 0.45 * height, xx - 0.55 * width)
    image = np.stack([xx / width, yy / height, 0.5 + 0.3 * np.sin(xx / 9)], -1)
    inside = radius < 0.3 * height
    image[inside] = 0.9 - 0.8 * image[inside]
    image = np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1).astype(np.float32)
    trimap = np.where(radius < 0.25 * height, 1.0, np.where(radius > 0.35 * height, 0.0, 0.5)).astype(np.float32)
    return image, trimap


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return build_model("unet", in_channels=4, seed=0).eval()


@pytest.mark.parametrize("height,width,limit,overlap,multiple", [
    (200, 300, 10_000, 32, 16), (200, 300, 20_000, 48, 16), (3000, 4000, 2_000_000, 128, 16),
    (37, 5000, 20_000, 32, 16), (999, 1001, 300_000, 64, 14), (50, 60, 2_000, 8, 1)])
def test_layout_covers_the_image_within_the_limit_aligned_and_overlapping(height, width, limit, overlap, multiple):
    rows, tile_h, cols, tile_w = tile_layout(height, width, limit, overlap, multiple)
    assert tile_h * tile_w <= limit and len(rows) * len(cols) > 1
    for starts, tile, length in ((rows, tile_h, height), (cols, tile_w, width)):
        assert starts[0] == 0 and min(starts[-1] + tile, length) == length
        assert all(start % multiple == 0 for start in starts)
        for a, b in zip(starts, starts[1:]):
            assert a + tile >= b + min(overlap, length - b)  # every overlap at least `overlap` (or to the edge)
        bounds = core_bounds(starts, tile, length, multiple)
        assert bounds[0] == 0 and bounds[-1] == -(-length // multiple) * multiple
        assert all(bound % multiple == 0 for bound in bounds) and bounds == sorted(bounds)
        for i, start in enumerate(starts):  # a tile's own share lies inside it
            assert start <= bounds[i] and bounds[i + 1] <= -(-(min(start + tile, length)) // multiple) * multiple


def test_an_image_under_the_limit_is_one_tile():
    assert tile_layout(200, 300, 60_000, 128, 16) == ([0], 200, [0], 300)


@pytest.mark.parametrize("starts,tile,length,overlap", [
    ([0, 48, 96, 144], 64, 200, 16), ([0, 1472], 1536, 3000, 128), ([0, 960, 1936, 2944], 1056, 4000, 128),
    ([0, 100], 150, 180, 32)])  # the last: tiles overlapping by more than the ramp
def test_weights_sum_to_one_and_are_one_where_a_tile_is_alone(starts, tile, length, overlap):
    weights = axis_weights(starts, tile, length, overlap, dtype=torch.float64)
    total = torch.zeros(length, dtype=torch.float64)
    covered = torch.zeros(length, dtype=torch.int64)
    for start, weight in zip(starts, weights):
        assert len(weight) == min(start + tile, length) - start and weight.min() > 0
        total[start:start + len(weight)] += weight
        covered[start:start + len(weight)] += 1
    assert torch.allclose(total, torch.ones(length, dtype=torch.float64), atol=1e-12, rtol=0)
    for start, weight in zip(starts, weights):  # alone: exactly 1; in the float32 weights too
        alone = covered[start:start + len(weight)] == 1
        assert torch.equal(weight[alone], torch.ones(int(alone.sum()), dtype=torch.float64))
    float32 = axis_weights(starts, tile, length, overlap)
    total = torch.zeros(length)
    for start, weight in zip(starts, float32):
        total[start:start + len(weight)] += weight
    assert (total - 1).abs().max() <= 1e-6


def test_2d_weights_sum_to_one_over_a_tiled_image():
    """run_tiled of a network that predicts 1 everywhere gives 1 everywhere: the blend is a partition of unity."""
    class Ones(torch.nn.Module):
        size_multiple = 16

        def forward(self, x):
            return torch.ones_like(x[:, :1])

    image = torch.rand(1, 4, 200, 300)
    out = run_tiled(Ones(), image, max_tile_pixels=6_000, overlap=24)
    assert out.shape == (1, 1, 200, 300)
    assert (out - 1).abs().max() <= 1e-6


def test_under_the_limit_bit_identical_to_the_untiled_path(unet):
    image, trimap = _scene()
    x = torch.from_numpy(np.concatenate([image.transpose(2, 0, 1), trimap[None]]))[None]
    with torch.no_grad():
        direct = unet(x)[0, 0].numpy()
    for limit in (200 * 300, 10 ** 9):
        assert np.array_equal(predict_alpha(unet, image, trimap, max_tile_pixels=limit), direct)
    assert np.array_equal(predict_alpha(unet, image, trimap), direct)  # the default limit (2 MP)
    assert np.array_equal(predict_alpha(unet, image, trimap, max_tile_pixels=None), direct)
    assert np.array_equal(predict_alpha(unet, image.astype(np.float64), trimap.astype(np.float64)), direct)


def test_tiled_agrees_with_the_whole_image(unet):
    """Tiles of at most 40,000 px (three 200 x 192 tiles over 200 x 300), the default 128 px overlap.

    Normalised with the whole image's GroupNorm statistics (the default), the tiles differ from
    the whole image only through their cut edges, where the convolutions see zero padding
    instead of the image. Measured for this untrained network (outputs 0.20 to 0.80): max
    |diff| 0.012, mean 7.2e-4. Tiles this small are the hard case: the U-Net's 1/16 scale spans
    only 12 cells of a 192 px tile, so every deep feature is near a cut; with 2 MP tiles the cut
    edges are a far smaller share (a trained U-Net on a real 800 x 563 scene in three tiles: max
    0.029, mean 1e-4; mattinglib/tiling.py). The bounds leave a 2.5x margin for other CPUs'
    arithmetic. Each tile normalised by its own statistics (norm="tile") moves far more (here
    max 0.28, mean 0.031), which is why the whole image's are the default.
    """
    image, trimap = _scene()
    whole = predict_alpha(unet, image, trimap, max_tile_pixels=None)
    tiled = predict_alpha(unet, image, trimap, max_tile_pixels=40_000)
    assert tile_layout(200, 300, 40_000, 128, 16) == ([0], 200, [0, 64, 112], 192)
    diff = np.abs(tiled - whole)
    assert diff.max() < 0.03 and diff.mean() < 2e-3, (diff.max(), diff.mean())
    x = torch.from_numpy(np.concatenate([image.transpose(2, 0, 1), trimap[None]]))[None]
    assert torch.equal(run_tiled(unet, x, max_tile_pixels=40_000)[0, 0], torch.from_numpy(tiled))
    own = run_tiled(unet, x, max_tile_pixels=40_000, norm="tile")[0, 0].numpy()
    assert np.abs(own - whole).mean() > 10 * diff.mean()


def test_tiling_leaves_the_network_as_it_was(unet):
    image, trimap = _scene(seed=1)
    before = predict_alpha(unet, image, trimap, max_tile_pixels=None)
    predict_alpha(unet, image, trimap, max_tile_pixels=40_000)
    assert all("forward" not in vars(m) for m in unet.modules())
    assert np.array_equal(predict_alpha(unet, image, trimap, max_tile_pixels=None), before)


def test_a_limit_too_small_for_the_overlap_is_refused(unet):
    with pytest.raises(ValueError, match="too small"):
        run_tiled(unet, torch.rand(1, 4, 200, 300), max_tile_pixels=1_000, overlap=64)
    with pytest.raises(ValueError, match="norm"):
        run_tiled(unet, torch.rand(1, 4, 20, 30), norm="batch")
