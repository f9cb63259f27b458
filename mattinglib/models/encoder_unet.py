"""EncoderUNet: a U-Net decoder on an ImageNet-pretrained mobile encoder.

The paper's networks owe half of their mechanism to learned semantics (a pretrained ViT); a
from-scratch network trained for minutes on a few real foregrounds has none. This network
takes its semantics from a MobileNetV2 or EfficientNet-Lite0 encoder trained on ImageNet,
whose weights a pip package installs (:mod:`mattinglib.models.pretrained`), and learns only the
decoder and the adaptation on the matting data.

Layout: the encoder's features at 1/2, 1/4, 1/8, 1/16 and 1/32 of the input; a decoder that
upsamples bilinearly from 1/32 and merges the encoder feature of the same scale at every step
(two 3 x 3 conv-GroupNorm-ReLU layers each, 96 / 64 / 32 / 24 channels at 1/16 .. 1/2); and a
full-resolution last stage (16 channels) that also sees the input itself, so that one-pixel
structures such as hair strands need not survive the trip through the coarse scales.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import MattingNetwork, conv_norm_act
from .mobile_encoder import ENCODER_SPECS, MobileEncoder
from .pretrained import load_pretrained_encoder

#: Decoder channels at 1/16, 1/8, 1/4, 1/2 and full resolution.
DECODER_CHANNELS = (96, 64, 32, 24, 16)


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(conv_norm_act(in_channels, out_channels), conv_norm_act(out_channels, out_channels))


def _widen_input(conv: nn.Conv2d, channels: tuple[int, int], extra: int) -> nn.Conv2d:
    """``conv`` with ``extra`` input channels inserted after input channels
    ``channels[0]:channels[1]`` (the RGB of the raw input), the other weights kept.

    The new weights are drawn from N(0, s), ``s`` the standard deviation of the RGB channels'
    weights, from torch's generator after every other weight was drawn: a zero-valued extra
    channel changes nothing, and the trimap's influence starts at the scale of the colours'
    (zero weights would have to grow for hundreds of steps of a small learning rate first).
    """
    start, stop = channels
    weight = conv.weight.detach()
    scale = weight[:, start:stop].std()
    drawn = torch.randn(weight.shape[0], extra, *weight.shape[2:]) * scale
    widened = nn.Conv2d(conv.in_channels + extra, conv.out_channels, conv.kernel_size, conv.stride,
                        conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        widened.weight.copy_(torch.cat([weight[:, :stop], drawn, weight[:, stop:]], dim=1))
        if conv.bias is not None:
            widened.bias.copy_(conv.bias)
    return widened


class EncoderUNet(MattingNetwork):
    """A matting network: an ImageNet mobile encoder and a U-Net decoder.

    Parameters
    ----------
    encoder : str
        ``"efficientnet-lite0"`` (3.59 M parameters with the decoder) or
        ``"mobilenetv2"`` (2.42 M).
    in_channels : int
        3 (RGB) or 4 (RGB + trimap in {0, 0.5, 1}).
    pretrained : bool
        Start the encoder from the installed ImageNet weights (hash-checked, never downloaded);
        False: the same architecture from random weights, the ablation.
    freeze_batchnorm : bool or None
        Keep the encoder's BatchNorm statistics fixed in training (the layers stay in eval mode
        whatever ``model.train()`` says; their scale and shift still learn). Default: frozen
        when pretrained. Why: a training batch is 8 crops of a handful of images, whose
        statistics are noisy estimates of the ImageNet ones the weights were trained with, and
        at inference the network sees one whole image; with frozen statistics the network
        computes the same function in training and at inference, and the pretrained features
        are not disturbed by the first noisy batches. From scratch there are no statistics to
        keep, so the BatchNorms then learn theirs from the batches as usual.

    Notes
    -----
    Construction is deterministic given torch's random state (use
    :func:`mattinglib.models.build_model` with a seed). The networks for 3 and 4 input channels
    draw the same random weights: the trimap's input weights are drawn afterwards, at the
    scale of the RGB weights of the same layer (the stem's and the last stage's), so that with
    a zero trimap channel the 4-channel network computes exactly what the 3-channel one does,
    and the pretrained RGB path is untouched at step 0. Inputs of any size are padded to a multiple
    of 32 (replicating the last row and column) and the prediction is cropped back.
    """

    size_multiple = 32

    def __init__(self, encoder: str = "efficientnet-lite0", in_channels: int = 3, pretrained: bool = True,
                 freeze_batchnorm: bool | None = None) -> None:
        super().__init__()
        if encoder not in ENCODER_SPECS:
            raise ValueError(f"unknown encoder {encoder!r}; known: {', '.join(ENCODER_SPECS)}")
        if in_channels < 3:
            raise ValueError(f"in_channels must be >= 3 (RGB first); got {in_channels}")
        self.in_channels, self.pretrained = in_channels, pretrained
        self.freeze_batchnorm = pretrained if freeze_batchnorm is None else freeze_batchnorm
        # Everything is drawn for RGB input first, so that 3 and 4 channels share their weights.
        self.encoder = MobileEncoder(encoder, in_channels=3)
        features = self.encoder.feature_channels        # 1/2 .. 1/32
        c16, c8, c4, c2, c1 = DECODER_CHANNELS
        self.dec16 = _double_conv(features[4] + features[3], c16)
        self.dec8 = _double_conv(c16 + features[2], c8)
        self.dec4 = _double_conv(c8 + features[1], c4)
        self.dec2 = _double_conv(c4 + features[0], c2)
        self.dec1 = _double_conv(c2 + 3, c1)
        self.head = nn.Conv2d(c1, 1, 3, padding=1)
        if pretrained:
            load_pretrained_encoder(self.encoder)
        extra = in_channels - 3
        if extra:
            self.encoder.stem.conv = _widen_input(self.encoder.stem.conv, (0, 3), extra)
            self.encoder.in_channels = in_channels
            self.dec1[0][0] = _widen_input(self.dec1[0][0], (c2, c2 + 3), extra)
        self._register_normalisation()
        self.train()
        # Channels-last memory: the depthwise and 1 x 1 convolutions run 1.1-1.2x faster per
        # training step on the CPU (bench train --models), with the same determinism.
        self.channels_last = True
        self.to(memory_format=torch.channels_last)

    def train(self, mode: bool = True) -> "EncoderUNet":
        super().train(mode)
        if self.freeze_batchnorm:
            for module in self.encoder.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.eval()
        return self

    def decoder_parameters(self):
        """The parameters outside the encoder (decoder and head), in registration order."""
        encoder = {id(p) for p in self.encoder.parameters()}
        return (p for p in self.parameters() if id(p) not in encoder)

    @staticmethod
    def _up_and_merge(coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(coarse, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([upsampled, skip], dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        f2, f4, f8, f16, f32 = self.encoder.features(x)
        d16 = self.dec16(self._up_and_merge(f32, f16))
        d8 = self.dec8(self._up_and_merge(d16, f8))
        d4 = self.dec4(self._up_and_merge(d8, f4))
        d2 = self.dec2(self._up_and_merge(d4, f2))
        d1 = self.dec1(self._up_and_merge(d2, x))
        return self.head(d1).contiguous()
