"""Helpers shared by the matting networks: input checks, padding, seeding, size and speed.

Every network in :mod:`mattinglib.models` takes an image batch ``(B, C, H, W)`` of any
height and width. The networks need sizes that are a multiple of their total stride, so they
pad the batch on the bottom and right edges by replicating the last row / column, run, and
crop the prediction back. Replication (rather than reflection) works for any pad width, even
when the pad is wider than the image, and extends the border alpha instead of mirroring
structure into it.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

# ImageNet statistics: the DINO / timm ViT weights expect inputs normalised with them, and
# they centre the input for the from-scratch networks just as well.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_image_batch(image: torch.Tensor, in_channels: int) -> None:
    """Raise ``ValueError`` unless ``image`` is a floating (B, in_channels, H, W) tensor.

    Parameters
    ----------
    image : Tensor
        The network input.
    in_channels : int
        The channel count the network was built for (3 = RGB, 4 = RGB + trimap).
    """
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"the input must be a torch.Tensor; got {type(image).__name__}")
    if image.ndim != 4:
        raise ValueError(f"the input must have shape (B, C, H, W); got {tuple(image.shape)}")
    if image.shape[1] != in_channels:
        raise ValueError(f"this network takes {in_channels} input channels; "
                         f"got an input of shape {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"the input must be a floating tensor with values in [0, 1]; got {image.dtype}")
    if image.shape[2] < 1 or image.shape[3] < 1:
        raise ValueError(f"the input is empty: shape {tuple(image.shape)}")


def normalize_input(image: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Normalise the RGB channels with ImageNet statistics; pass extra channels through.

    Parameters
    ----------
    image : Tensor, shape (B, C, H, W), float, values in [0, 1]
        RGB in channels 0-2; a trimap channel (values in {0, 0.5, 1}) in channel 3 when C = 4.
    mean, std : Tensor, shape (1, 3, 1, 1), float
        Per-channel statistics.

    Returns
    -------
    Tensor, shape (B, C, H, W), float
        ``(rgb - mean) / std`` followed by the unchanged extra channels.
    """
    rgb = (image[:, :3] - mean) / std
    if image.shape[1] == 3:
        return rgb
    return torch.cat([rgb, image[:, 3:]], dim=1)


def imagenet_statistics() -> tuple[torch.Tensor, torch.Tensor]:
    """Return the ImageNet mean and std as (1, 3, 1, 1) float32 tensors (for buffers)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return mean, std


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the bottom and right edges so that H and W become multiples of ``multiple``.

    Parameters
    ----------
    image : Tensor, shape (B, C, H, W)
        Any values.
    multiple : int
        The required divisor of the padded height and width (>= 1).

    Returns
    -------
    Tensor, shape (B, C, H', W')
        ``H' = ceil(H / multiple) * multiple`` (same for W); the new rows and columns repeat
        the last row / column. The input itself when no padding is needed.
    """
    height, width = image.shape[-2:]
    pad_bottom = -height % multiple
    pad_right = -width % multiple
    if pad_bottom == 0 and pad_right == 0:
        return image
    return F.pad(image, (0, pad_right, 0, pad_bottom), mode="replicate")


def conv_norm_act(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3 x 3 convolution, GroupNorm, ReLU: the building block of the convolutional parts.

    GroupNorm rather than BatchNorm: with batches of 8 (or 2 per GPU) of crops whose content
    differs a lot, batch statistics are noisy and the running averages used at inference
    (one whole 800 x 600 image) do not match them; GroupNorm computes the same statistics
    for a sample whatever else is in the batch, in training and in inference alike, so a
    prediction does not depend on batch composition or on ``model.eval()``.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts.
    stride : int
        1, or 2 to halve the resolution.

    Returns
    -------
    nn.Sequential
        ``(B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride)``.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.GroupNorm(math.gcd(out_channels, 8), out_channels),
        nn.ReLU(inplace=True),
    )


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Run a block with torch's CPU generator seeded, restoring the caller's state afterwards.

    Module constructors draw their initial weights from torch's global generator; this makes
    construction reproducible without leaving the global state changed.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model``.

    Parameters
    ----------
    model : nn.Module
        Any module.
    trainable_only : bool
        Count only parameters with ``requires_grad``.

    Returns
    -------
    int
        The parameter count (shared parameters counted once).
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class MattingNetwork(nn.Module):
    """Base of the matting networks: what every one does around its own layers.

    ``forward`` checks the batch, normalises the RGB channels (ImageNet statistics), pads to
    ``size_multiple``, calls :meth:`logits` and returns the sigmoid cropped back to the input
    size. A subclass sets ``in_channels`` and ``size_multiple``, calls
    :meth:`_register_normalisation` in its constructor and implements :meth:`logits`.
    """

    in_channels: int
    size_multiple: int

    def _register_normalisation(self) -> None:
        mean, std = imagenet_statistics()
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Alpha logits (B, 1, H, W) of a normalised, padded batch (B, in_channels, H, W)."""
        raise NotImplementedError

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Predict alpha.

        Parameters
        ----------
        image : Tensor, shape (B, in_channels, H, W), float, values in [0, 1]
            RGB (and the trimap channel when ``in_channels == 4``).

        Returns
        -------
        Tensor, shape (B, 1, H, W), float, values in (0, 1)
            The alpha matte, through a sigmoid.
        """
        check_image_batch(image, self.in_channels)
        height, width = image.shape[-2:]
        x = pad_to_multiple(normalize_input(image, self.mean, self.std), self.size_multiple)
        return torch.sigmoid(self.logits(x)[:, :, :height, :width])
