"""Shapes of the composites' opaque body, as signed distances in pixels (negative inside).

Three families, each drawn from an ``rng`` around a centre ``(cy, cx)`` with a size
``radius``: a smooth star-shaped blob (:func:`_blob_sdf`), a union of ellipses
(:func:`_ellipses_sdf`) and a polygon with rounded corners (:func:`_polygon_sdf`); each
returns ``(sdf, extent)``, the signed distance on the ``(y, x)`` grid it is given and the
largest distance of the boundary from the centre. :data:`_SHAPES` lists them for a uniform pick.
"""
from __future__ import annotations

import numpy as np


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
