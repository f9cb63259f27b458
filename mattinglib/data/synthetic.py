"""Procedural matting composites with exact ground truth, generated on the fly from a seed.

A composite has three foreground layers, back to front:

- a *veil* (optional): a semi-transparent ellipse with a soft edge, its opacity varying
  smoothly in [0.2, 0.8] (glass, tulle, smoke) and a tinted colour;
- a *body*: an opaque shape with hard, anti-aliased edges: a smooth star-shaped blob, a union
  of ellipses or a polygon with rounded corners. Its alpha is ``clip(0.5 - sdf, 0, 1)`` for an
  (approximate) signed distance ``sdf`` in pixels, i.e. a 1-pixel ramp across the boundary,
  which is the box-filtered coverage of a straight edge;
- *hair* (optional): tufts of thin curved strands growing out of the body's boundary, 0.35 to
  2 pixels wide and tapering, rendered with their exact box-filtered coverage across the strand
  (partial coverage, sub-pixel strands never reach alpha 1) and the colour of the body where
  they grow.

The body's colour and texture come from a crop of one photograph (with optional colour
jitter), the background from a crop of another. The layers are combined with the "over"
operator in premultiplied colour, alpha is quantised to 8 bits (k / 255, as in real data, so
``alpha == 0`` and ``alpha == 1`` are exact) and the image is ``I = alpha * F + (1 - alpha) * B``
exactly, with ``F`` the premultiplied colour divided by alpha.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mattinglib.data.photos import Photo, load_photo_pool, split_photo_pool
from mattinglib.data.transforms import SeededDataset, Transform, make_sample
from mattinglib.labels import make_trimap

#: First word of every composite's seed sequence, so that a composite's generator never
#: equals a transform's ``default_rng((seed, epoch, index))``.
_COMPOSITE_STREAM = 0x6D617474            # "matt"
_RESAMPLED_STREAM = 0x6D617475
_SPLIT_CODES = {"train": 1, "test": 2, None: 3}


# ---- photo crops ---------------------------------------------------------------------------

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


# ---- shapes as signed distances ------------------------------------------------------------

def _ellipse_sdf(y: np.ndarray, x: np.ndarray, cy: float, cx: float, semi_y: float, semi_x: float,
                 angle: float) -> np.ndarray:
    """Approximate signed distance (pixels, negative inside) to a rotated ellipse.

    Uses ``k0 (k0 - 1) / k1`` with ``k0 = |p / (a, b)|`` and ``k1 = |p / (a^2, b^2)|``: exact for a
    circle, first-order accurate near the boundary of an ellipse, which is where the 1-pixel
    anti-aliasing ramp needs it.
    """
    cos, sin = np.cos(angle), np.sin(angle)
    u = (x - cx) * cos + (y - cy) * sin
    v = (y - cy) * cos - (x - cx) * sin
    k0 = np.sqrt((u / semi_x) ** 2 + (v / semi_y) ** 2)
    k1 = np.sqrt((u / semi_x ** 2) ** 2 + (v / semi_y ** 2) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sdf = k0 * (k0 - 1.0) / k1
    # At the exact centre k0 = k1 = 0: deep inside.
    return np.where(k1 > 0, sdf, -min(semi_y, semi_x))


def _blob_sdf(rng: np.random.Generator, y, x, cy, cx, radius):
    """Star-shaped blob ``r(theta) = R (1 + sum_k a_k cos(k theta + phi_k))``, k = 2..5.

    Signed distance ``(rho - r) / sqrt(1 + (r' / r)^2)``: the radial gap projected on the normal.
    Returns (sdf, extent) with ``extent`` the largest distance of the boundary from the centre.
    """
    orders = np.arange(2, 6)
    amplitudes = rng.uniform(0.0, 0.3, size=orders.size) / orders
    phases = rng.uniform(0.0, 2 * np.pi, size=orders.size)
    dy, dx = y - cy, x - cx
    rho = np.sqrt(dy * dy + dx * dx)
    # cos / sin of k theta from powers of the unit complex number e^{i theta} (no trig calls):
    # r = R (1 + Re sum_k a_k e^{i phi_k} e^{ik theta}), r' = -R Im sum_k k a_k e^{i phi_k} e^{ik theta}.
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(rho > 0, (dx + 1j * dy) / rho, 1.0).astype(np.complex64)
    power = unit * unit
    series = np.zeros(power.shape, dtype=np.complex64)
    derivative = np.zeros(power.shape, dtype=np.complex64)
    for k, a, phi in zip(orders, amplitudes, phases):
        term = power * np.complex64(a * np.exp(1j * phi))
        series += term
        derivative += k * term
        power = power * unit
    r = radius * (1.0 + series.real)
    dr = -radius * derivative.imag
    return (rho - r) / np.sqrt(1.0 + (dr / r) ** 2), radius * (1.0 + amplitudes.sum())


def _ellipses_sdf(rng: np.random.Generator, y, x, cy, cx, radius):
    """Union of 2..4 ellipses: a main one at the centre and smaller ones overlapping it."""
    count = int(rng.integers(2, 5))
    sdf, extent = None, 0.0
    for i in range(count):
        if i == 0:
            oy = ox = 0.0
            semi = radius * rng.uniform([0.7, 0.5], [1.0, 1.0])
        else:
            direction = rng.uniform(0, 2 * np.pi)
            distance = radius * rng.uniform(0.4, 0.9)
            oy, ox = distance * np.sin(direction), distance * np.cos(direction)
            semi = radius * rng.uniform([0.3, 0.2], [0.6, 0.5])
        part = _ellipse_sdf(y, x, cy + oy, cx + ox, semi[0], semi[1], rng.uniform(0, np.pi))
        sdf = part if sdf is None else np.minimum(sdf, part)
        extent = max(extent, np.hypot(oy, ox) + semi.max())
    return sdf, extent


def _polygon_sdf(rng: np.random.Generator, y, x, cy, cx, radius):
    """Polygon of 3..8 vertices (jittered angles and radii) with corners rounded by a margin.

    Exact distance to the polygon's edges, negative inside (even-odd rule), minus the rounding
    radius: the set of points within that radius of the polygon.
    """
    count = int(rng.integers(3, 9))
    rounding = radius * rng.uniform(0.05, 0.3)
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * (np.arange(count) + rng.uniform(-0.3, 0.3, count)) / count
    radii = (radius - rounding) * rng.uniform(0.75, 1.15, count)
    vy, vx = cy + radii * np.sin(angles), cx + radii * np.cos(angles)
    distance2 = np.full(np.broadcast_shapes(y.shape, x.shape), np.inf)
    inside = np.zeros(distance2.shape, dtype=bool)
    for i in range(count):
        ay, ax, by, bx = vy[i], vx[i], vy[(i + 1) % count], vx[(i + 1) % count]
        ey, ex = by - ay, bx - ax
        wy, wx = y - ay, x - ax
        t = np.clip((wy * ey + wx * ex) / (ey * ey + ex * ex), 0.0, 1.0)
        np.minimum(distance2, (wy - t * ey) ** 2 + (wx - t * ex) ** 2, out=distance2)
        # Crossing test of a ray towards +x against this edge.
        straddles = (ay > y) != (by > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            crossing_x = ax + ex * (y - ay) / ey
        inside ^= straddles & (x < crossing_x)
    sdf = np.sqrt(distance2)
    sdf[inside] *= -1.0
    return sdf - rounding, radii.max() + rounding


_SHAPES = (_blob_sdf, _ellipses_sdf, _polygon_sdf)


def _window(centre: float, extent: float, limit: int) -> slice:
    """Pixel range [centre - extent - 2, centre + extent + 2] clipped to [0, limit)."""
    return slice(max(int(np.floor(centre - extent - 2)), 0), min(int(np.ceil(centre + extent + 2)) + 1, limit))


# ---- layers --------------------------------------------------------------------------------

def _body_layer(rng, height, width):
    """Alpha (H, W) of an opaque shape, its signed distance on a window and the shape's centre."""
    short = min(height, width)
    cy, cx = height * rng.uniform(0.35, 0.65), width * rng.uniform(0.35, 0.65)
    radius = short * rng.uniform(0.18, 0.34)
    shape = _SHAPES[int(rng.integers(len(_SHAPES)))]
    # The shapes are drawn in a window around the centre: alpha is exactly 0 outside it.
    # Their largest extent is 1.4 R (blob), 1.6 R (ellipses) and 1.15 R (polygon).
    rows, cols = _window(cy, 1.7 * radius, height), _window(cx, 1.7 * radius, width)
    y = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None]
    x = np.arange(cols.start, cols.stop, dtype=np.float32)[None, :]
    sdf, extent = shape(rng, y, x, cy, cx, radius)
    assert extent <= 1.7 * radius, extent
    alpha = np.zeros((height, width), dtype=np.float32)
    alpha[rows, cols] = np.clip(0.5 - sdf, 0.0, 1.0)
    return alpha, sdf.astype(np.float32), (rows, cols), (cy, cx, radius)


def _veil_layer(rng, height, width, body_centre, colour_source):
    """A semi-transparent ellipse overlapping the body's edge: alpha (H, W) and colour (H, W, 3)."""
    cy, cx, radius = body_centre
    direction = rng.uniform(0, 2 * np.pi)
    distance = radius * rng.uniform(0.7, 1.3)
    vy, vx = cy + distance * np.sin(direction), cx + distance * np.cos(direction)
    semi_y, semi_x = radius * rng.uniform(0.5, 1.0), radius * rng.uniform(0.35, 0.8)
    angle = rng.uniform(0, np.pi)
    softness = rng.uniform(1.0, 4.0)                   # edge ramp width in pixels
    base_opacity = rng.uniform(0.3, 0.7)
    slope = rng.uniform(-0.25, 0.25)                   # opacity change across one semi-axis
    slope_angle = rng.uniform(0, 2 * np.pi)

    extent = max(semi_y, semi_x) + softness
    rows, cols = _window(vy, extent, height), _window(vx, extent, width)
    y = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None]
    x = np.arange(cols.start, cols.stop, dtype=np.float32)[None, :]
    edge = np.clip(0.5 - _ellipse_sdf(y, x, vy, vx, semi_y, semi_x, angle) / softness, 0.0, 1.0)
    along = ((x - vx) * np.cos(slope_angle) + (y - vy) * np.sin(slope_angle)) / max(semi_y, semi_x)
    opacity = np.clip(base_opacity + slope * along, 0.2, 0.8)
    alpha = np.zeros((height, width), dtype=np.float32)
    alpha[rows, cols] = edge * opacity

    # A tint between the foreground's mean colour and a random colour, lightly shaded.
    # (The mean over every 4th pixel: a reduction over axis 0 of an (N, 3) array is slow.)
    mean_colour = colour_source[::4, ::4].reshape(-1, 3).mean(axis=0)
    tint = 0.5 * mean_colour + 0.5 * rng.uniform(0.0, 1.0, size=3)
    colour = np.empty((height, width, 3), dtype=np.float32)
    colour[:] = tint.astype(np.float32)
    shading = np.float32(1.0) + np.float32(0.1) * np.clip(along, -1.5, 1.5)[..., None]
    colour[rows, cols] = np.clip(colour[rows, cols] * shading, 0.0, 1.0)
    return alpha, colour


def _strand_coverage(distance: np.ndarray, strand_width: np.ndarray) -> np.ndarray:
    """Exact box-filtered coverage of a pixel by a strand of ``strand_width`` at ``distance``.

    The overlap of the strand's cross-section ``[d - w/2, d + w/2]`` with the pixel's
    ``[-1/2, 1/2]``: equal to ``w`` on the centre line of a strand thinner than a pixel.
    """
    half = np.float32(0.5) * strand_width
    overlap = np.minimum(np.float32(0.5), distance + half) - np.maximum(np.float32(-0.5), distance - half)
    return np.clip(overlap, 0.0, 1.0, out=overlap)


def _hair_layer(rng, height, width, body_sdf, window, body_centre, colour_source, max_strands):
    """Tufts of strands growing out of the body's boundary: alpha (H, W) and colour (H, W, 3).

    Returns ``None`` when the body shows no boundary to grow from.
    """
    rows, cols = window
    cy, cx, radius = body_centre
    short = min(height, width)
    # Roots: pixels just inside the boundary, with the outward normal from the sdf's gradient.
    root_y, root_x = np.nonzero((body_sdf > -2.0) & (body_sdf < -0.5))
    if root_y.size == 0:
        return None
    sdf_h, sdf_w = body_sdf.shape
    grad_y = body_sdf[np.minimum(root_y + 1, sdf_h - 1), root_x] - body_sdf[np.maximum(root_y - 1, 0), root_x]
    grad_x = body_sdf[root_y, np.minimum(root_x + 1, sdf_w - 1)] - body_sdf[root_y, np.maximum(root_x - 1, 0)]
    root_y = root_y + rows.start
    root_x = root_x + cols.start
    root_angle = np.arctan2(root_y - cy, root_x - cx)

    # Per strand: root, heading, curvature, length, width, opacity (tuft values + spread).
    strands = {key: [] for key in ("y", "x", "heading", "curvature", "length", "width", "opacity")}
    for _ in range(int(rng.integers(1, 4))):
        if rng.random() < 0.25:
            chosen = np.arange(root_y.size)                      # fur all around
        else:
            centre, spread = rng.uniform(0, 2 * np.pi), rng.uniform(0.2, 1.25)
            gap = np.abs((root_angle - centre + np.pi) % (2 * np.pi) - np.pi)
            chosen = np.flatnonzero(gap < spread)
        # About 1.5 root pixels per pixel of boundary; density in strands per boundary pixel.
        count = min(int(rng.uniform(0.1, 0.8) * chosen.size / 1.5), max_strands)
        if count == 0:
            continue
        pick = chosen[rng.integers(chosen.size, size=count)]
        tuft_length = short * rng.uniform(0.04, 0.18)
        tuft_width = rng.uniform(0.35, 1.6)
        strands["y"].append(root_y[pick] + rng.uniform(-0.5, 0.5, count))
        strands["x"].append(root_x[pick] + rng.uniform(-0.5, 0.5, count))
        combing = rng.uniform(-0.6, 0.6)
        strands["heading"].append(np.arctan2(grad_y[pick], grad_x[pick]) + combing + rng.normal(0, 0.3, count))
        bend = rng.uniform(-1.0, 1.0) / tuft_length              # up to ~1 rad over a strand
        strands["curvature"].append(bend * (1.0 + 0.3 * rng.standard_normal(count)))
        strands["length"].append(tuft_length * rng.uniform(0.5, 1.2, count))
        strands["width"].append(np.minimum(tuft_width * rng.uniform(0.7, 1.3, count), 2.0))
        strands["opacity"].append(rng.uniform(0.7, 1.0, count))
    if not strands["y"]:
        return None
    s = {key: np.concatenate(value) for key, value in strands.items()}
    if s["y"].size > max_strands:
        keep = rng.permutation(s["y"].size)[:max_strands]
        s = {key: value[keep] for key, value in s.items()}
    n_strands = s["y"].size

    # Centre lines: unit steps along a heading that turns at a constant rate plus a small wobble.
    n_steps = int(np.ceil(s["length"].max()))
    step = np.arange(n_steps)
    heading = (s["heading"][:, None] + s["curvature"][:, None] * step
               + np.cumsum(rng.normal(0.0, 0.02, size=(n_strands, n_steps)), axis=1))
    ty, tx = np.sin(heading), np.cos(heading)
    py = s["y"][:, None] + np.concatenate([np.zeros((n_strands, 1)), np.cumsum(ty, axis=1)[:, :-1]], axis=1)
    px = s["x"][:, None] + np.concatenate([np.zeros((n_strands, 1)), np.cumsum(tx, axis=1)[:, :-1]], axis=1)
    segment_length = np.clip(s["length"][:, None] - step, 0.0, 1.0)     # last step may be partial
    taper = 1.0 - 0.75 * step / s["length"][:, None]                    # thinner towards the tip
    seg_width = s["width"][:, None] * np.clip(taper, 0.0, 1.0)
    valid = segment_length > 0

    # Strand colour: the foreground colour a little inside the body at the root (3x3 mean).
    inner_y = np.clip(np.rint(s["y"] - 2.0 * np.sin(s["heading"])), 1, height - 2).astype(np.int64)
    inner_x = np.clip(np.rint(s["x"] - 2.0 * np.cos(s["heading"])), 1, width - 2).astype(np.int64)
    colour = np.zeros((n_strands, 3), dtype=np.float64)
    for oy in (-1, 0, 1):
        for ox in (-1, 0, 1):
            colour += colour_source[inner_y + oy, inner_x + ox]
    colour = np.clip(colour / 9.0 * rng.uniform(0.85, 1.15, size=(n_strands, 1)), 0.0, 1.0)

    # Rasterise every segment on the 5 x 5 pixels around its midpoint: a pixel belongs to the
    # segment whose slab (0 <= u < segment length along the tangent) holds it, and gets the
    # strand's coverage at its distance |v| across. Reach: 1/2 segment + 1/2 width + 1/2 pixel.
    seg = np.flatnonzero(valid.ravel())
    strand_of = seg // n_steps
    f32 = np.float32
    p_y, p_x = py.ravel()[seg], px.ravel()[seg]
    t_y, t_x = ty.ravel()[seg].astype(f32)[:, None, None], tx.ravel()[seg].astype(f32)[:, None, None]
    length = segment_length.ravel()[seg].astype(f32)[:, None, None]
    w = seg_width.ravel()[seg].astype(f32)[:, None, None]
    mid_y = np.rint(p_y + 0.5 * ty.ravel()[seg]).astype(np.int64)
    mid_x = np.rint(p_x + 0.5 * tx.ravel()[seg]).astype(np.int64)
    offsets = np.arange(-2, 3)
    rows = mid_y[:, None] + offsets                                   # (segments, 5)
    cols = mid_x[:, None] + offsets
    d_y = (rows - p_y[:, None]).astype(f32)[:, :, None]                # (segments, 5, 1)
    d_x = (cols - p_x[:, None]).astype(f32)[:, None, :]                # (segments, 1, 5)
    along = d_y * t_y + d_x * t_x
    across = np.abs(d_x * t_y - d_y * t_x)
    coverage = _strand_coverage(across, w) * s["opacity"][strand_of].astype(f32)[:, None, None]
    in_image = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
    hit = (along >= 0) & (along < length) & (coverage > 0) & in_image
    pixel = (rows * width)[:, :, None] + cols[:, None, :]
    pixel = pixel[hit]
    coverage = coverage[hit].astype(np.float64)
    owner = np.broadcast_to(strand_of[:, None, None], hit.shape)[hit]

    # Strands combine like independent layers: 1 - prod(1 - c). The cap keeps log finite; a
    # fully covered pixel still rounds to alpha 1 after 8-bit quantisation.
    n_pixels = height * width
    log_clear = np.bincount(pixel, weights=np.log1p(-np.minimum(coverage, 1.0 - 1e-4)), minlength=n_pixels)
    alpha = (-np.expm1(log_clear)).reshape(height, width).astype(np.float32)
    weight = np.bincount(pixel, weights=coverage, minlength=n_pixels)
    hair_colour = np.empty((n_pixels, 3), dtype=np.float32)
    for c in range(3):
        weighted = np.bincount(pixel, weights=coverage * colour[owner, c], minlength=n_pixels)
        hair_colour[:, c] = np.divide(weighted, weight, out=np.zeros(n_pixels), where=weight > 0)
    return alpha, hair_colour.reshape(height, width, 3)


def _pair(size) -> tuple[int, int]:
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

    See the module docstring for the layers. Every random number comes from ``rng``.

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


# ---- the dataset ---------------------------------------------------------------------------

class SyntheticMattingDataset(SeededDataset):
    """Synthetic composites (:func:`make_composite`) generated on the fly, deterministically.

    Item ``index`` is made from its own generator seeded with ``(seed, split, index)`` (and the
    epoch when ``resample_per_epoch``): the foreground and background photos (distinct when the
    split has two or more), the composite, and the trimap (:func:`mattinglib.labels.make_trimap`
    with ``trimap_width``). The train and test splits use disjoint photos
    (:func:`~mattinglib.data.photos.split_photo_pool` with ``test_fraction`` and ``split_seed``)
    and disjoint seed streams. A ``transform(sample, rng)`` then gets
    ``rng = default_rng((seed, epoch, index))`` (:class:`SeededDataset`), so random crops change
    with :meth:`set_epoch` while the composite does not.

    Parameters
    ----------
    size : int or (height, width)
        Composite size in pixels.
    length : int
        Number of items.
    seed : int
        Non-negative base seed.
    split : {"train", "test", None}
        Which photos of the split to use; ``None`` uses the whole pool (no held-out photos).
    photos : sequence of Photo or of (h, w, 3) arrays, optional
        The photo pool before splitting; default :func:`~mattinglib.data.photos.load_photo_pool`
        (the bundled photographs). Give train and test datasets the same pool and split seed.
    transform : callable ``(sample, rng) -> sample``, optional
    test_fraction : float in [0, 1)
        Share of the pool's photographs held out for the test split.
    split_seed : int
        Seed of the photo split, independent of ``seed``: changing the sampling seed never
        moves a photograph between train and test.
    trimap_width : float or (lo, hi)
        Per-side width of the trimap's unknown band (``fg_width`` = ``bg_width`` specification of
        :func:`~mattinglib.labels.make_trimap`, drawn per item and side).
    trimap_reference_size : int, (height, width) or None
        ``reference_size`` of :func:`~mattinglib.labels.make_trimap`.
    resample_per_epoch : bool
        True: a new composite for every (epoch, index) instead of one per index.
    epoch : int
        Starting epoch.
    **composite_options
        Keyword options of :func:`make_composite` (``hair_probability``, ``veil_probability``,
        ``colour_jitter``, ``zoom_range``, ``max_strands``, ``quantize_alpha``).

    Samples
    -------
    ``{"image": (3, H, W), "trimap": (1, H, W), "alpha": (1, H, W), "fg": (3, H, W),
    "bg": (3, H, W), "name": "synthetic-<split>-<seed>-<index>"}``, float32 tensors.
    """

    def __init__(self, size=256, length: int = 1000, seed: int = 0, split: str | None = "train",
                 photos: Sequence[Photo | np.ndarray] | None = None, transform: Transform | None = None, *,
                 test_fraction: float = 0.2, split_seed: int = 0, trimap_width=(3, 12),
                 trimap_reference_size: int | tuple[int, int] | None = None, resample_per_epoch: bool = False,
                 epoch: int = 0, **composite_options):
        super().__init__(seed=seed, epoch=epoch)
        if split not in _SPLIT_CODES:
            raise ValueError(f"split must be 'train', 'test' or None; got {split!r}")
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise ValueError(f"length must be a positive integer; got {length!r}")
        unknown = set(composite_options) - {"hair_probability", "veil_probability", "colour_jitter",
                                            "zoom_range", "max_strands", "quantize_alpha"}
        if unknown:
            raise TypeError(f"unknown make_composite option(s): {sorted(unknown)}")
        self.size = _pair(size)
        self.length = int(length)
        self.split = split
        self.transform = transform
        self.trimap_width = trimap_width
        self.trimap_reference_size = trimap_reference_size
        self.resample_per_epoch = bool(resample_per_epoch)
        self.composite_options = dict(composite_options)

        pool = load_photo_pool() if photos is None else [
            p if isinstance(p, Photo) else Photo(f"photo-{k}", np.asarray(p)) for k, p in enumerate(photos)]
        if not pool:
            raise ValueError("the photo pool is empty")
        if split is None:
            self.photos = list(pool)
        else:
            train, test = split_photo_pool(pool, test_fraction, split_seed)
            self.photos = train if split == "train" else test
            if not self.photos:
                raise ValueError(f"the {split!r} split has no photo (test_fraction={test_fraction}, "
                                 f"{len(pool)} photos in the pool)")
        # Validate the trimap width specification now rather than in a DataLoader worker.
        make_trimap(np.zeros((2, 2)), trimap_width, rng=np.random.default_rng(0))

    def __len__(self) -> int:
        return self.length

    def composite_seed(self, index: int) -> np.random.SeedSequence:
        """The seed sequence of item ``index``'s composite and trimap."""
        if self.resample_per_epoch:
            words = (_RESAMPLED_STREAM, self.seed, _SPLIT_CODES[self.split], self.epoch, index)
        else:
            words = (_COMPOSITE_STREAM, self.seed, _SPLIT_CODES[self.split], index)
        return np.random.SeedSequence(words)

    def __getitem__(self, index: int) -> dict:
        if isinstance(index, (int, np.integer)) and -self.length <= index < 0:
            index += self.length
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self.length:
            raise IndexError(f"index {index!r} out of range for a dataset of length {self.length}")
        index = int(index)
        # Separate generators: changing the trimap options leaves the composite unchanged.
        composite_seq, label_seq = self.composite_seed(index).spawn(2)
        rng = np.random.default_rng(composite_seq)
        fg_photo, bg_photo = self._pick_photos(rng)
        composite = make_composite(rng, self.size, fg_photo.pixels, bg_photo.pixels, **self.composite_options)
        trimap = make_trimap(composite["alpha"], self.trimap_width, rng=np.random.default_rng(label_seq),
                             reference_size=self.trimap_reference_size)
        name = f"synthetic-{self.split}-{self.seed}-{index}"
        if self.resample_per_epoch:
            name += f"-e{self.epoch}"
        sample = make_sample(name, composite["image"], trimap, composite["alpha"])
        sample["fg"] = torch.from_numpy(np.ascontiguousarray(composite["fg"].transpose(2, 0, 1)))
        sample["bg"] = torch.from_numpy(np.ascontiguousarray(composite["bg"].transpose(2, 0, 1)))
        if self.transform is not None:
            sample = self.transform(sample, self.sample_rng(index))
        return sample

    def _pick_photos(self, rng: np.random.Generator) -> tuple[Photo, Photo]:
        """Foreground and background photos, distinct when the split has two or more."""
        fg_pick = int(rng.integers(len(self.photos)))
        bg_pick = fg_pick
        if len(self.photos) > 1:
            bg_pick = (fg_pick + 1 + int(rng.integers(len(self.photos) - 1))) % len(self.photos)
        return self.photos[fg_pick], self.photos[bg_pick]

    def photo_names(self, index: int) -> tuple[str, str]:
        """Names of the (foreground, background) photos of item ``index`` (no composite made)."""
        foreground, background = self._pick_photos(np.random.default_rng(self.composite_seed(index).spawn(2)[0]))
        return foreground.name, background.name
