"""Photo crops: the textures and backgrounds of the synthetic composites.

:func:`crop_photo` cuts a random, randomly zoomed (and mirrored) crop out of a photograph and
resamples it with antialiasing; :func:`jitter_colours` changes a crop's saturation, contrast,
brightness and channel gains. Both draw every random number from the ``rng`` they are given.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def crop_photo(rng: np.random.Generator, photo: np.ndarray, height: int, width: int,
               zoom_range: tuple[float, float] = (0.75, 2.0), flip: bool = True) -> np.ndarray:
    """A random crop of a photograph, resampled to ``(height, width)``.

    The zoom ``z`` (photo pixels per output pixel) is drawn log-uniformly from ``zoom_range``
    and lowered to the largest value at which the crop fits inside the photo (so a small photo
    is enlarged); the crop, ``round(z * height) x round(z * width)`` photo pixels, sits at a
    uniform random position; with ``flip`` it is mirrored left-right with probability 1/2. The
    resampling is bilinear with antialiasing (a triangle filter widened to the zoom when
    shrinking), so a shrunk crop is not aliased.

    Parameters
    ----------
    rng : numpy.random.Generator
    photo : ndarray, shape (h, w, 3), uint8 or float in [0, 1]
    height, width : int
    zoom_range : (float, float), 0 < lo <= hi
    flip : bool

    Returns
    -------
    ndarray, shape (height, width, 3), float32, values in [0, 1]
    """
    lo, hi = zoom_range
    if not 0 < lo <= hi:
        raise ValueError(f"zoom_range must satisfy 0 < lo <= hi; got {zoom_range!r}")
    photo_h, photo_w = photo.shape[:2]
    zoom = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    zoom = min(zoom, photo_h / height, photo_w / width)
    crop_h = min(max(int(round(zoom * height)), 1), photo_h)
    crop_w = min(max(int(round(zoom * width)), 1), photo_w)
    top = int(rng.integers(photo_h - crop_h + 1))
    left = int(rng.integers(photo_w - crop_w + 1))
    region = photo[top:top + crop_h, left:left + crop_w]
    if flip and rng.random() < 0.5:
        region = region[:, ::-1]
    # A writable contiguous copy (pool photos are read-only), as a (1, 3, h, w) float tensor.
    tensor = torch.from_numpy(np.array(region, dtype=np.float32)).permute(2, 0, 1)[None]
    if photo.dtype == np.uint8:
        tensor.mul_(1.0 / 255.0)
    if (crop_h, crop_w) != (height, width):
        tensor = F.interpolate(tensor, size=(height, width), mode="bilinear", align_corners=False,
                               antialias=crop_h > height or crop_w > width)
    out = np.ascontiguousarray(tensor[0].permute(1, 2, 0).numpy())
    return np.clip(out, 0.0, 1.0, out=out)


def jitter_colours(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Random saturation (x0.6..1.4), contrast (x0.75..1.25 about the mean grey level),
    brightness (x0.75..1.25) and per-channel gains (x0.92..1.08) of an (H, W, 3) float image in
    [0, 1], clipped to [0, 1].

    All four are affine maps of a pixel's colour, so they are applied as one 3 x 3 matrix and
    an offset.
    """
    saturation = rng.uniform(0.6, 1.4)
    contrast = rng.uniform(0.75, 1.25)
    brightness = rng.uniform(0.75, 1.25)
    gains = rng.uniform(0.92, 1.08, size=3)
    # Saturation s: grey + s (c - grey), grey the channel mean; it keeps the grey level.
    matrix = saturation * np.eye(3) + (1.0 - saturation) / 3.0
    mean_grey = float(image.mean())
    # Contrast about the image's mean grey, then brightness and gains.
    scale = (gains * brightness)[:, None]
    matrix = scale * contrast * matrix
    offset = (gains * brightness) * (1.0 - contrast) * mean_grey
    height, width, _ = image.shape
    out = image.reshape(-1, 3) @ matrix.T.astype(np.float32) + offset.astype(np.float32)
    return np.clip(out, 0.0, 1.0, out=out).reshape(height, width, 3)
