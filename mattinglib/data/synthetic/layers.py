"""The foreground layers of a composite: alpha and colour of the body, the veil and the hair.

- :func:`_body_layer`: an opaque shape of :mod:`~mattinglib.data.synthetic.shapes` with a
  1-pixel anti-aliased edge, ``alpha = clip(0.5 - sdf, 0, 1)``;
- :func:`_veil_layer`: a semi-transparent, soft-edged, tinted ellipse over the body's edge;
- :func:`_hair_layer`: tufts of thin tapering strands growing out of the body's boundary,
  rasterised with their exact box-filtered coverage (:func:`_strand_coverage`).

Each layer is drawn from the ``rng`` it is given; :mod:`~mattinglib.data.synthetic.compositing`
stacks them.
"""
from __future__ import annotations

import numpy as np

from .shapes import _SHAPES, _ellipse_sdf


def _window(centre: float, extent: float, limit: int) -> slice:
    """Pixel range [centre - extent - 2, centre + extent + 2] clipped to [0, limit)."""
    return slice(max(int(np.floor(centre - extent - 2)), 0), min(int(np.ceil(centre + extent + 2)) + 1, limit))


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
