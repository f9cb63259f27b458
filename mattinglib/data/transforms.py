"""Sample transforms (crop, flip, scale, resize, DDC neighbours) and the seeded dataset base.

Randomness. Every transform is a callable ``transform(sample, rng) -> sample`` where ``rng``
is a ``numpy.random.Generator``; it draws every random number from ``rng`` and from nothing
else. Every dataset derives from :class:`SeededDataset` and, in ``__getitem__(index)``,
builds ``rng = numpy.random.default_rng((seed, epoch, index))`` (:meth:`SeededDataset.sample_rng`)
and passes it to its transform. A sample therefore depends only on (seed, epoch, index), so
batches are the same whatever the number of DataLoader workers or the order in which the
workers run.

Samples. A sample is a dict (see :func:`make_sample`) of float32 CHW tensors:
``"image"`` (3, H, W) RGB in [0, 1], ``"trimap"`` (1, H, W) in {0, 0.5, 1}, ``"alpha"``
(1, H, W) in [0, 1] when known, ``"name"`` (str), and after :class:`AddNeighbors`
``"neighbors"``. The geometric transforms move every 3-D tensor of the sample together:
``"trimap"`` with nearest-neighbour interpolation, ``"alpha"`` bilinear, every other tensor
(``"image"``, a ``"foreground"``...) like the image. They refuse a sample that already has
``"neighbors"``, whose pixel indices a geometric change would invalidate: put
:class:`AddNeighbors` last.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mattinglib.losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK

Sample = dict
Transform = Callable[[Sample, np.random.Generator], Sample]


class SeededDataset(torch.utils.data.Dataset):
    """Base class giving a dataset a seed, an epoch and a per-sample generator.

    Parameters
    ----------
    seed : int
        Non-negative base seed.
    epoch : int
        Non-negative epoch number; change it with :meth:`set_epoch` before each epoch so
        that random crops differ between epochs. DataLoader workers receive a copy of the
        dataset when they start, so with ``persistent_workers=True`` a later ``set_epoch``
        does not reach them: use non-persistent workers (the default) or recreate the loader.
    """

    def __init__(self, seed: int = 0, epoch: int = 0):
        self.seed = _check_non_negative_int(seed, "seed")
        self.epoch = _check_non_negative_int(epoch, "epoch")

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that :meth:`sample_rng` mixes into every sample's generator."""
        self.epoch = _check_non_negative_int(epoch, "epoch")

    def sample_rng(self, index: int) -> np.random.Generator:
        """Return ``numpy.random.default_rng((seed, epoch, index))``, the generator of one sample."""
        return np.random.default_rng((self.seed, self.epoch, _check_non_negative_int(index, "index")))


def _check_non_negative_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    return int(value)


def make_sample(name: str, image: np.ndarray, trimap: np.ndarray, alpha: np.ndarray | None = None) -> Sample:
    """Build a sample dict of float32 CHW tensors from HWC / HW numpy arrays.

    Parameters
    ----------
    name : str
        The sample's name (file stem or scene name).
    image : ndarray, shape (H, W, 3)
        RGB in [0, 1].
    trimap : ndarray, shape (H, W)
        Values in {0, 0.5, 1}.
    alpha : ndarray, shape (H, W), optional
        Alpha in [0, 1]; the key ``"alpha"`` is present only when it is given.

    Returns
    -------
    dict
        ``{"image": (3, H, W), "trimap": (1, H, W), ["alpha": (1, H, W),] "name": name}``.
    """
    image = np.asarray(image, dtype=np.float32)
    trimap = np.asarray(trimap, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name}: image must have shape (H, W, 3); got {image.shape}")
    if trimap.shape != image.shape[:2]:
        raise ValueError(f"{name}: trimap shape {trimap.shape} differs from image (H, W) {image.shape[:2]}")
    sample = {
        "image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
        "trimap": torch.from_numpy(np.ascontiguousarray(trimap[None])),
    }
    if alpha is not None:
        alpha = np.asarray(alpha, dtype=np.float32)
        if alpha.shape != image.shape[:2]:
            raise ValueError(f"{name}: alpha shape {alpha.shape} differs from image (H, W) {image.shape[:2]}")
        sample["alpha"] = torch.from_numpy(np.ascontiguousarray(alpha[None]))
    sample["name"] = name
    return sample


def _pair(size, name: str) -> tuple[int, int]:
    """An int or an (h, w) pair of positive ints."""
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    if len(size) != 2 or any(int(s) != s or s <= 0 for s in size):
        raise ValueError(f"{name} must be a positive int or a pair (h, w) of positive ints; got {size!r}")
    return int(size[0]), int(size[1])


def _spatial_keys(sample: Sample, transform_name: str) -> list[str]:
    """Keys of the 3-D tensors (C, H, W) a geometric transform must move; checks they agree."""
    if "neighbors" in sample:
        raise ValueError(f"{transform_name}: the sample already has 'neighbors', which a geometric "
                         "transform would invalidate; apply AddNeighbors last")
    keys = [key for key, value in sample.items() if torch.is_tensor(value) and value.ndim == 3]
    if "image" not in keys and "trimap" not in keys:
        raise ValueError(f"{transform_name}: sample has neither 'image' nor 'trimap' tensor (C, H, W)")
    sizes = {key: tuple(sample[key].shape[1:]) for key in keys}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"{transform_name}: sample tensors disagree in (H, W): {sizes}")
    return keys


def _height_width(sample: Sample, keys: list[str]) -> tuple[int, int]:
    return tuple(sample[keys[0]].shape[1:])


def _resize_tensor(key: str, value: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize one (C, H, W) tensor: trimap nearest, alpha bilinear, image-like bilinear/area."""
    if tuple(value.shape[1:]) == size:
        return value
    batch = value[None].float()
    if key == "trimap":
        # Nearest keeps the three levels; "nearest-exact" samples pixel centres symmetrically.
        out = F.interpolate(batch, size=size, mode="nearest-exact")
    elif key != "alpha" and size[0] < value.shape[1] and size[1] < value.shape[2]:
        # Shrinking an image: area averaging avoids the aliasing of bilinear sampling.
        out = F.interpolate(batch, size=size, mode="area")
    else:
        out = F.interpolate(batch, size=size, mode="bilinear", align_corners=False)
    return out[0].clamp_(0.0, 1.0).to(value.dtype)


def _resize_sample(sample: Sample, size: tuple[int, int], transform_name: str) -> Sample:
    keys = _spatial_keys(sample, transform_name)
    out = dict(sample)
    for key in keys:
        out[key] = _resize_tensor(key, sample[key], size)
    return out


class Compose:
    """Apply transforms in turn, all drawing from the same generator.

    Parameters
    ----------
    transforms : sequence of callables ``(sample, rng) -> sample``
    """

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for transform in self.transforms:
            sample = transform(sample, rng)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class RandomCrop:
    """Crop a window of fixed size, centred on a random unknown pixel when there are enough.

    As in the paper's release (the crop of the GCA / ViTMatte data pipeline): the candidates
    are the unknown trimap pixels (value 1/2) on which a centred window fits inside the
    image, i.e. rows ``h // 2 .. H - h + h // 2`` and the same for columns. If there are at
    least ``min_unknown`` candidates, one is drawn uniformly and the window is placed with
    that pixel at row ``h // 2``, column ``w // 2`` of the crop; otherwise the window is
    placed uniformly at random. The release counts its threshold of 10 candidates on a
    4x-subsampled trimap, i.e. about 160 full-resolution pixels, which is the default here.

    An image smaller than the crop along a side is first padded at the bottom / right with
    zeros (image black, alpha 0, trimap 0 = background, DDC's zero padding, docs/method.md).

    Parameters
    ----------
    size : int or (int, int)
        Crop height and width in pixels.
    unknown_centred : bool
        False: always place the window uniformly at random.
    min_unknown : int
        "Enough" unknown pixels: the least number of candidates for an unknown-centred crop.
    """

    def __init__(self, size, unknown_centred: bool = True, min_unknown: int = 160):
        self.size = _pair(size, "RandomCrop size")
        self.unknown_centred = bool(unknown_centred)
        if min_unknown < 1:
            raise ValueError(f"min_unknown must be at least 1; got {min_unknown}")
        self.min_unknown = int(min_unknown)

    def unknown_candidates(self, trimap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-left corners of the unknown-centred windows of a trimap.

        What :meth:`__call__` draws from, for a caller that crops the same trimap many times
        (:class:`~mattinglib.data.realfg.RealForegroundCompositeDataset` crops each scene once
        per item) and passes the result back as ``candidates``.

        Parameters
        ----------
        trimap : Tensor, shape (1, H, W)
            Values in {0, 0.5, 1}; padded at the bottom / right like the sample when smaller
            than the crop.

        Returns
        -------
        rows, cols : Tensor, shape (n,), int64
            Row and column (px) of each window's top-left corner, row-major order; ``n`` may
            be below ``min_unknown``, in which case the window is placed uniformly instead.
        """
        crop_h, crop_w = self.size
        height, width = max(trimap.shape[1], crop_h), max(trimap.shape[2], crop_w)
        if (height, width) != tuple(trimap.shape[1:]):
            trimap = F.pad(trimap, (0, width - trimap.shape[2], 0, height - trimap.shape[1]), value=0.0)
        half_h, half_w = crop_h // 2, crop_w // 2
        interior = trimap[0, half_h:height - crop_h + half_h + 1, half_w:width - crop_w + half_w + 1]
        # The interior starts at (half_h, half_w), so its (row, col) is also the window's top-left.
        return torch.nonzero(interior == 0.5, as_tuple=True)

    def __call__(self, sample: Sample, rng: np.random.Generator,
                 candidates: tuple[torch.Tensor, torch.Tensor] | None = None) -> Sample:
        """Crop ``sample``; ``candidates``, when given, is :meth:`unknown_candidates` of its trimap."""
        keys = _spatial_keys(sample, "RandomCrop")
        crop_h, crop_w = self.size
        height, width = _height_width(sample, keys)
        pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
        out = dict(sample)
        if pad_h or pad_w:
            for key in keys:
                out[key] = F.pad(sample[key], (0, pad_w, 0, pad_h), value=0.0)
            height, width = height + pad_h, width + pad_w

        top = left = None
        if self.unknown_centred and "trimap" in out:
            if candidates is None:
                candidates = self.unknown_candidates(out["trimap"])
            rows, cols = candidates
            if rows.numel() >= self.min_unknown:
                pick = int(rng.integers(rows.numel()))
                top, left = int(rows[pick]), int(cols[pick])
        if top is None:
            top = int(rng.integers(height - crop_h + 1))
            left = int(rng.integers(width - crop_w + 1))
        for key in keys:
            out[key] = out[key][:, top:top + crop_h, left:left + crop_w].contiguous()
        return out

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, unknown_centred={self.unknown_centred}, min_unknown={self.min_unknown})"


class RandomFlip:
    """Flip the sample left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"flip probability must lie in [0, 1]; got {p}")
        self.p = float(p)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        keys = _spatial_keys(sample, "RandomFlip")
        # Draw even when p is 0 or 1 so that later transforms see the same stream.
        if rng.random() >= self.p:
            return dict(sample)
        out = dict(sample)
        for key in keys:
            out[key] = torch.flip(sample[key], dims=(2,))
        return out

    def __repr__(self) -> str:
        return f"RandomFlip(p={self.p})"


class RandomScale:
    """Rescale the sample by a factor drawn uniformly from ``scale_range``.

    The new size is ``round(H * s), round(W * s)`` (at least 1). Image-like tensors use
    area averaging when shrunk and bilinear interpolation otherwise, alpha bilinear, the
    trimap nearest-neighbour (it stays three-level).

    Parameters
    ----------
    scale_range : (float, float)
        Lowest and highest factor, both positive.
    """

    def __init__(self, scale_range: tuple[float, float] = (0.75, 1.5)):
        low, high = scale_range
        if not 0.0 < low <= high:
            raise ValueError(f"scale_range must satisfy 0 < low <= high; got {scale_range}")
        self.scale_range = (float(low), float(high))

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        keys = _spatial_keys(sample, "RandomScale")
        height, width = _height_width(sample, keys)
        scale = rng.uniform(*self.scale_range)
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        return _resize_sample(sample, size, "RandomScale")

    def __repr__(self) -> str:
        return f"RandomScale(scale_range={self.scale_range})"


class Resize:
    """Resize the sample to a fixed size (deterministic; ``rng`` is not used).

    Parameters
    ----------
    size : int or (int, int)
        Output height and width in pixels (an int gives a square).
    """

    def __init__(self, size):
        self.size = _pair(size, "Resize size")

    def __call__(self, sample: Sample, rng: np.random.Generator | None = None) -> Sample:
        return _resize_sample(sample, self.size, "Resize")

    def __repr__(self) -> str:
        return f"Resize(size={self.size})"


class AddNeighbors:
    """Store the DDC neighbours of the sample's image in ``sample["neighbors"]``.

    Calls ``mattinglib.losses.select_neighbors(sample["image"], kernel_size, topk)`` without
    gradient. Running it here, in the DataLoader workers, keeps the costly selection
    (``python -m mattinglib.bench ddc`` times it: ``results/benchmarks/ddc.json``) out of the
    training step. Put it last: a later geometric transform would invalidate the neighbour
    indices. ``rng`` is not used.

    Parameters
    ----------
    kernel_size : int
        Side of the square candidate window (odd), default :data:`~mattinglib.losses.neighbors.DEFAULT_KERNEL_SIZE` (11, docs/method.md).
    topk : int
        Number of neighbours kept per pixel, default :data:`~mattinglib.losses.neighbors.DEFAULT_TOPK` (11, docs/method.md).
    """

    def __init__(self, kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK):
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer; got {kernel_size}")
        if not 1 <= topk <= kernel_size * kernel_size:
            raise ValueError(f"topk must lie in 1..kernel_size**2 = {kernel_size * kernel_size}; got {topk}")
        self.kernel_size = int(kernel_size)
        self.topk = int(topk)

    def __call__(self, sample: Sample, rng: np.random.Generator | None = None) -> Sample:
        # Imported here so that the data package does not depend on the losses at import time.
        from mattinglib.losses import select_neighbors

        if "image" not in sample:
            raise ValueError("AddNeighbors: the sample has no 'image'")
        out = dict(sample)
        with torch.no_grad():
            out["neighbors"] = select_neighbors(sample["image"], self.kernel_size, self.topk)
        return out

    def __repr__(self) -> str:
        return f"AddNeighbors(kernel_size={self.kernel_size}, topk={self.topk})"
