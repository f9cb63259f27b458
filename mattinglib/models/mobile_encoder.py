"""Mobile ImageNet encoders: MobileNetV2 and EfficientNet-Lite0, as one inverted-residual network.

Both networks are a stride-2 stem convolution followed by stages of *inverted residual* blocks
(a 1 x 1 expansion, a depthwise k x k convolution, a 1 x 1 linear projection, each followed by
BatchNorm; ReLU6 after the first two; a skip connection when the block keeps size and width)
and, for classification, a 1 x 1 head convolution to 1280 channels, global average pooling and
a linear classifier over the 1,000 ImageNet classes. They differ only in their stage table,
kernel sizes, BatchNorm epsilon and padding:

================== ==================================== ============== ================= ==========
encoder            stages (expansion, width, repeats,   BatchNorm eps  stride-2 padding  features
                   stride, kernel)                                                      (1/2 .. 1/32)
================== ==================================== ============== ================= ==========
mobilenetv2        1,16,1,1,3  6,24,2,2,3  6,32,3,2,3   1e-5           symmetric         16, 24, 32,
                   6,64,4,2,3  6,96,3,1,3  6,160,3,2,3                                   96, 320
                   6,320,1,1,3
efficientnet-lite0 1,16,1,1,3  6,24,2,2,3  6,40,2,2,5   1e-3           TensorFlow "SAME" 16, 24, 40,
                   6,80,3,2,3  6,112,3,1,5 6,192,4,2,5                 (one more pixel   112, 320
                   6,320,1,1,3                                         bottom / right)
================== ==================================== ============== ================= ==========

EfficientNet-Lite0's weights were trained in TensorFlow, whose "SAME" padding of a stride-2
convolution over an even-sized input puts the extra pixel at the bottom / right; padding it
symmetrically instead would shift every feature by half a pixel against what the weights
learned. The matting networks pad their input to a multiple of 32, so every stride-2 layer
sees an even size and the TensorFlow padding is a fixed ``(k // 2 - 1, k // 2)`` per side.

The module names are ours (``stem``, ``blocks.N.expand / depthwise / project``, ``head``,
``classifier``); :mod:`mattinglib.models.pretrained` maps a released state dict onto them by
the order of its layers, which torchvision, timm and efficientnet-lite-pytorch all share.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class EncoderSpec:
    """The architecture of one mobile encoder (see the module docstring's table).

    Attributes
    ----------
    stages : tuple of (expansion, out_channels, repeats, stride, kernel)
        The inverted-residual stages in order.
    feature_stages : tuple of int
        Indices of the stages whose last output is a feature map handed to a decoder, one per
        scale 1/2, 1/4, 1/8, 1/16, 1/32.
    batchnorm_eps : float
        Epsilon of every BatchNorm (the value the weights were trained with).
    tf_same_padding : bool
        Pad stride-2 convolutions as TensorFlow's "SAME" does (extra pixel bottom / right).
    stem_channels, head_channels : int
        Output widths of the stem and of the classification head's 1 x 1 convolution.
    """

    stages: tuple[tuple[int, int, int, int, int], ...]
    feature_stages: tuple[int, ...]
    batchnorm_eps: float
    tf_same_padding: bool
    stem_channels: int = 32
    head_channels: int = 1280

    @property
    def feature_channels(self) -> tuple[int, ...]:
        """Channels of the feature maps at 1/2, 1/4, 1/8, 1/16, 1/32."""
        return tuple(self.stages[i][1] for i in self.feature_stages)


ENCODER_SPECS = {
    "mobilenetv2": EncoderSpec(
        stages=((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 32, 3, 2, 3), (6, 64, 4, 2, 3),
                (6, 96, 3, 1, 3), (6, 160, 3, 2, 3), (6, 320, 1, 1, 3)),
        feature_stages=(0, 1, 2, 4, 6), batchnorm_eps=1e-5, tf_same_padding=False),
    "efficientnet-lite0": EncoderSpec(
        stages=((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
                (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3)),
        feature_stages=(0, 1, 2, 4, 6), batchnorm_eps=1e-3, tf_same_padding=True),
}


class ConvBN(nn.Module):
    """Convolution without bias, then BatchNorm, then ReLU6 (or nothing for a linear layer).

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts (``groups = in_channels`` makes it depthwise).
    kernel : int
        Kernel side (odd).
    stride : int
        1, or 2 to halve the resolution.
    groups : int
        Convolution groups.
    eps : float
        BatchNorm epsilon.
    activation : bool
        Apply ReLU6 after the BatchNorm.
    tf_same_padding : bool
        With ``stride == 2``, pad ``k // 2 - 1`` before and ``k // 2`` after (TensorFlow's
        "SAME" on even sizes) instead of ``k // 2`` on both sides.

    Attributes
    ----------
    fold_batchnorm : bool
        When the BatchNorm is in eval mode (frozen statistics, or inference), fold it into the
        convolution: one convolution with weight ``w * g / sqrt(v + eps)`` and bias
        ``b - m * g / sqrt(v + eps)``, recomputed at every call so that ``g`` and ``b`` still
        learn. The same function up to float rounding, 1.1x faster per training step
        (``python -m mattinglib.bench train --models``); deterministic. True by default.
    """

    fold_batchnorm = True

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 eps: float = 1e-5, activation: bool = True, tf_same_padding: bool = False) -> None:
        super().__init__()
        self.pad = None
        padding = kernel // 2
        if tf_same_padding and stride == 2:
            self.pad = (kernel // 2 - 1, kernel // 2, kernel // 2 - 1, kernel // 2)
            padding = 0
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=eps)
        self.act = nn.ReLU6(inplace=True) if activation else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = F.pad(x, self.pad)
        bn, conv = self.bn, self.conv
        if bn.training or not self.fold_batchnorm:
            return self.act(bn(conv(x)))
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        weight = conv.weight * scale.view(-1, 1, 1, 1)
        bias = bn.bias - bn.running_mean * scale
        return self.act(F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups))


class InvertedResidual(nn.Module):
    """Expansion 1 x 1 (when ``expansion > 1``), depthwise k x k, linear projection 1 x 1; a skip
    connection when the block keeps resolution and width."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int, stride: int, kernel: int,
                 eps: float, tf_same_padding: bool) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.expand = ConvBN(in_channels, hidden, eps=eps) if expansion != 1 else None
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden, eps=eps,
                                tf_same_padding=tf_same_padding)
        self.project = ConvBN(hidden, out_channels, eps=eps, activation=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class MobileEncoder(nn.Module):
    """A MobileNetV2 or EfficientNet-Lite0 network: features for a decoder, or ImageNet classes.

    Parameters
    ----------
    name : str
        A key of :data:`ENCODER_SPECS`: ``"mobilenetv2"`` or ``"efficientnet-lite0"``.
    in_channels : int
        Input channels of the stem (3 = RGB; 4 = RGB + trimap in the matting networks).
    classifier : bool
        Build the ImageNet head too (1 x 1 convolution to 1280 channels, pooling, dropout-free
        linear layer to 1000 classes): for :meth:`classify`, which checks pretrained weights.
        The matting networks leave it out (1.7 M parameters they never use).

    Notes
    -----
    Initialisation, used when no pretrained weights are loaded: He-normal (fan-out) for the
    convolutions, BatchNorm scale 1 and shift 0, the classifier N(0, 0.01), as the MobileNetV2
    reference does. Inputs are expected normalised with ImageNet's mean and std.
    """

    def __init__(self, name: str, in_channels: int = 3, classifier: bool = False) -> None:
        super().__init__()
        if name not in ENCODER_SPECS:
            raise ValueError(f"unknown encoder {name!r}; known: {', '.join(ENCODER_SPECS)}")
        spec = ENCODER_SPECS[name]
        self.name, self.spec, self.in_channels = name, spec, in_channels
        eps, same = spec.batchnorm_eps, spec.tf_same_padding
        self.stem = ConvBN(in_channels, spec.stem_channels, 3, 2, eps=eps, tf_same_padding=same)
        blocks, self.stage_ends = [], []
        channels = spec.stem_channels
        for expansion, out_channels, repeats, stride, kernel in spec.stages:
            for repeat in range(repeats):
                blocks.append(InvertedResidual(channels, out_channels, expansion, stride if repeat == 0 else 1,
                                               kernel, eps, same))
                channels = out_channels
            self.stage_ends.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self.feature_blocks = tuple(self.stage_ends[i] for i in spec.feature_stages)
        self.head = self.classifier = None
        if classifier:
            self.head = ConvBN(channels, spec.head_channels, eps=eps)
            self.classifier = nn.Linear(spec.head_channels, 1000)
        self._initialise()

    def _initialise(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    @property
    def feature_channels(self) -> tuple[int, ...]:
        """Channels of the five feature maps :meth:`features` returns."""
        return self.spec.feature_channels

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps at 1/2, 1/4, 1/8, 1/16 and 1/32 of the input size.

        Parameters
        ----------
        x : Tensor, shape (B, in_channels, H, W), float
            Normalised input; H and W multiples of 32 for exact scales.

        Returns
        -------
        list of 5 Tensors, shapes (B, feature_channels[i], H / 2**(i+1), W / 2**(i+1))
        """
        out = []
        x = self.stem(x)
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.feature_blocks:
                out.append(x)
        return out

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000) of a normalised batch (B, in_channels, H, W)."""
        if self.classifier is None:
            raise ValueError("this encoder was built without its classifier (classifier=False)")
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(self.head(x).mean(dim=(2, 3)))
