"""Tests of the matting networks: shapes, sizes, determinism, gradients, checkpoint loading."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mattinglib.models import (MODEL_NAMES, ViTBackbone, ViTMatte, build_model, count_parameters,
                               load_backbone_checkpoint, vitmatte_tiny)
from mattinglib.models.vit import Attention, Block, resize_pos_embed

# A ViTMatte small enough to run fast that still exercises the relative position bias,
# windowed and global blocks.
SMALL_VIT = dict(embed_dim=32, depth=2, num_heads=2, window_size=2, global_blocks=(1,),
                 use_rel_pos=True, pos_embed_grid=4, rel_pos_grid=4)


def random_image(shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def vitmatte_s_model():
    """The full ViTMatte-S, built once (initialising 24 M parameters takes seconds)."""
    return build_model("vitmatte-s")


@pytest.mark.parametrize("name, in_channels", [
    ("unet", 3), ("unet", 4), ("vitmatte-tiny", 3), ("vitmatte-tiny", 4), ("vitmatte-s", 3)])
def test_output_shape_and_range_for_odd_sizes(name, in_channels, request):
    if name == "vitmatte-s":
        model = request.getfixturevalue("vitmatte_s_model").eval()
    else:
        model = build_model(name, in_channels=in_channels).eval()
    image = random_image((2, in_channels, 37, 53))
    with torch.no_grad():
        alpha = model(image)
    assert alpha.shape == (2, 1, 37, 53)
    assert alpha.dtype == torch.float32
    assert torch.isfinite(alpha).all()
    assert alpha.min() > 0 and alpha.max() < 1


def test_tiny_and_large_inputs_work():
    # smaller than one patch (the pad is wider than the image) and a non-square size
    model = build_model("vitmatte-tiny").eval()
    with torch.no_grad():
        assert model(random_image((1, 3, 5, 3))).shape == (1, 1, 5, 3)
        assert build_model("unet").eval()(random_image((1, 3, 1, 1))).shape == (1, 1, 1, 1)
        assert model(random_image((1, 3, 150, 130))).shape == (1, 1, 150, 130)


def test_padding_is_cropped_away():
    # The internal padding replicates the edge: an image that needs one column of padding
    # and the same image padded by hand that way give the same prediction on its pixels.
    model = build_model("unet").eval()
    image = random_image((1, 3, 32, 31))
    padded_by_hand = F.pad(image, (0, 1, 0, 0), mode="replicate")
    with torch.no_grad():
        assert torch.allclose(model(image), model(padded_by_hand)[..., :31], atol=1e-6)


def test_parameter_counts(vitmatte_s_model):
    unet = build_model("unet", width=32)
    assert 500_000 < count_parameters(unet) < 2_000_000
    # the counts the docstrings give
    assert count_parameters(unet) == 931_697
    assert count_parameters(build_model("unet")) == 233_721  # the CPU default, width 16
    assert count_parameters(build_model("vitmatte-tiny")) == 1_159_801
    assert count_parameters(vitmatte_s_model) == 23_793_025
    assert count_parameters(vitmatte_s_model.backbone) == 21_724_800
    assert count_parameters(build_model("unet", width=16)) < count_parameters(unet) / 3
    tiny = build_model("vitmatte-tiny")
    assert count_parameters(tiny) < 2_000_000
    s = vitmatte_s_model
    # ViT-S/16 has 21.7 M parameters (21.67 M in DINO's release, with class token)
    assert 21_000_000 < count_parameters(s.backbone) < 22_000_000
    assert 22_000_000 < count_parameters(s) < 26_000_000
    assert s.config.embed_dim == 384 and s.config.depth == 12 and s.config.num_heads == 6
    windowed = [i for i, block in enumerate(s.backbone.blocks) if block.window_size == 14]
    assert windowed == [0, 1, 3, 4, 6, 7, 9, 10]
    assert count_parameters(s, trainable_only=True) == count_parameters(s)


@pytest.mark.parametrize("name", ["unet", "vitmatte-tiny"])
def test_same_seed_same_model(name):
    torch.manual_seed(123)
    global_state = torch.random.get_rng_state()
    first, second = build_model(name, seed=7), build_model(name, seed=7)
    other = build_model(name, seed=8)
    # building does not consume the caller's random stream
    assert torch.equal(torch.random.get_rng_state(), global_state)
    for (key, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), key
    assert any(not torch.equal(a, b) for a, b in zip(first.state_dict().values(), other.state_dict().values()))
    image = random_image((2, 3, 40, 36))
    assert torch.equal(first(image), second(image))
    assert not torch.equal(first(image), other(image))


def test_output_does_not_depend_on_batch_or_mode():
    # GroupNorm: a sample's prediction is the same alone or in a batch, in train or eval mode
    model = build_model("unet")
    images = random_image((3, 3, 32, 32))
    with torch.no_grad():
        together = model(images)
        alone = model(images[1:2])
        model.eval()
        alone_eval = model(images[1:2])
    assert torch.allclose(together[1:2], alone, atol=1e-6)
    assert torch.allclose(alone, alone_eval, atol=1e-6)


@pytest.mark.parametrize("name, overrides, in_channels", [
    ("unet", {}, 3), ("unet", {}, 4), ("vitmatte-tiny", {}, 3), ("vitmatte-s", SMALL_VIT, 4)])
def test_gradients_reach_every_parameter(name, overrides, in_channels):
    model = build_model(name, in_channels=in_channels, **overrides)
    # 48 x 40 px: a 3 x 3 token grid, so windows of 2 tokens need padding too
    image = random_image((2, in_channels, 48, 40))
    target = random_image((2, 1, 48, 40), seed=1)
    (model(image) - target).abs().mean().backward()
    for key, parameter in model.named_parameters():
        assert parameter.grad is not None, key
        assert torch.isfinite(parameter.grad).all(), key
        assert parameter.grad.abs().max() > 0, key


def test_windowed_attention_is_local_and_global_is_not():
    torch.manual_seed(0)
    windowed = Block(16, 2, window_size=2).eval()
    global_block = Block(16, 2, window_size=0).eval()
    global_block.load_state_dict(windowed.state_dict())
    tokens = torch.randn(1, 4, 5, 16)
    changed = tokens.clone()
    # a random change (a constant shift would vanish in the LayerNorm) to a top-left token
    changed[0, 0, 0] += torch.randn(16)
    with torch.no_grad():
        local_diff = (windowed(tokens) - windowed(changed)).abs().sum(-1)[0]
        global_diff = (global_block(tokens) - global_block(changed)).abs().sum(-1)[0]
    assert local_diff[:2, :2].min() > 0                    # its own window changes
    assert local_diff[2:].max() == 0 and local_diff[:, 2:].max() == 0
    assert global_diff.min() > 0
    # a grid that is exactly one window: windowed = global
    exact = torch.randn(2, 2, 2, 16)
    with torch.no_grad():
        assert torch.allclose(windowed(exact), global_block(exact), atol=1e-6)


def test_attention_matches_explicit_softmax_with_relative_bias():
    torch.manual_seed(0)
    attention = Attention(8, 2, rel_pos_size=3)
    with torch.no_grad():
        attention.rel_pos_h.normal_()
        attention.rel_pos_w.normal_()
    x = torch.randn(1, 3, 3, 8)
    with torch.no_grad():
        out = attention(x)
        q, k, v = attention.qkv(x).reshape(1, 9, 3, 2, 4).permute(2, 0, 3, 1, 4)
        ys, xs = torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        # bias[i, j] = q_i . R_h[y_i - y_j] + q_i . R_w[x_i - x_j], tables indexed from offset -2
        rh = attention.rel_pos_h[ys[:, None] - ys[None, :] + 2]   # (9, 9, 4)
        rw = attention.rel_pos_w[xs[:, None] - xs[None, :] + 2]
        bias = torch.einsum("bhic,ijc->bhij", q, rh) + torch.einsum("bhic,ijc->bhij", q, rw)
        weights = torch.softmax(q @ k.transpose(-1, -2) / 2.0 + bias, dim=-1)
        expected = attention.proj((weights @ v).transpose(1, 2).reshape(1, 3, 3, 8))
    assert torch.allclose(out, expected, atol=1e-5)


def _dino_state_dict(backbone_kwargs, grid, seed=0):
    """A synthetic checkpoint in DINO naming: class token, (1, 1 + grid^2, D) pos_embed, final norm."""
    generator = torch.Generator().manual_seed(seed)
    source = ViTBackbone(**backbone_kwargs, use_rel_pos=False, pos_embed_grid=grid)
    state = {}
    for key, tensor in source.state_dict().items():
        state[key] = torch.randn(tensor.shape, generator=generator)
    dim = backbone_kwargs["embed_dim"]
    state["cls_token"] = torch.randn(1, 1, dim, generator=generator)
    state["pos_embed"] = torch.cat([torch.randn(1, 1, dim, generator=generator), state["pos_embed"]], dim=1)
    return state


BACKBONE = dict(in_channels=3, patch_size=16, embed_dim=32, depth=2, num_heads=2,
                window_size=2, global_blocks=(1,))


def test_checkpoint_round_trip(tmp_path):
    state = _dino_state_dict(BACKBONE, grid=4)
    path = tmp_path / "dino_vits16.pth"
    torch.save(state, path)
    model = ViTMatte(vitmatte_tiny(embed_dim=32, depth=2, num_heads=2, window_size=2,
                                   global_blocks=(1,), use_rel_pos=True, pos_embed_grid=4))
    report = load_backbone_checkpoint(model, path)
    backbone = model.backbone.state_dict()
    for key, tensor in state.items():
        if key in ("cls_token", "pos_embed"):
            continue
        assert torch.equal(backbone[key], tensor), key
    assert torch.equal(backbone["pos_embed"], state["pos_embed"][:, 1:])    # class token row dropped
    assert report.unexpected == ["cls_token"]
    assert sorted(report.missing) == sorted(k for k in backbone if "rel_pos" in k)
    assert "blocks.1.attn.qkv.weight" in report.loaded and "norm.weight" in report.loaded
    # rel-pos tables start at zero, so the loaded network equals the checkpoint's network
    reference = ViTBackbone(**BACKBONE, use_rel_pos=False, pos_embed_grid=4)
    reference.load_state_dict({k: v for k, v in state.items() if k != "cls_token"} |
                              {"pos_embed": state["pos_embed"][:, 1:]})
    x = random_image((1, 3, 64, 48))
    with torch.no_grad():
        assert torch.allclose(model.backbone(x), reference(x), atol=1e-5)


def test_checkpoint_wrapped_and_prefixed(tmp_path):
    state = _dino_state_dict(BACKBONE, grid=4)
    path = tmp_path / "full_checkpoint.pth"
    torch.save({"teacher": {f"module.backbone.{k}": v for k, v in state.items()}, "epoch": 3}, path)
    backbone = ViTBackbone(**BACKBONE, use_rel_pos=False, pos_embed_grid=4)
    report = load_backbone_checkpoint(backbone, path)
    assert report.missing == []
    assert torch.equal(backbone.blocks[0].mlp.fc1.weight, state["blocks.0.mlp.fc1.weight"])


def test_checkpoint_pos_embed_is_interpolated(tmp_path):
    state = _dino_state_dict(BACKBONE, grid=4)
    dim = BACKBONE["embed_dim"]
    # a constant embedding stays constant, and a smooth ramp stays a ramp of the same range
    ramp = torch.linspace(-1, 1, 4)
    grid = (ramp[:, None] + 0 * ramp[None, :])[..., None].expand(4, 4, dim).reshape(1, 16, dim)
    state["pos_embed"] = torch.cat([torch.full((1, 1, dim), 9.0), grid], dim=1)
    path = tmp_path / "ckpt.pth"
    torch.save(state, path)
    backbone = ViTBackbone(**BACKBONE, use_rel_pos=False, pos_embed_grid=7)
    report = load_backbone_checkpoint(backbone, path)
    assert any(entry.startswith("pos_embed") for entry in report.adapted)
    loaded = backbone.pos_embed.detach().reshape(7, 7, dim)
    assert torch.allclose(loaded, resize_pos_embed(grid, (4, 4), (7, 7)).reshape(7, 7, dim))
    assert torch.allclose(loaded[:, 0], loaded[:, 6])               # constant along columns
    assert (loaded[1:, 0, 0] > loaded[:-1, 0, 0]).all()             # increasing down the rows
    assert loaded.max() < 9.0                                       # the class token did not leak in


def test_checkpoint_four_channel_adaptation(tmp_path):
    state = _dino_state_dict(BACKBONE, grid=4)
    path = tmp_path / "ckpt.pth"
    torch.save(state, path)
    model = build_model("vitmatte-tiny", in_channels=4, embed_dim=32, depth=2, num_heads=2,
                        window_size=2, global_blocks=(1,), pos_embed_grid=4)
    report = load_backbone_checkpoint(model, path)
    weight = model.backbone.patch_embed.proj.weight
    assert weight.shape[1] == 4
    assert torch.equal(weight[:, :3], state["patch_embed.proj.weight"])
    assert torch.count_nonzero(weight[:, 3]) == 0
    assert any("extra input channel" in entry for entry in report.adapted)
    # the trimap channel therefore does not change the backbone's features at first
    image = random_image((1, 4, 32, 32))
    other_trimap = image.clone()
    other_trimap[:, 3] = 1 - other_trimap[:, 3]
    with torch.no_grad():
        assert torch.allclose(model.backbone(image), model.backbone(other_trimap), atol=1e-6)


def test_checkpoint_errors(tmp_path):
    model = build_model("vitmatte-tiny")
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_backbone_checkpoint(model, tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(ValueError, match="garbage.pth"):
        load_backbone_checkpoint(model, garbage)
    not_a_state = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_a_state)
    with pytest.raises(ValueError, match="list.pth"):
        load_backbone_checkpoint(model, not_a_state)
    wrong_names = tmp_path / "wrong_names.pth"
    torch.save({"conv1.weight": torch.zeros(3)}, wrong_names)
    with pytest.raises(ValueError, match="no entry matches"):
        load_backbone_checkpoint(model, wrong_names)
    wrong_width = tmp_path / "vit_s.pth"
    torch.save(_dino_state_dict(BACKBONE, grid=4), wrong_width)             # dim 32, model dim 96
    with pytest.raises(ValueError, match="vit_s.pth.*shape"):
        load_backbone_checkpoint(model, wrong_width)
    with pytest.raises(ValueError, match="ViTBackbone"):
        load_backbone_checkpoint(build_model("unet"), wrong_width)


def test_unknown_name_and_setting():
    with pytest.raises(ValueError, match="resnet") as error:
        build_model("resnet")
    assert all(name in str(error.value) for name in MODEL_NAMES)
    with pytest.raises(ValueError, match="width"):
        build_model("unet", depth=3)
    with pytest.raises(ValueError, match="detail_channels"):
        build_model("vitmatte-tiny", patch_size=8)


def test_bad_input_is_rejected():
    model = build_model("unet")
    with pytest.raises(ValueError, match="4 input channels"):
        build_model("unet", in_channels=4)(random_image((1, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        model(random_image((3, 8, 8)))
    with pytest.raises(ValueError, match="floating"):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


@pytest.mark.parametrize("train", [False, True])
def test_measure_throughput_runs_the_steps_it_times_on_a_copy(train):
    from mattinglib.bench.models import measure_throughput

    model = build_model("unet", width=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    # A training measurement runs on a deep copy: the hook, copied with the model, still reports.
    model.register_forward_hook(lambda module, inputs, output: seen.append((tuple(inputs[0].shape), module.training)))
    measure_throughput(model, size=(32, 24), batch=2, steps=3, warmup=1, train=train)
    assert seen == [((2, 3, 32, 24), train)] * 4  # one warm-up and three timed steps, in the asked mode
    # the caller's model is left as it was (training runs on a copy)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training


def test_layer_ids_for_layer_wise_decay(vitmatte_s_model):
    layers = {name: vitmatte_s_model.layer_id(name) for name, _ in vitmatte_s_model.named_parameters()}
    assert all(num_layers == 13 for _, num_layers in layers.values())
    assert layers["backbone.pos_embed"][0] == 0
    assert layers["backbone.patch_embed.proj.weight"][0] == 0
    assert layers["backbone.blocks.0.attn.qkv.weight"][0] == 1
    assert layers["backbone.blocks.11.mlp.fc2.bias"][0] == 12
    assert layers["backbone.norm.weight"][0] == 13
    assert all(layer == 13 for name, (layer, _) in layers.items() if name.startswith("decoder."))
