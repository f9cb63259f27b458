"""Tests of mattinglib.losses: golden values, the naive reference as a second oracle, gradients,
the known loss, the fine-label losses and MattingCriterion."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mattinglib.losses import (
    LOSS_NAMES, MattingCriterion, Neighbors, dc_loss, dc_loss_from_neighbors, ddc_loss, ddc_loss_from_neighbors,
    gradient_loss, known_loss, l1_loss, laplacian_loss, reference_dc_loss, reference_ddc_loss, reference_select,
    select_neighbors, trimap_l1_loss,
)
from mattinglib.losses import ddc as ddc_module
from mattinglib.losses import neighbors as neighbors_module

BACKENDS = ["numba", "numba-v1", "torch"] if neighbors_module.numba is not None else ["torch"]
needs_numba = pytest.mark.skipif(neighbors_module.numba is None, reason="numba is not installed")


def _random_inputs(seed, batch, height, width, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.random((batch, 3, height, width))).to(dtype)
    alpha = torch.from_numpy(rng.random((batch, 1, height, width))).to(dtype)
    return image, alpha


@pytest.fixture(params=["numba", "torch"])
def sweep_backend(request, monkeypatch):
    """Run the fused loss through the numba kernel or through its torch fallback."""
    if request.param == "numba" and ddc_module.numba is None:
        pytest.skip("numba is not installed")
    if request.param == "torch":
        monkeypatch.setattr(ddc_module, "numba", None)
    return request.param


# ----------------------------------------------------------------------------- golden values

def test_ddc_golden(golden_dir, sweep_backend):
    # Each path end to end: numba selection + numba loss, torch selection + torch loss.
    backend = sweep_backend
    arrays = np.load(golden_dir / "ddc" / "ddc_golden.npz")
    expected = json.loads((golden_dir / "ddc" / "ddc_expected.json").read_text())
    image = torch.from_numpy(arrays["image"])
    assert expected, "ddc_expected.json is empty"
    for key, values in expected.items():
        window, count, *alpha_name = key.split("_")
        kernel_size, topk, alpha_name = int(window[1:]), int(count[1:]), "_".join(alpha_name)
        neighbors = select_neighbors(image, kernel_size, topk, backend=backend)
        np.testing.assert_allclose(neighbors.distance.numpy(), arrays[f"dist_K{kernel_size}_k{topk}"],
                                   rtol=0, atol=1e-10, err_msg=key)
        alpha = torch.from_numpy(arrays[alpha_name]).clone().requires_grad_(True)
        loss = ddc_loss_from_neighbors(alpha, neighbors)
        loss.backward()
        assert loss.dtype == torch.float64
        assert abs(loss.item() - values["ddc"]) < 1e-10, key
        assert abs(dc_loss_from_neighbors(alpha, neighbors).item() - values["dc"]) < 1e-10, key
        np.testing.assert_allclose(alpha.grad.numpy(), arrays[f"grad_ddc_{key}"], rtol=0, atol=1e-10, err_msg=key)


# ----------------------------------------------------------------------------- selection

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kernel_size,topk", [(3, 4), (5, 5), (11, 11), (7, 49)])
def test_selection_matches_reference(backend, kernel_size, topk):
    image, _ = _random_inputs(1, 2, 13, 17)
    neighbors = select_neighbors(image, kernel_size, topk, backend=backend)
    assert neighbors.distance.shape == (2, topk, 13, 17) and neighbors.distance.dtype == torch.float64
    assert neighbors.index.dtype == torch.int64
    ref_distance, _ = reference_select(image, kernel_size, topk)
    np.testing.assert_allclose(neighbors.distance.numpy(), ref_distance.view(2, topk, 13, 17).numpy(), atol=1e-12)
    # Sorted ascending, the centre (distance 0, itself) first.
    assert torch.all(neighbors.distance[:, 1:] >= neighbors.distance[:, :-1])
    own_index = torch.arange(13 * 17).view(13, 17)
    assert torch.equal(neighbors.index[:, 0], own_index.expand(2, 13, 17))
    # Each index is in the window or marks outside, and its distance is the one recomputed.
    flat = torch.cat([image.flatten(2), torch.zeros(2, 3, 1, dtype=image.dtype)], dim=2)
    neighbour_colour = torch.gather(flat, 2, neighbors.index.view(2, 1, -1).expand(2, 3, -1))
    recomputed = (neighbour_colour - image.flatten(2).repeat(1, 1, topk)).norm(dim=1).view(2, topk, 13, 17)
    np.testing.assert_allclose(recomputed.numpy(), neighbors.distance.numpy(), atol=1e-12)
    ys, xs = neighbors.index // 17, neighbors.index % 17
    inside = neighbors.index < 13 * 17
    radius = kernel_size // 2
    assert torch.all((ys - torch.arange(13).view(13, 1)).abs()[inside] <= radius)
    assert torch.all((xs - torch.arange(17)).abs()[inside] <= radius)


def test_selection_out_of_image_is_black_with_index_hw():
    # A white image: every in-image candidate is at 0, every outside one at sqrt(3).
    image = torch.ones(3, 4, 5, dtype=torch.float64)
    for backend in BACKENDS:
        neighbors = select_neighbors(image, kernel_size=5, topk=25, backend=backend)
        assert neighbors.distance.shape == (25, 4, 5)  # unbatched in, unbatched out
        outside = neighbors.index == 20
        assert torch.allclose(neighbors.distance[outside], torch.tensor(3 ** 0.5, dtype=torch.float64))
        assert torch.all(neighbors.distance[~outside] == 0)
        # The corner pixel sees 3 x 3 in-image candidates of its 5 x 5 window.
        assert int((~outside[:, 0, 0]).sum()) == 9


def test_selection_float32_and_backends_agree():
    image, _ = _random_inputs(2, 1, 9, 8, dtype=torch.float32)
    results = [select_neighbors(image, 5, 6, backend=backend) for backend in BACKENDS]
    for neighbors in results:
        assert neighbors.distance.dtype == torch.float32
        assert not neighbors.distance.requires_grad
    for neighbors in results[1:]:
        np.testing.assert_allclose(neighbors.distance.numpy(), results[0].distance.numpy(), atol=1e-6)
        assert torch.equal(neighbors.index, results[0].index)  # random colours: no ties


def _select_both(image, kernel_size, topk):
    """(v1 distance, v1 index), (v2 distance, v2 index), v2's count of exactly redone pixels."""
    d1, i1, _ = neighbors_module._select_numba(image, kernel_size, topk, "v1")
    d2, i2, n_exact = neighbors_module._select_numba(image, kernel_size, topk, "v2")
    return (d1.numpy(), i1.numpy()), (d2.numpy(), i2.numpy()), n_exact


def _assert_same_neighbours(old, new, exact=True):
    """Same index set per pixel, distances within 1e-6 relative, and (exact) bit-identical."""
    (d1, i1), (d2, i2) = old, new
    assert d1.shape == d2.shape and d1.dtype == d2.dtype and i2.dtype == np.int64
    np.testing.assert_array_equal(np.sort(i1, axis=1), np.sort(i2, axis=1))
    np.testing.assert_allclose(d2, d1, rtol=1e-6, atol=0)
    if exact:
        np.testing.assert_array_equal(d2, d1)
        np.testing.assert_array_equal(i2, i1)


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kernel_size,topk", [(kernel_size, topk) for kernel_size in (3, 5, 11)
                                               for topk in sorted({1, 5, 11, kernel_size ** 2})
                                               if topk <= kernel_size ** 2])
def test_selection_kernel_equals_previous_kernel(kernel_size, topk, dtype):
    # Several tiles of 128 px and a remainder, non-square, batch > 1, borders wider than the image.
    for seed, (batch, height, width) in enumerate([(2, 13, 17), (3, 9, 260), (1, 40, 6)]):
        image, _ = _random_inputs(seed, batch, height, width, dtype=dtype)
        old, new, _ = _select_both(image, kernel_size, topk)
        _assert_same_neighbours(old, new)


def _eight_bit(seed, batch, height, width, levels=256, dtype=torch.float32):
    # A smooth ramp plus noise, quantised like a photo: many equal colours and equal distances.
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, levels - 1, width)[None, None, None, :] * rng.random((batch, 3, 1, 1))
    codes = np.clip(np.round(ramp + rng.normal(0, 2, (batch, 3, height, width))), 0, levels - 1)
    return torch.from_numpy((codes.astype(np.float32) / np.float32(levels - 1)).astype(np.float32)).to(dtype)


@needs_numba
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kernel_size,topk", [(3, 4), (5, 5), (5, 25), (11, 11)])
def test_selection_kernel_equals_previous_kernel_with_ties(kernel_size, topk, dtype):
    images = {"constant": torch.full((2, 3, 12, 15), 0.25, dtype=dtype),
              "8-bit": _eight_bit(0, 2, 24, 150, dtype=dtype),
              "4 levels": _eight_bit(1, 1, 20, 30, levels=4, dtype=dtype)}
    for name, image in images.items():
        old, new, _ = _select_both(image, kernel_size, topk)
        # Ties: the multiset of distances is the same (bit for bit), and so are the indices,
        # since both kernels break ties by window order.
        np.testing.assert_array_equal(new[0], old[0], err_msg=name)
        _assert_same_neighbours(old, new)


@needs_numba
def test_selection_kernel_exact_path_on_near_ties():
    # Two candidates whose squared distances differ by a few ulps (the same key bin), the
    # smaller one later in window order: the key order alone would put them the wrong way
    # round; the kernel must notice and redo the pixel exactly.
    value = 0.3
    image = torch.ones(1, 3, 5, 5, dtype=torch.float64)  # all far from the black centre (2, 2) ...
    image[0, :, 1:4, 1:4] = 0.0
    image[0, :, 1:4, 1:4] += torch.tensor([[[1.0, 1, 1], [1, 0, 1], [1, 1, 1]]], dtype=torch.float64)
    image[0, :, 1, 1] = torch.tensor([np.nextafter(value, 1.0), 0, 0], dtype=torch.float64)  # ... but (-1, -1)
    image[0, :, 3, 3] = torch.tensor([value, 0, 0], dtype=torch.float64)  # and (+1, +1): smaller, later
    old, new, n_exact = _select_both(image, 3, 2)
    assert n_exact > 0
    _assert_same_neighbours(old, new)
    assert new[1][0, 1, 2, 2] == 3 * 5 + 3  # the smaller of the two is second, after the centre


@needs_numba
def test_selection_kernel_non_finite_image_falls_back():
    image, _ = _random_inputs(4, 1, 9, 11, dtype=torch.float32)
    image[0, 1, 4, 5] = float("nan")
    image[0, 2, 0, 0] = float("inf")
    old, new, n_exact = _select_both(image, 5, 5)
    assert n_exact == -1
    np.testing.assert_array_equal(new[0], old[0])  # NaN == NaN here
    np.testing.assert_array_equal(new[1], old[1])


def test_selection_backends_agree_on_images_narrower_than_the_window():
    for height, width in [(1, 1), (1, 5), (3, 2), (2, 7)]:
        image, _ = _random_inputs(height * 10 + width, 2, height, width, dtype=torch.float64)
        results = [select_neighbors(image, 11, 121, backend=backend) for backend in BACKENDS]
        for neighbors in results[1:]:
            np.testing.assert_allclose(neighbors.distance.numpy(), results[0].distance.numpy(), atol=1e-12)


@pytest.mark.parametrize("bad, message", [
    (dict(image=torch.rand(1, 4, 5, 5)), "shape"),
    (dict(image=torch.zeros(3, 5, 5, dtype=torch.int64)), "floating"),
    (dict(image=torch.rand(3, 5, 5), kernel_size=4), "odd"),
    (dict(image=torch.rand(3, 5, 5), kernel_size=3, topk=10), "topk"),
    (dict(image=torch.rand(3, 5, 5), backend="cuda"), "backend"),
])
def test_selection_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        select_neighbors(**bad)


def test_neighbors_collate():
    image, _ = _random_inputs(3, 2, 6, 7, dtype=torch.float32)
    samples = [{"neighbors": select_neighbors(image[b], 3, 4)} for b in range(2)]
    batch = torch.utils.data.default_collate(samples)
    assert isinstance(batch["neighbors"], Neighbors)
    direct = select_neighbors(image, 3, 4)
    assert torch.equal(batch["neighbors"].index, direct.index)
    assert torch.equal(batch["neighbors"].distance, direct.distance)


# ----------------------------------------------------------------------------- DDC / DC losses

@pytest.mark.parametrize("kernel_size,topk,height,width", [(3, 3, 7, 11), (5, 4, 9, 6), (11, 11, 14, 12)])
def test_losses_match_reference(kernel_size, topk, height, width, sweep_backend):
    image, alpha = _random_inputs(kernel_size, 2, height, width)
    neighbors = select_neighbors(image, kernel_size, topk)
    for ours_fn, reference_fn in ((ddc_loss_from_neighbors, reference_ddc_loss),
                                  (dc_loss_from_neighbors, reference_dc_loss)):
        ours_alpha = alpha.clone().requires_grad_(True)
        ref_alpha = alpha.clone().requires_grad_(True)
        ours = ours_fn(ours_alpha, neighbors)
        reference = reference_fn(image, ref_alpha, kernel_size, topk)
        ours.backward()
        reference.backward()
        assert ours.item() == pytest.approx(reference.item(), abs=1e-12)
        np.testing.assert_allclose(ours_alpha.grad.numpy(), ref_alpha.grad.numpy(), atol=1e-12)


def test_losses_float32_match_reference(sweep_backend):
    image, alpha = _random_inputs(5, 2, 20, 24, dtype=torch.float32)
    assert ddc_loss(image, alpha).dtype == torch.float32
    assert ddc_loss(image, alpha).item() == pytest.approx(reference_ddc_loss(image, alpha).item(), abs=1e-5)
    assert dc_loss(image, alpha).item() == pytest.approx(reference_dc_loss(image, alpha).item(), abs=1e-5)


def test_loss_gradcheck(sweep_backend):
    # Piecewise linear: finite differences are exact away from the kinks, which random
    # alphas avoid for a small enough step.
    image, alpha = _random_inputs(7, 2, 5, 6)
    neighbors = select_neighbors(image, 3, 4)
    alpha.requires_grad_(True)
    for fn in (ddc_loss_from_neighbors, dc_loss_from_neighbors):
        assert torch.autograd.gradcheck(lambda a: fn(a, neighbors), (alpha,), eps=1e-7, atol=1e-7)


def test_loss_values_by_hand():
    # Two pixels in a row, K = 3, k = 2: each pixel keeps itself (d = 0) and its neighbour.
    # d_01 = 0.5; the black border is farther (1 and 1.12), so it is not selected.
    image = torch.tensor([[[0.6, 0.6]], [[0.8, 0.8]], [[0.0, 0.5]]], dtype=torch.float64)
    alpha = torch.tensor([[[0.9, 0.2]]], dtype=torch.float64)  # a0 - a1 = 0.7
    neighbors = select_neighbors(image, 3, 2)
    assert neighbors.distance[1].tolist() == [[0.5, 0.5]]
    # pixel 0: |0.5 - 0.7| = 0.2; pixel 1: |0.5 - (-0.7)| = 1.2; two zero centre terms.
    assert ddc_loss_from_neighbors(alpha, neighbors).item() == pytest.approx((0.2 + 1.2) / 4)
    # DC: |0.5 - 0.7| twice.
    assert dc_loss_from_neighbors(alpha, neighbors).item() == pytest.approx(0.4 / 4)


def test_loss_checks_and_no_grad_path(sweep_backend):
    image, alpha = _random_inputs(8, 1, 6, 6)
    neighbors = select_neighbors(image, 3, 3)
    # Unbatched alpha with unbatched neighbours equals the batched call.
    unbatched = ddc_loss_from_neighbors(alpha[0], Neighbors(neighbors.distance[0], neighbors.index[0]))
    assert unbatched.item() == pytest.approx(ddc_loss_from_neighbors(alpha, neighbors).item())
    assert not ddc_loss_from_neighbors(alpha, neighbors).requires_grad
    with pytest.raises(ValueError, match="shape"):
        ddc_loss_from_neighbors(alpha[:, :, :5], neighbors)
    with pytest.raises(ValueError, match="int64"):
        ddc_loss_from_neighbors(alpha, Neighbors(neighbors.distance, neighbors.index.int()))


# ----------------------------------------------------------------------------- known loss

def test_known_loss():
    trimap = torch.tensor([[[[0.0, 0.5], [1.0, 0.5]]]])
    alpha = torch.tensor([[[[0.25, 0.9], [0.5, 0.1]]]], requires_grad=True)
    loss = known_loss(alpha, trimap)
    assert loss.item() == pytest.approx((0.25 + 0.5) / 2)
    loss.backward()
    assert alpha.grad.tolist() == [[[[0.5, 0.0], [-0.5, 0.0]]]]


def test_known_loss_no_known_pixel_is_connected_zero():
    alpha = torch.rand(1, 1, 3, 3, requires_grad=True)
    loss = known_loss(alpha, torch.full((1, 1, 3, 3), 0.5))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.all(alpha.grad == 0)
    with pytest.raises(ValueError, match="same shape"):
        known_loss(alpha, torch.zeros(1, 1, 3, 4))


# ----------------------------------------------------------------------------- fine losses

def test_fine_losses_zero_at_truth_and_positive_elsewhere():
    rng = np.random.default_rng(9)
    gt = torch.from_numpy(rng.random((2, 1, 48, 48)))
    other = torch.from_numpy(rng.random((2, 1, 48, 48)))
    for fn in (l1_loss, laplacian_loss, gradient_loss):
        assert fn(gt, gt).item() == 0.0
        assert fn(other, gt).item() > 0.0
    assert l1_loss(other, gt).item() == pytest.approx((other - gt).abs().mean().item())
    mask = torch.zeros_like(gt, dtype=torch.bool)
    mask[..., :10, :] = True
    assert l1_loss(other, gt, mask).item() == pytest.approx((other - gt)[..., :10, :].abs().mean().item())


def test_laplacian_loss_levels_and_constant_offset():
    gt = torch.zeros(1, 1, 48, 48, dtype=torch.float64)
    # A constant offset lives only in the low-pass residual, which is not compared.
    assert laplacian_loss(gt + 0.3, gt).item() == pytest.approx(0.0, abs=1e-12)
    # One level is the finest band of the pyramid.
    rng = np.random.default_rng(10)
    noise = torch.from_numpy(rng.random((1, 1, 48, 48)))
    assert laplacian_loss(noise, gt, levels=1).item() < laplacian_loss(noise, gt, levels=5).item()
    with pytest.raises(ValueError, match="needs H and W"):
        laplacian_loss(noise[..., :20, :20], gt[..., :20, :20])


def test_gradient_loss_on_a_ramp():
    # Alpha ramps by 0.1 per pixel along x; the truth is flat: |gx| = 0.1 inside.
    ramp = (torch.arange(8, dtype=torch.float64) * 0.1).expand(1, 1, 8, 8).clone()
    flat = torch.zeros_like(ramp)
    mask = torch.zeros_like(ramp, dtype=torch.bool)
    mask[..., 2:6, 2:6] = True  # away from the replicate-padded border
    assert gradient_loss(ramp, flat, mask).item() == pytest.approx(0.1)


def test_trimap_l1_loss():
    trimap = torch.tensor([[[[0.0, 0.5, 1.0, 1.0]]]])
    alpha = torch.tensor([[[[0.5, 0.5, 0.5, 1.0]]]])
    assert trimap_l1_loss(alpha, trimap).item() == pytest.approx((0.5 + 0 + 0.5 + 0) / 4)


# ----------------------------------------------------------------------------- criterion

def _batch(seed=11, with_alpha=True):
    image, alpha = _random_inputs(seed, 2, 48, 48, dtype=torch.float32)
    trimap = torch.full_like(alpha, 0.5)
    trimap[alpha < 0.2] = 0.0
    trimap[alpha > 0.8] = 1.0
    batch = {"image": image, "trimap": trimap}
    if with_alpha:
        batch["alpha"] = alpha
    return batch


def test_criterion_weighted_sum_and_named_losses():
    batch = _batch()
    pred = torch.rand(2, 1, 48, 48, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = {"known": 1.0, "ddc": 10.0, "dc": 0.5, "l1": 2.0, "laplacian": 1.0, "gradient": 1.0,
               "trimap_l1": 0.25}
    criterion = MattingCriterion(weights, kernel_size=5, topk=5)
    losses = criterion(pred, batch)
    assert set(losses) == set(LOSS_NAMES) | {"total"}
    assert losses["known"].item() == pytest.approx(known_loss(pred, batch["trimap"]).item())
    assert losses["ddc"].item() == pytest.approx(ddc_loss(batch["image"], pred, 5, 5).item())
    expected_total = sum(weights[name] * losses[name] for name in LOSS_NAMES)
    assert losses["total"].item() == pytest.approx(expected_total.item(), rel=1e-6)
    losses["total"].backward()
    assert pred.grad is not None and torch.all(torch.isfinite(pred.grad))


def test_criterion_zero_weight_skipped_and_override():
    batch = _batch(with_alpha=False)
    pred = torch.rand(2, 1, 48, 48, generator=torch.Generator().manual_seed(1))
    criterion = MattingCriterion({"known": 1.0, "ddc": 10.0, "l1": 0.0})
    losses = criterion(pred, batch)  # l1 has weight 0: neither computed nor needing alpha
    assert set(losses) == {"known", "ddc", "total"}
    assert losses["total"].item() == pytest.approx(losses["known"].item() + 10 * losses["ddc"].item(), rel=1e-6)
    # A ramp: this call only.
    ramped = criterion(pred, batch, weights={"known": 1.0, "ddc": 2.5})
    assert ramped["total"].item() == pytest.approx(losses["known"].item() + 2.5 * losses["ddc"].item(), rel=1e-6)
    assert criterion.weights["ddc"] == 10.0
    off = criterion(pred, batch, weights={"known": 1.0, "ddc": 0.0})
    assert set(off) == {"known", "total"}


def test_criterion_uses_given_neighbors():
    batch = _batch(with_alpha=False)
    pred = torch.rand(2, 1, 48, 48, generator=torch.Generator().manual_seed(2))
    criterion = MattingCriterion({"ddc": 1.0}, kernel_size=3, topk=3)
    selected = criterion(pred, batch)["ddc"]
    given = criterion(pred, {**batch, "neighbors": select_neighbors(batch["image"], 3, 3)})["ddc"]
    assert given.item() == selected.item()
    # Neighbours from another window are used as given, not recomputed.
    other = criterion(pred, {**batch, "neighbors": select_neighbors(batch["image"], 5, 3)})["ddc"]
    assert other.item() != selected.item()


def test_criterion_errors():
    pred = torch.rand(2, 1, 48, 48)
    with pytest.raises(ValueError, match="alpha"):
        MattingCriterion({"known": 1.0, "l1": 1.0})(pred, _batch(with_alpha=False))
    with pytest.raises(ValueError, match="unknown loss"):
        MattingCriterion({"ddcc": 1.0})
    with pytest.raises(ValueError, match=">= 0"):
        MattingCriterion({"ddc": -1.0})
    with pytest.raises(ValueError, match="'image'"):
        MattingCriterion({"known": 1.0})(pred, {"trimap": torch.zeros(2, 1, 48, 48)})


def test_balanced_known_loss_weighs_foreground_and_background_equally():
    from mattinglib.losses import known_loss

    trimap = torch.zeros(1, 1, 10, 10)
    trimap[..., :1, :] = 1.0          # 10 foreground pixels, 90 background
    trimap[..., 5, :] = 0.5           # 10 unknown
    zeros = torch.zeros_like(trimap, requires_grad=True)
    plain = known_loss(zeros, trimap)
    balanced = known_loss(zeros, trimap, balanced=True)
    assert plain.item() == pytest.approx(10 / 90)       # the foreground is a ninth of the known pixels
    assert balanced.item() == pytest.approx(0.5)        # a wrong foreground costs half, whatever its share
    balanced.backward()
    assert zeros.grad[..., 0, :].mean().item() == pytest.approx(-0.5 / 10)
    assert torch.all(zeros.grad[..., 5, :] == 0)
    only_bg = torch.zeros(1, 1, 4, 4)
    assert known_loss(torch.full_like(only_bg, 0.25), only_bg, balanced=True).item() == pytest.approx(0.125)
