"""One synthetic composite: photo crops and foreground layers stacked with the "over" operator.

:func:`make_composite` crops the body's texture and the background from two photographs
(:mod:`~mattinglib.data.synthetic.crops`), draws the veil, body and hair layers
(:mod:`~mattinglib.data.synthetic.layers`), combines them back to front in premultiplied
colour, quantises alpha to 8 bits and returns the image with its exact alpha, foreground and
background.
"""
from __future__ import annotations

import numpy as np

from .crops import crop_photo, jitter_colours
from .layers import _body_layer, _hair_layer, _veil_layer


def _pair(size) -> tuple[int, int]:
    """A composite size as (height, width) in pixels, each an integer >= 16; an int is a square."""
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    if len(size) != 2 or any(isinstance(s, bool) or int(s) != s or s < 16 for s in size):
        raise ValueError(f"size must be an int or (height, width), each at least 16 pixels; got {size!r}")
    return int(size[0]), int(size[1])


def make_composite(rng: np.random.Generator, size, fg_photo: np.ndarray, bg_photo: np.ndarray, *,
                   hair_probability: float = 0.8, veil_probability: float = 0.4, colour_jitter: bool = True,
                   zoom_range: tuple[float, float] = (0.75, 2.0), max_strands: int = 250,
                   quantize_alpha: bool = True) -> dict[str, np.ndarray]:
    """One synthetic composite with its exact alpha, foreground and background.

    See :mod:`mattinglib.data.synthetic` for the layers. Every random number comes from ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator
    size : int or (height, width)
        Output size in pixels (each side at least 16).
    fg_photo, bg_photo : ndarray, shape (h, w, 3), uint8 or float in [0, 1]
        Photographs for the foreground's colours and for the background.
    hair_probability, veil_probability : float in [0, 1]
        Probability that the composite has hair strands / a semi-transparent veil.
    colour_jitter : bool
        Randomly change the foreground crop's saturation, contrast, brightness and channel gains.
    zoom_range : (float, float)
        Photo pixels per output pixel for both crops (see :func:`crop_photo`).
    max_strands : int
        Upper bound on the number of hair strands (bounds the cost).
    quantize_alpha : bool
        Round alpha to multiples of 1/255 (as 8-bit mattes are). False keeps the rendered value.

    Returns
    -------
    dict of ndarray, float32
        ``"image"`` (H, W, 3) in [0, 1], equal to ``alpha[..., None] * fg + (1 - alpha[..., None]) * bg``
        computed in float32; ``"alpha"`` (H, W) in [0, 1] with exact 0 and 1 regions;
        ``"fg"`` (H, W, 3) the foreground colour ``F`` (the body's photo crop where alpha is 0);
        ``"bg"`` (H, W, 3) the background ``B``.
    """
    height, width = _pair(size)
    for name, value in (("hair_probability", hair_probability), ("veil_probability", veil_probability)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1]; got {value}")
    for name, photo in (("fg_photo", fg_photo), ("bg_photo", bg_photo)):
        if photo.ndim != 3 or photo.shape[2] != 3:
            raise ValueError(f"{name} must have shape (h, w, 3); got {photo.shape}")

    texture = crop_photo(rng, fg_photo, height, width, zoom_range)
    if colour_jitter:
        texture = jitter_colours(rng, texture)
    background = crop_photo(rng, bg_photo, height, width, zoom_range)
    # Decide the optional layers up front so that each draw sits at a fixed place in the stream.
    with_veil = rng.random() < veil_probability
    with_hair = rng.random() < hair_probability

    body_alpha, body_sdf, window, body_centre = _body_layer(rng, height, width)
    veil = _veil_layer(rng, height, width, body_centre, texture) if with_veil else None
    hair = None
    if with_hair:
        hair = _hair_layer(rng, height, width, body_sdf, window, body_centre, texture, max_strands)

    # Where only the body is present, F is the body's texture and alpha the body's alpha. Elsewhere
    # (pixels touched by the veil or the hair) run the "over" chain veil < body < hair in
    # premultiplied colour on those pixels only.
    alpha = body_alpha.reshape(-1).copy()
    foreground = texture.reshape(-1, 3).copy()
    touched = np.zeros(height * width, dtype=bool)
    for layer in (veil, hair):
        if layer is not None:
            touched |= layer[0].reshape(-1) > 0
    pixels = np.flatnonzero(touched)
    if pixels.size:
        layer_alpha = np.zeros(pixels.size, dtype=np.float32)
        premultiplied = np.zeros((pixels.size, 3), dtype=np.float32)
        layers = [veil, (body_alpha, texture), hair]
        for layer in layers:
            if layer is None:
                continue
            top_alpha = layer[0].reshape(-1)[pixels]
            top_colour = layer[1].reshape(-1, 3)[pixels]
            premultiplied = top_alpha[:, None] * top_colour + (1.0 - top_alpha)[:, None] * premultiplied
            layer_alpha = top_alpha + (1.0 - top_alpha) * layer_alpha
        alpha[pixels] = layer_alpha
        covered = layer_alpha > 0
        foreground[pixels[covered]] = np.clip(premultiplied[covered] / layer_alpha[covered][:, None], 0.0, 1.0)
    alpha = alpha.reshape(height, width)
    foreground = foreground.reshape(height, width, 3)
    if quantize_alpha:
        alpha = np.rint(alpha * np.float32(255.0)) / np.float32(255.0)
    alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)
    a = alpha[..., None]
    image = a * foreground + (1 - a) * background
    return {"image": image, "alpha": alpha, "fg": foreground, "bg": background}
