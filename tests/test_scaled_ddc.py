"""Scaled DDC (mattinglib.losses.scaled_ddc): DDC with colour distances divided by the local
foreground / background contrast; its criterion term and its supervision mode."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mattinglib.build import build_criterion, build_datasets, train_transform
from mattinglib.config import TrainConfig
from mattinglib.data.transforms import AddNeighbors
from mattinglib.losses import (
    EXTENSION_LOSS_NAMES, LOSS_NAMES, MattingCriterion, Neighbors, ddc_loss, ddc_loss_from_neighbors, known_loss,
    local_contrast, scale_distances, scaled_ddc_loss, scaled_ddc_loss_from_neighbors, select_neighbors,
)
from mattinglib.supervision import SUPERVISIONS, get_supervision
from mattinglib.train import train


def _random_inputs(seed, batch, height, width, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.random((batch, 3, height, width))).to(dtype)
    alpha = torch.from_numpy(rng.random((batch, 1, height, width))).to(dtype)
    trimap = torch.from_numpy(rng.choice([0.0, 0.5, 1.0], size=(batch, 1, height, width))).to(dtype)
    return image, alpha, trimap


def _naive_pair_loss(alpha, targets, index):
    """``mean |t_ij - (a_i - a_j)|`` by autograd (alpha of 'outside the image' = 0)."""
    n_batch, topk = targets.shape[:2]
    flat = torch.cat([alpha.reshape(n_batch, -1), alpha.new_zeros(n_batch, 1)], dim=1)
    alpha_j = torch.gather(flat, 1, index.reshape(n_batch, -1)).reshape(targets.shape)
    return (targets - (alpha - alpha_j)).abs().mean()


# ----------------------------------------------------------------------------- local contrast

def _naive_contrast(image, trimap, window, floor):
    """Loop-by-loop reference of local_contrast for one small image."""
    _, _, height, width = image.shape
    radius = window // 2
    out = torch.empty(1, 1, height, width, dtype=torch.float64)
    fg, bg = trimap[0, 0] == 1.0, trimap[0, 0] == 0.0
    if not fg.any() or not bg.any():
        return torch.ones_like(out)
    pixels = image[0].to(torch.float64)
    for y in range(height):
        for x in range(width):
            box = (slice(max(y - radius, 0), y + radius + 1), slice(max(x - radius, 0), x + radius + 1))
            means = []
            for mask in (fg, bg):
                local = mask[box]
                region, selected = (pixels[:, box[0], box[1]], local) if local.any() else (pixels, mask)
                means.append(region[:, selected].mean(1))
            out[0, 0, y, x] = (means[0] - means[1]).norm().clamp(floor, math.sqrt(3))
    return out


@pytest.mark.parametrize("window", [1, 3, 5, 31])
def test_local_contrast_matches_a_naive_reference(window):
    image, _, trimap = _random_inputs(4, 1, 7, 9)
    trimap[..., 3:5, :] = 0.5  # a band with no known pixel nearby for the small windows
    ours = local_contrast(image, trimap, window, 0.05)
    assert ours.shape == (1, 1, 7, 9) and ours.dtype == image.dtype
    torch.testing.assert_close(ours, _naive_contrast(image, trimap, window, 0.05), rtol=1e-12, atol=1e-12)


def test_local_contrast_of_two_colours_and_its_clamps():
    foreground, background = torch.tensor([0.7, 0.5, 0.4]), torch.tensor([0.4, 0.3, 0.2])
    image = torch.empty(1, 3, 8, 12)
    image[..., :6] = foreground.view(1, 3, 1, 1)
    image[..., 6:] = background.view(1, 3, 1, 1)
    trimap = torch.full((1, 1, 8, 12), 0.5)
    trimap[..., :3], trimap[..., 9:] = 1.0, 0.0
    expected = (foreground - background).norm().item()
    # Windows too small to see both sides fall back to the global means: the same contrast.
    for window in (1, 5, 23):
        assert torch.allclose(local_contrast(image, trimap, window, 0.05), torch.tensor(expected), atol=1e-6)
    assert torch.allclose(local_contrast(image, trimap, 5, 0.5), torch.tensor(0.5))        # floor
    white_black = torch.cat([torch.ones(1, 3, 8, 6), torch.zeros(1, 3, 8, 6)], dim=3)
    assert torch.allclose(local_contrast(white_black, trimap, 5, 0.05), torch.tensor(math.sqrt(3)))  # ceiling
    # No known background at all: no estimate, c = 1 (plain DDC).
    assert torch.equal(local_contrast(image, torch.where(trimap == 0, 0.5, trimap), 5, 0.05),
                       torch.ones(1, 1, 8, 12))


def test_local_contrast_is_per_image_and_accepts_unbatched_input():
    image, _, trimap = _random_inputs(5, 3, 10, 8, dtype=torch.float32)
    batched = local_contrast(image, trimap, 7, 0.05)
    for b in range(3):
        single = local_contrast(image[b], trimap[b], 7, 0.05)
        assert single.shape == (1, 1, 10, 8)
        torch.testing.assert_close(single[0], batched[b])


@pytest.mark.parametrize("bad, message", [
    (dict(image=torch.rand(1, 4, 5, 5), trimap=torch.zeros(1, 1, 5, 5)), "shape"),
    (dict(image=torch.rand(1, 3, 5, 5), trimap=torch.zeros(1, 1, 5, 4)), "trimap"),
    (dict(image=torch.rand(1, 3, 5, 5), trimap=torch.zeros(1, 1, 5, 5), window=4), "odd"),
    (dict(image=torch.rand(1, 3, 5, 5), trimap=torch.zeros(1, 1, 5, 5), floor=0.0), "floor"),
])
def test_local_contrast_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        local_contrast(**bad)


# ----------------------------------------------------------------------------- (a) c == 1 is DDC

@pytest.mark.parametrize("kernel_size,topk", [(3, 3), (5, 25), (11, 11), (11, 121)])
def test_unit_contrast_is_plain_ddc(kernel_size, topk):
    # Random colours; with every candidate kept, many d_ij > 1, where the cap must not bite at c = 1.
    image, alpha, _ = _random_inputs(kernel_size, 2, 13, 11)
    neighbors = select_neighbors(image, kernel_size, topk)
    assert topk < kernel_size ** 2 or (neighbors.distance > 1).any()
    ones = torch.ones(2, 1, 13, 11, dtype=image.dtype)
    assert torch.equal(scale_distances(neighbors, ones).distance, neighbors.distance)
    ours_alpha, ddc_alpha = alpha.clone().requires_grad_(True), alpha.clone().requires_grad_(True)
    ours = scaled_ddc_loss_from_neighbors(ours_alpha, neighbors, ones)
    plain = ddc_loss_from_neighbors(ddc_alpha, neighbors)
    torch.testing.assert_close(ours, plain, rtol=1e-12, atol=0.0)
    ours.backward()
    plain.backward()
    torch.testing.assert_close(ours_alpha.grad, ddc_alpha.grad, rtol=0.0, atol=0.0)


def test_scaled_targets_divide_by_the_contrast_and_stop_an_enlargement_at_one():
    distance = torch.tensor([0.0, 0.1, 0.3, 0.5, 1.2, 1.6]).view(1, 6, 1, 1)
    neighbors = Neighbors(distance, torch.zeros(1, 6, 1, 1, dtype=torch.int64))
    half = scale_distances(neighbors, torch.full((1, 1, 1, 1), 0.5)).distance.flatten()
    torch.testing.assert_close(half, torch.tensor([0.0, 0.2, 0.6, 1.0, 1.2, 1.6]))  # >= 1 stays d
    double = scale_distances(neighbors, torch.full((1, 1, 1, 1), 2.0)).distance.flatten()
    torch.testing.assert_close(double, distance.flatten() / 2)


def test_scaled_ddc_matches_autograd_through_the_naive_formula():
    image, alpha, trimap = _random_inputs(7, 2, 12, 10)
    image = 0.3 + 0.2 * image  # low contrast: c well below 1, so the targets are enlarged and capped
    neighbors = select_neighbors(image, 5, 6)
    contrast = local_contrast(image, trimap, 11, 0.05)
    assert contrast.max() < 1
    targets = torch.minimum(neighbors.distance / contrast, neighbors.distance.clamp_min(1.0))
    ours_alpha, naive_alpha = alpha.clone().requires_grad_(True), alpha.clone().requires_grad_(True)
    ours = scaled_ddc_loss(image, ours_alpha, trimap, 5, 6, contrast_window=11)
    naive = _naive_pair_loss(naive_alpha, targets, neighbors.index)
    torch.testing.assert_close(ours, naive, rtol=1e-12, atol=1e-15)
    ours.backward()
    naive.backward()
    torch.testing.assert_close(ours_alpha.grad, naive_alpha.grad, rtol=1e-12, atol=1e-15)


# ----------------------------------------------------------------------------- (b) the key test

S_GRID = np.round(np.arange(0.2, 2.0001, 0.1), 2)
LAMBDA = 10.0  # the paper's weight of the propagation term


def _two_colour_edge():
    """1 x 3 x 32 x 32: constant F and B (||F - B|| = 0.412), a true alpha ramp 1 -> 0 over 12
    columns, the trimap known on both sides and unknown on the ramp plus a 2 px margin."""
    height = width = 32
    foreground = torch.tensor([0.7, 0.5, 0.4], dtype=torch.float64)
    background = torch.tensor([0.4, 0.3, 0.2], dtype=torch.float64)
    ramp, margin = 12, 2
    start = (width - ramp) // 2
    profile = (1 - (torch.arange(width, dtype=torch.float64) - start + 0.5) / ramp).clamp(0, 1)
    truth = profile.view(1, 1, 1, width).expand(1, 1, height, width).clone()
    image = truth * foreground.view(1, 3, 1, 1) + (1 - truth) * background.view(1, 3, 1, 1)
    trimap = torch.full_like(truth, 0.5)
    trimap[..., :start - margin] = 1.0
    trimap[..., start + ramp + margin:] = 0.0
    return image, truth, trimap, (foreground - background).norm().item()


def _family_losses(kernel_size, topk):
    """known, DDC and scaled DDC of alpha_s = clip(0.5 + s (truth - 0.5)) for s in S_GRID."""
    image, truth, trimap, contrast_true = _two_colour_edge()
    neighbors = select_neighbors(image, kernel_size, topk)
    contrast = local_contrast(image, trimap, 2 * kernel_size + 1, 0.05)
    rows = []
    for s in S_GRID:
        alpha = (0.5 + s * (truth - 0.5)).clamp(0, 1)
        rows.append((known_loss(alpha, trimap).item(), ddc_loss_from_neighbors(alpha, neighbors).item(),
                     scaled_ddc_loss_from_neighbors(alpha, neighbors, contrast).item()))
    known, ddc, scaled = (np.array(column) for column in zip(*rows))
    return known, ddc, scaled, contrast, contrast_true


def _knee(values, rtol=1e-6):
    """The largest s at which a loss is still at its minimum: the most alpha contrast it accepts for free."""
    return S_GRID[np.flatnonzero(values <= values.min() * (1 + rtol) + 1e-12).max()]


@pytest.mark.parametrize("kernel_size,topk", [(11, 121), (7, 49)])
def test_scaled_ddc_prefers_the_true_alpha_of_a_low_contrast_edge(kernel_size, topk):
    known, ddc, scaled, contrast, contrast_true = _family_losses(kernel_size, topk)
    # The contrast estimate is ||F - B|| everywhere (the band's middle uses the global means).
    assert torch.allclose(contrast, torch.tensor(contrast_true, dtype=contrast.dtype), atol=1e-9)
    assert 0.4 < contrast_true < 0.42
    # Each term alone: plain DDC is at its minimum only while alpha changes at most ||F - B|| as
    # much as the truth (s <= 0.4) and pays for every step towards the truth; scaled DDC accepts
    # the truth's full contrast for free (s <= 1) and pays only beyond it.
    assert _knee(ddc) == pytest.approx(0.4)
    assert _knee(scaled) == pytest.approx(1.0)
    index_of = {round(float(s), 2): i for i, s in enumerate(S_GRID)}
    assert ddc[index_of[1.0]] > 1.5 * ddc[index_of[0.4]]
    assert scaled[index_of[1.2]] > scaled[index_of[1.0]] * 1.02
    # The supervision's objective, known + lambda x term, over the family: the known loss wants
    # s >= 1 and the propagation term decides how far below 1 the optimum moves.
    best_ddc = S_GRID[np.argmin(known + LAMBDA * ddc)]
    best_scaled = S_GRID[np.argmin(known + LAMBDA * scaled)]
    assert best_scaled == pytest.approx(1.0)
    assert best_ddc <= 0.5  # clearly flatter than the truth: the soft edge loses 50-60 % of its contrast


def test_the_family_includes_the_truth_at_s_equal_one():
    image, truth, trimap, _ = _two_colour_edge()
    assert torch.equal((0.5 + 1.0 * (truth - 0.5)).clamp(0, 1), truth)
    assert known_loss(truth, trimap).item() == 0.0
    assert set(torch.unique(truth[trimap == 1.0]).tolist()) == {1.0}
    assert set(torch.unique(truth[trimap == 0.0]).tolist()) == {0.0}


# ----------------------------------------------------------------------------- (c) gradients

def test_gradients_reach_alpha_but_not_the_contrast():
    image, alpha, trimap = _random_inputs(9, 2, 16, 12, dtype=torch.float32)
    image.requires_grad_(True)
    trimap.requires_grad_(True)
    alpha.requires_grad_(True)
    contrast = local_contrast(image, trimap, 11, 0.05)
    assert not contrast.requires_grad and contrast.grad_fn is None
    loss = scaled_ddc_loss(image, alpha, trimap, kernel_size=5, topk=5)
    assert loss.requires_grad
    loss.backward()
    assert alpha.grad is not None and torch.isfinite(alpha.grad).all() and alpha.grad.abs().sum() > 0
    assert image.grad is None and trimap.grad is None


# ----------------------------------------------------------------------------- (d) criterion, supervision

TINY = dict(image_size=56, crop_size=48, train_length=12, test_length=3, model_width=8, batch_size=4,
            steps=6, warmup_steps=2, eval_every=3, checkpoint_every=2, log_every=1, progress=False,
            kernel_size=5, topk=5, threads=1)


def test_the_supervision_is_registered_with_its_propagation_term():
    mode = get_supervision("known+scaled-ddc")
    assert mode is SUPERVISIONS["known+scaled-ddc"]
    assert mode.propagation == "scaled_ddc" and mode.needs_neighbors and not mode.reads_alpha
    assert mode.loss_weights(10.0) == {"known": 1.0, "scaled_ddc": 10.0}
    assert "scaled_ddc" in EXTENSION_LOSS_NAMES and "scaled_ddc" not in LOSS_NAMES
    # The other modes are unchanged.
    assert SUPERVISIONS["known+ddc"].loss_weights(10.0) == {"known": 1.0, "ddc": 10.0}
    assert SUPERVISIONS["known+dc"].loss_weights(10.0) == {"known": 1.0, "dc": 10.0}
    config = TrainConfig(supervision="known+scaled-ddc", kernel_size=5, topk=5)
    assert isinstance(train_transform(config, relabel=False).transforms[-1], AddNeighbors)


def test_criterion_runs_the_supervision_on_a_pipeline_batch():
    config = TrainConfig.from_dict(TINY | {"supervision": "known+scaled-ddc", "ddc_weight": 10.0})
    train_set = build_datasets(config)[0]
    batch = torch.utils.data.default_collate([train_set[0], train_set[1]])
    assert isinstance(batch["neighbors"], Neighbors) and batch["neighbors"].distance.shape == (2, 5, 48, 48)
    criterion = build_criterion(config)
    assert criterion.contrast_window == 11
    pred = torch.rand(2, 1, 48, 48, generator=torch.Generator().manual_seed(0), requires_grad=True)
    losses = criterion(pred, batch)
    assert set(losses) == {"known", "scaled_ddc", "total"}
    expected = scaled_ddc_loss(batch["image"], pred, batch["trimap"], 5, 5, contrast_window=11)
    torch.testing.assert_close(losses["scaled_ddc"], expected)
    torch.testing.assert_close(losses["total"], losses["known"] + 10.0 * losses["scaled_ddc"])
    # The same with the neighbours selected inside the criterion.
    reselected = criterion(pred, {k: v for k, v in batch.items() if k != "neighbors"})
    torch.testing.assert_close(reselected["scaled_ddc"], losses["scaled_ddc"])
    losses["total"].backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    # A scaled_ddc weight of 0 drops the term; an override weight applies to this call only.
    assert set(criterion(pred, batch, weights={"known": 1.0, "scaled_ddc": 0.0})) == {"known", "total"}
    # Existing terms are untouched by the extension: ddc next to scaled_ddc gives plain DDC.
    both = MattingCriterion({"ddc": 1.0, "scaled_ddc": 1.0}, kernel_size=5, topk=5)(pred, batch)
    torch.testing.assert_close(both["ddc"], ddc_loss(batch["image"], pred, 5, 5))


def test_the_supervision_trains_and_is_deterministic(tmp_path):
    config = TrainConfig.from_dict(TINY | {"supervision": "known+scaled-ddc"})
    first = train(config.replace(out_dir=str(tmp_path / "a")))
    second = train(config.replace(out_dir=str(tmp_path / "b")))
    assert len(first.history) == 6
    assert {"known", "scaled_ddc", "total"} <= set(first.history.columns)
    assert np.array_equal(first.history["total"].to_numpy(), second.history["total"].to_numpy())


def test_a_short_run_lowers_its_own_loss(tmp_path):
    # As tests/test_train.py does for every other supervision.
    config = TrainConfig.from_dict(TINY | dict(out_dir=str(tmp_path / "run"), supervision="known+scaled-ddc",
                                               train_length=4, steps=40, lr=5e-3, warmup_steps=1,
                                               eval_every=10 ** 6, checkpoint_every=40, lr_milestones=(),
                                               lr_factors=()))
    total = train(config).history["total"]
    assert total.iloc[-8:].mean() < 0.8 * total.iloc[:8].mean(), total.round(4).tolist()
