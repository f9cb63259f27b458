"""CompactUNet: the small convolutional matting network used by default on CPU.

A U-Net: an encoder that halves the resolution four times (1/2, 1/4, 1/8, 1/16), a decoder
that upsamples bilinearly and merges the encoder feature of the same scale at every step,
and a full-resolution last stage that also sees the input image itself, so that one-pixel
structures (hair strands) do not have to survive the trip through the coarse scales.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import MattingNetwork, conv_norm_act


def _double_conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """Two 3 x 3 conv-GroupNorm-ReLU layers; the first one may halve the resolution."""
    return nn.Sequential(conv_norm_act(in_channels, out_channels, stride),
                         conv_norm_act(out_channels, out_channels))


class CompactUNet(MattingNetwork):
    """A compact U-Net predicting alpha from an image (and optionally a trimap channel).

    With the default ``width=16`` (the CPU default: 3.3 training steps/s at batch 8 and
    96 px, 0.33 s for an 800 x 600 image on 2 cores) it has 233,721 parameters for 3 input
    channels; ``width=32`` has 931,697 (931,985 for 4). Channels per scale, full resolution to 1/16:
    encoder ``w/2, w, 2w, 4w, 4w``; decoder (1/8 to full) ``2w, 2w, w, w/2``. The parameter
    count grows with the square of ``width``.

    Normalisation is GroupNorm (see :func:`mattinglib.models.common.conv_norm_act` for why
    not BatchNorm), activations ReLU, downsampling by stride-2 convolutions, upsampling
    bilinear.

    Parameters
    ----------
    in_channels : int
        3 (RGB, the paper's setting) or 4 (RGB + trimap in {0, 0.5, 1}, our extension).
    width : int
        Base channel count ``w``; must be an even number >= 2.

    Notes
    -----
    Input of any height and width: the batch is padded on the bottom / right to a multiple
    of 16 by edge replication and the prediction is cropped back.
    """

    #: total stride of the encoder; inputs are padded to a multiple of it
    size_multiple = 16

    def __init__(self, in_channels: int = 3, width: int = 16) -> None:
        super().__init__()
        if in_channels < 3:
            raise ValueError(f"in_channels must be >= 3 (RGB first); got {in_channels}")
        if width < 2 or width % 2:
            raise ValueError(f"width must be an even number >= 2; got {width}")
        self.in_channels = in_channels
        self.width = width
        half, w = width // 2, width
        self.enc0 = _double_conv(in_channels, half)          # full resolution
        self.enc1 = _double_conv(half, w, stride=2)          # 1/2
        self.enc2 = _double_conv(w, 2 * w, stride=2)         # 1/4
        self.enc3 = _double_conv(2 * w, 4 * w, stride=2)     # 1/8
        self.enc4 = _double_conv(4 * w, 4 * w, stride=2)     # 1/16
        self.dec3 = _double_conv(4 * w + 4 * w, 2 * w)       # 1/8
        self.dec2 = _double_conv(2 * w + 2 * w, 2 * w)       # 1/4
        self.dec1 = _double_conv(2 * w + w, w)               # 1/2
        # The last stage sees the raw input too: the full-resolution path for thin structures.
        self.dec0 = _double_conv(w + half + in_channels, half)
        self.head = nn.Conv2d(half, 1, 3, padding=1)
        self._register_normalisation()

    @staticmethod
    def _up_and_merge(coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        upsampled = F.interpolate(coarse, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([upsampled, skip], dim=1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        d3 = self.dec3(self._up_and_merge(e4, e3))
        d2 = self.dec2(self._up_and_merge(d3, e2))
        d1 = self.dec1(self._up_and_merge(d2, e1))
        d0 = self.dec0(torch.cat([self._up_and_merge(d1, e0), x], dim=1))
        return self.head(d0)
