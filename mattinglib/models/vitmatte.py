"""ViTMatte-style matting network: a plain ViT backbone and a detail-capture decoder.

The ViT sees the image at 1/16 (one token per 16 x 16 patch), which is enough context but
far too coarse for a matte. The detail-capture decoder supplies the missing resolution:

- a *detail stream* of stride-2 convolutions extracts features from the input at 1/2, 1/4
  and 1/8 (for a 16-pixel patch; log2(patch) - 1 scales in general);
- *fusion* steps upsample the ViT features by 2, concatenate the detail feature (or, at full
  resolution, the input itself) of that scale and mix them with a 3 x 3 convolution, from
  1/8 up to full resolution;
- a *matting head* (3 x 3 conv, norm, ReLU, 1 x 1 conv) gives the alpha logits.

Configurations live in one dataclass, :class:`ViTMatteConfig`; :func:`vitmatte_s` is the
paper's ViT-S/16 set-up and :func:`vitmatte_tiny` a CPU-sized one.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .common import MattingNetwork, conv_norm_act
from .vit import ViTBackbone


@dataclass(frozen=True)
class ViTMatteConfig:
    """Every size of a ViTMatte-style network.

    Attributes
    ----------
    in_channels : int
        3 (image only, the paper) or 4 (image + trimap, our extension).
    patch_size : int
        ViT patch side, a power of two >= 2; the backbone's output stride.
    embed_dim, depth, num_heads : int
        ViT width, number of blocks, attention heads.
    mlp_ratio : float
        ViT MLP hidden width / embed_dim.
    window_size : int
        Attention window side (tokens) of the windowed blocks.
    global_blocks : tuple of int
        Blocks with global attention; all others are windowed.
    use_rel_pos : bool
        Decomposed relative position bias in every block.
    pos_embed_grid : int
        Token grid side the absolute position embedding is stored for.
    rel_pos_grid : int
        Token grid side the global blocks' relative tables are sized for.
    detail_channels : tuple of int
        Detail-stream widths at 1/2, 1/4, ...; ``log2(patch_size) - 1`` entries.
    fusion_channels : tuple of int
        Fusion widths from the coarsest detail scale to full resolution;
        ``log2(patch_size)`` entries.
    head_channels : int
        Hidden width of the matting head.
    """

    in_channels: int = 3
    patch_size: int = 16
    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_ratio: float = 4.0
    window_size: int = 14
    global_blocks: tuple[int, ...] = (2, 5, 8, 11)
    use_rel_pos: bool = True
    pos_embed_grid: int = 14
    rel_pos_grid: int = 32
    detail_channels: tuple[int, ...] = (48, 96, 192)
    fusion_channels: tuple[int, ...] = (256, 128, 64, 32)
    head_channels: int = 16

    def __post_init__(self) -> None:
        patch = self.patch_size
        if patch < 2 or patch & (patch - 1):
            raise ValueError(f"patch_size must be a power of two >= 2; got {patch}")
        scales = patch.bit_length() - 1                     # log2(patch)
        if len(self.detail_channels) != scales - 1:
            raise ValueError(f"detail_channels needs {scales - 1} entries for patch_size {patch} "
                             f"(scales 1/2 .. 1/{patch // 2}); got {self.detail_channels}")
        if len(self.fusion_channels) != scales:
            raise ValueError(f"fusion_channels needs {scales} entries for patch_size {patch} "
                             f"(1/{patch // 2} .. full resolution); got {self.fusion_channels}")
        if self.in_channels < 3:
            raise ValueError(f"in_channels must be >= 3 (RGB first); got {self.in_channels}")


def vitmatte_s(**overrides) -> ViTMatteConfig:
    """The paper's ViTMatte-S: ViT-S/16 (dim 384, depth 12, 6 heads), windows of 14 tokens in
    blocks 0, 1, 3, 4, 6, 7, 9, 10, global attention in 2, 5, 8, 11, relative position bias,
    detail stream 48 / 96 / 192, fusion 256 / 128 / 64 / 32. 23,793,025 parameters, of which
    21,724,800 in the backbone. ``overrides`` replace any field of :class:`ViTMatteConfig`."""
    return ViTMatteConfig(**overrides)


def vitmatte_tiny(**overrides) -> ViTMatteConfig:
    """A CPU-sized ViTMatte: patch 16, dim 96, depth 6, 3 heads (head dim 32), windows of 8
    tokens with global attention in blocks 2 and 5, no relative position bias, detail stream
    24 / 48 / 96, fusion 128 / 64 / 32 / 16. 1,159,801 parameters (751,200 in the backbone).

    Patch 16 keeps it a miniature of ViTMatte-S (same decoder layout); the token count stays
    small (64 tokens for a 128 x 128 crop), so that a training step fits two CPU cores, and the
    detail stream supplies the resolution. ``overrides`` replace any field."""
    settings = dict(patch_size=16, embed_dim=96, depth=6, num_heads=3, window_size=8,
                    global_blocks=(2, 5), use_rel_pos=False, pos_embed_grid=8, rel_pos_grid=8,
                    detail_channels=(24, 48, 96), fusion_channels=(128, 64, 32, 16), head_channels=16)
    settings.update(overrides)
    return ViTMatteConfig(**settings)


class DetailCaptureDecoder(nn.Module):
    """Fuse stride-``patch`` ViT features with a convolutional detail stream up to full resolution.

    Parameters
    ----------
    in_channels : int
        Channels of the (normalised) network input.
    feature_channels : int
        Channels of the ViT feature map.
    detail_channels : tuple of int
        Detail-stream widths at 1/2, 1/4, ...
    fusion_channels : tuple of int
        Fusion widths, coarsest first, the last at full resolution.
    head_channels : int
        Hidden width of the matting head.
    """

    def __init__(self, in_channels: int, feature_channels: int, detail_channels: tuple[int, ...],
                 fusion_channels: tuple[int, ...], head_channels: int) -> None:
        super().__init__()
        stream = []
        previous = in_channels
        for channels in detail_channels:
            stream.append(conv_norm_act(previous, channels, stride=2))
            previous = channels
        self.detail_stream = nn.ModuleList(stream)
        # Skip inputs of the fusion steps, coarsest first; the full-resolution one is the
        # input itself, the path that lets the head see single-pixel structure.
        skip_channels = list(reversed(detail_channels)) + [in_channels]
        fusions = []
        previous = feature_channels
        for channels, skip in zip(fusion_channels, skip_channels):
            fusions.append(conv_norm_act(previous + skip, channels))
            previous = channels
        self.fusion = nn.ModuleList(fusions)
        self.head = nn.Sequential(conv_norm_act(previous, head_channels), nn.Conv2d(head_channels, 1, 1))

    def forward(self, features: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Alpha logits.

        Parameters
        ----------
        features : Tensor, shape (B, feature_channels, H / patch, W / patch)
        image : Tensor, shape (B, in_channels, H, W)
            The normalised, padded input (H, W multiples of the patch size).

        Returns
        -------
        Tensor, shape (B, 1, H, W)
            Logits (before the sigmoid).
        """
        details = [image]
        x = image
        for stage in self.detail_stream:
            x = stage(x)
            details.append(x)
        out = features
        for fuse, detail in zip(self.fusion, reversed(details)):
            out = F.interpolate(out, size=detail.shape[-2:], mode="bilinear", align_corners=False)
            out = fuse(torch.cat([out, detail], dim=1))
        return self.head(out)


class ViTMatte(MattingNetwork):
    """ViT backbone + detail-capture decoder, predicting alpha through a sigmoid.

    Parameters
    ----------
    config : ViTMatteConfig
        Sizes; :func:`vitmatte_s` by default.

    Notes
    -----
    The RGB channels are normalised with ImageNet statistics inside the model (what DINO /
    timm weights expect); a trimap channel is passed through unchanged. Input of any height and
    width: the batch is padded on the bottom / right to a multiple of the patch size by edge
    replication and the prediction cropped back. The decoder uses GroupNorm where the
    published ViTMatte uses BatchNorm (see :func:`mattinglib.models.common.conv_norm_act`).
    """

    def __init__(self, config: ViTMatteConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else vitmatte_s()
        self.config = config
        self.in_channels = config.in_channels
        self.size_multiple = config.patch_size
        self.backbone = ViTBackbone(
            in_channels=config.in_channels, patch_size=config.patch_size, embed_dim=config.embed_dim,
            depth=config.depth, num_heads=config.num_heads, mlp_ratio=config.mlp_ratio,
            window_size=config.window_size, global_blocks=config.global_blocks,
            use_rel_pos=config.use_rel_pos, pos_embed_grid=config.pos_embed_grid,
            rel_pos_grid=config.rel_pos_grid)
        self.decoder = DetailCaptureDecoder(config.in_channels, config.embed_dim, config.detail_channels,
                                            config.fusion_channels, config.head_channels)
        self._register_normalisation()

    def layer_id(self, name: str) -> tuple[int, int]:
        """Depth of a parameter for layer-wise learning-rate decay.

        Parameters
        ----------
        name : str
            A name from ``self.named_parameters()``.

        Returns
        -------
        (int, int)
            ``(layer, num_layers)`` with ``num_layers = depth + 1``: the patch and position
            embeddings are layer 0, ``backbone.blocks.N`` layer ``N + 1``, everything after the
            last block (final norm, decoder) layer ``num_layers``. With a decay ``d``, a
            parameter's learning rate is scaled by ``d ** (num_layers - layer)``: 1 for the
            decoder, ``d`` for the last block, ``d ** (depth + 1)`` for the embeddings (the
            ViTMatte recipe, d = 0.65).
        """
        num_layers = self.config.depth + 1
        if name.startswith("backbone.patch_embed.") or name == "backbone.pos_embed":
            return 0, num_layers
        if name.startswith("backbone.blocks."):
            return int(name.split(".")[2]) + 1, num_layers
        return num_layers, num_layers

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.backbone(x), x)
