"""Matting networks: ``forward(image) -> alpha``.

Every network takes an image batch (B, C, H, W), float, values in [0, 1], of any height and
width (C = 3, the image only, as in the paper; C = 4 = image + trimap channel as our
extension), and returns alpha (B, 1, H, W) in (0, 1) through a sigmoid.

============== ============================================== =======================
name           network                                        parameters (C = 3)
============== ============================================== =======================
unet (default) :class:`CompactUNet`, width 16 (32: 0.93 M)     0.23 M
vitmatte-tiny  :class:`ViTMatte` with :func:`vitmatte_tiny`   1.16 M
vitmatte-s     :class:`ViTMatte` with :func:`vitmatte_s`      23.8 M (21.7 M ViT-S/16)
efficientnet-  :class:`EncoderUNet` on EfficientNet-Lite0,     3.59 M (2.96 M encoder)
lite0-unet     ImageNet-pretrained (installed weights)
mobilenetv2-   :class:`EncoderUNet` on MobileNetV2,            2.42 M (1.81 M encoder)
unet           ImageNet-pretrained (installed weights)
============== ============================================== =======================

The ``*-unet`` models start their encoder from ImageNet weights that a pip package installs
(:mod:`mattinglib.models.pretrained`: which package, licence, accuracy and hash);
``pretrained=False`` builds the same architecture from random weights.

Use :func:`build_model` to make one reproducibly (seeded initialisation).
"""
from __future__ import annotations

import dataclasses
import inspect

from torch import nn

from .checkpoints import CheckpointReport, load_backbone_checkpoint
from .common import count_parameters, seeded_torch
from .encoder_unet import EncoderUNet
from .mobile_encoder import MobileEncoder
from .pretrained import PRETRAINED_WEIGHTS, EncoderLoadReport, imagenet_encoder, load_encoder_weights
from .unet import CompactUNet
from .vit import ViTBackbone
from .vitmatte import DetailCaptureDecoder, ViTMatte, ViTMatteConfig, vitmatte_s, vitmatte_tiny

MODEL_NAMES = ("unet", "vitmatte-tiny", "vitmatte-s", "efficientnet-lite0-unet", "mobilenetv2-unet")
#: The models with an ImageNet-pretrained encoder, by the encoder they use.
PRETRAINED_ENCODER_OF = {"efficientnet-lite0-unet": "efficientnet-lite0", "mobilenetv2-unet": "mobilenetv2"}

__all__ = [
    "MODEL_NAMES", "PRETRAINED_ENCODER_OF", "build_model", "load_encoder_checkpoint",
    "EncoderUNet", "MobileEncoder", "PRETRAINED_WEIGHTS", "EncoderLoadReport", "imagenet_encoder",
    "load_encoder_weights", "count_parameters",
    "CompactUNet", "ViTBackbone", "ViTMatte", "ViTMatteConfig", "DetailCaptureDecoder",
    "vitmatte_s", "vitmatte_tiny", "load_backbone_checkpoint", "CheckpointReport",
]


def _check_overrides(name: str, overrides: dict, allowed: list[str]) -> None:
    unknown = sorted(set(overrides) - set(allowed))
    if unknown:
        raise ValueError(f"model {name!r} has no setting(s) {unknown}; its settings are {sorted(allowed)}")


def build_model(name: str = "unet", in_channels: int = 3, seed: int = 0, pretrained: bool | None = None,
                **overrides) -> nn.Module:
    """Build a matting network by name, with a seeded initialisation.

    Parameters
    ----------
    name : str
        ``"unet"`` (the CPU default), ``"vitmatte-tiny"`` or ``"vitmatte-s"``.
    in_channels : int
        3 (image only, the paper's setting) or 4 (image + trimap channel).
    seed : int
        Seed of the initial weights: the same seed gives the same weights. Torch's global
        random state is left as it was.
    pretrained : bool or None
        For the ``*-unet`` models: start the encoder from its installed ImageNet weights
        (None or True) or from random ones (False). The other models have no pretrained
        weights of their own: None or False (a ViT backbone is loaded from a file instead,
        :func:`load_backbone_checkpoint`).
    **overrides
        Settings of the network: ``width`` for ``"unet"``; any field of
        :class:`ViTMatteConfig` for the ViTMatte models; ``freeze_batchnorm`` for the
        ``*-unet`` models.

    Returns
    -------
    nn.Module
        The network, in training mode, on the CPU.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones) or unknown setting.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(MODEL_NAMES)}")
    if name in PRETRAINED_ENCODER_OF:
        _check_overrides(name, overrides, ["freeze_batchnorm"])
        with seeded_torch(seed):
            return EncoderUNet(PRETRAINED_ENCODER_OF[name], in_channels=in_channels,
                               pretrained=pretrained is not False, **overrides)
    if pretrained:
        raise ValueError(f"model {name!r} has no pretrained weights of its own (the *-unet models do; "
                         "a ViT backbone is loaded with backbone_checkpoint)")
    if name == "unet":
        allowed = [p for p in inspect.signature(CompactUNet).parameters if p != "in_channels"]
        _check_overrides(name, overrides, allowed)
        with seeded_torch(seed):
            return CompactUNet(in_channels=in_channels, **overrides)
    allowed = [f.name for f in dataclasses.fields(ViTMatteConfig) if f.name != "in_channels"]
    _check_overrides(name, overrides, allowed)
    make_config = vitmatte_tiny if name == "vitmatte-tiny" else vitmatte_s
    config = make_config(in_channels=in_channels, **overrides)
    with seeded_torch(seed):
        return ViTMatte(config)


def load_encoder_checkpoint(model: nn.Module, path) -> CheckpointReport | EncoderLoadReport:
    """Load a user's backbone weights into ``model``: a ViT file into a ViTMatte's backbone
    (:func:`load_backbone_checkpoint`), a MobileNetV2 / EfficientNet-Lite0 state dict
    (torchvision, timm or efficientnet-lite-pytorch naming) into an :class:`EncoderUNet`'s
    encoder (:func:`load_encoder_weights`)."""
    if isinstance(model, EncoderUNet):
        return load_encoder_weights(model.encoder, path)
    return load_backbone_checkpoint(model, path)
