"""Large images in bounded memory: a network run over overlapping tiles, blended without seams.

A matting network's activations at full resolution take far more memory than the image
itself (the width-16 U-Net holds about 0.45 GB per megapixel at its peak on a CPU), so a
12-megapixel photo in one piece needs several GiB. :func:`run_tiled` cuts an image larger
than ``max_tile_pixels`` into overlapping tiles of at most that many pixels, runs the network
on each under :func:`torch.no_grad`, and blends the tiles' predictions with weights that ramp
smoothly (a raised cosine) across each overlap and sum to one at every pixel. An image of at
most ``max_tile_pixels`` pixels goes through the network in one piece: the result is
bit-identical to calling the network on it.

How the tiles are laid out
--------------------------
- Every tile origin is a multiple of the network's ``size_multiple`` (16 for the U-Net, the
  patch size for ViTMatte), so its strided convolutions / patches fall on the same grid as in
  the whole image, and every tile but the last of a row or column has a side that is a
  multiple of it (no padding inside the network). The last tile of each axis ends at the
  image's edge, where the network pads exactly as it does for the whole image.
- Neighbouring tiles overlap by at least ``overlap`` pixels (default 128). A tile's prediction
  is least reliable near its cut edges, where the convolutions see zero padding instead of
  the image; the raised-cosine ramp across the overlap gives those pixels almost no weight
  (the outermost pixel of a 128 px ramp has weight 4e-5), so the neighbour that sees them
  with context decides them. The U-Net's receptive field reaches about 80 px; on a real scene
  (GT11, 800 x 563, three tiles) the largest difference from the whole image's prediction was
  0.21 / 0.13 / 0.043 / 0.029 with overlaps of 32 / 64 / 96 / 128 px (mean 6e-4 to 1e-4).
- The fewest tiles that fit the limit are used, then each tile is shrunk to the smallest
  aligned size that keeps that count, so the tiles are about equal and no work is wasted.

What tiling changes
-------------------
The networks normalise with GroupNorm, whose statistics are taken over the whole input. A
tile's own statistics are not the image's, and the prediction moves a lot with them (the
committed U-Nets by 59 of 255 levels on average on a 12 MP image cut into strips). So by
default every tile is normalised with the whole image's statistics, found by short passes
over the tiles, one per GroupNorm layer (:class:`WholeImageGroupNorm`): what is left is the
effect of the cut edges, which the overlap and its ramp take care of (tests/test_tiles.py
measures both). Self-attention (ViTMatte) sees only its tile: for those networks tiling is an
approximation.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import torch

#: Default largest tile (and largest image predicted in one piece), in pixels.
DEFAULT_TILE_PIXELS = 2_000_000
#: Default overlap between neighbouring tiles, in pixels (the blending ramp's length).
DEFAULT_OVERLAP = 128

Network = Callable[[torch.Tensor], torch.Tensor]


def tile_pixels(text: str) -> int | None:
    """A tile limit from the command line (``2000000``, ``2e6``, ``2_000_000``); 0 means never tile (None)."""
    value = float(text.replace("_", ""))
    if value < 0 or value != int(value):
        raise ValueError(f"expected a whole number of pixels >= 0; got {text!r}")
    return int(value) or None


def _align_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def axis_starts(length: int, tile: int, overlap: int, multiple: int = 1, count: int | None = None) -> list[int]:
    """Tile origins along one axis: ``count`` tiles of side ``tile`` (or the fewest that overlap enough).

    The first tile starts at 0; the last starts at ``length - tile`` rounded up to ``multiple``
    (so it ends at the edge, and may be shorter than ``tile``); the ones between are evenly
    spaced and rounded to ``multiple``.

    Returns
    -------
    list of int
        The origins, increasing. Empty when ``count`` tiles cannot cover the axis with
        overlaps of at least ``overlap`` (tile ``i`` must reach ``starts[i + 1] + overlap``).
    """
    if tile >= length:
        return [0]
    if tile <= overlap:
        return []
    # Fewer than this many tiles cannot cover the axis; rounding the origins may need one or two more.
    fewest = max(2, math.ceil((length - overlap) / (tile - overlap)))
    for n in [count] if count is not None else range(fewest, fewest + length // max(multiple, 1) + 2):
        if n < 2:
            continue
        last = _align_up(length - tile, multiple)
        starts = [round(i * last / (n - 1) / multiple) * multiple for i in range(n - 1)] + [last]
        if all(b > a and a + tile >= b + min(overlap, length - b) for a, b in zip(starts, starts[1:])):
            return starts
    return []


def tile_layout(height: int, width: int, max_tile_pixels: int, overlap: int = DEFAULT_OVERLAP,
                multiple: int = 1) -> tuple[list[int], int, list[int], int]:
    """Where the tiles of an image go: ``(row origins, tile height, column origins, tile width)``.

    Tiles are ``tile height x tile width`` (the last of each row / column may be shorter: it ends
    at the image's edge), at most ``max_tile_pixels``, aligned to ``multiple`` and overlapping
    by at least ``overlap``. An image of at most ``max_tile_pixels`` pixels is one tile.

    Raises
    ------
    ValueError
        ``max_tile_pixels`` too small for tiles larger than the overlap.
    """
    if height * width <= max_tile_pixels:
        return [0], height, [0], width
    smallest = _align_up(overlap + multiple, multiple)
    if max_tile_pixels < smallest * smallest:
        raise ValueError(f"max_tile_pixels {max_tile_pixels} is too small for tiles overlapping by {overlap} px "
                         f"(aligned to {multiple}): give at least {smallest * smallest}")
    best = None
    for tile_h in range(smallest, _align_up(height, multiple) + 1, multiple):
        tile_h = min(tile_h, height)
        tile_w = min(width, max_tile_pixels // tile_h // multiple * multiple)
        if tile_w < smallest and tile_w < width:
            continue
        rows, cols = axis_starts(height, tile_h, overlap, multiple), axis_starts(width, tile_w, overlap, multiple)
        if not rows or not cols:
            continue
        key = (len(rows) * len(cols), tile_h * tile_w)
        if best is None or key < best[0]:
            best = (key, len(rows), len(cols))
    if best is None:
        raise ValueError(f"no tiling of a {height}x{width} image into tiles of at most {max_tile_pixels} px "
                         f"overlapping by {overlap} px; give a larger max_tile_pixels")
    _, n_rows, n_cols = best

    def smallest_side(length: int, count: int) -> tuple[list[int], int]:
        if count == 1:
            return [0], length
        side = _align_up(math.ceil((length + (count - 1) * overlap) / count), multiple)
        while True:  # at most a few steps: rounding the origins can ask for a little more
            starts = axis_starts(length, min(side, length), overlap, multiple, count)
            if starts:
                return starts, min(side, length)
            side += multiple

    rows, tile_h = smallest_side(height, n_rows)
    cols, tile_w = smallest_side(width, n_cols)
    return rows, tile_h, cols, tile_w


def axis_weights(starts: list[int], tile: int, length: int, overlap: int = DEFAULT_OVERLAP,
                 dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """Blending weights of each tile along one axis; at every position they sum to one.

    Each tile's raw weight is a trapezoid: a raised-cosine ramp over its first and last
    ``overlap`` pixels (none at the image's edges), one in between. Dividing by the sum over
    the tiles makes the weights a partition of unity; where one tile alone covers a position
    its weight is exactly 1, and where two overlap by exactly ``overlap`` they are the two
    halves of the cosine.
    """
    ramp = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(overlap, dtype=torch.float64) + 0.5) / overlap)
    raw = []
    for i, start in enumerate(starts):
        end = min(start + tile, length)
        weight = torch.ones(end - start, dtype=torch.float64)
        n = min(overlap, end - start)
        if i > 0:
            weight[:n] = torch.minimum(weight[:n], ramp[:n])
        if i < len(starts) - 1:
            weight[-n:] = torch.minimum(weight[-n:], ramp[:n].flip(0))
        raw.append(weight)
    total = torch.zeros(length, dtype=torch.float64)
    for start, weight in zip(starts, raw):
        total[start:start + len(weight)] += weight
    return [(weight / total[start:start + len(weight)]).to(dtype) for start, weight in zip(starts, raw)]


def core_bounds(starts: list[int], tile: int, length: int, multiple: int = 1) -> list[int]:
    """Where each tile's own share of an axis ends: ``bounds[i]:bounds[i + 1]`` belongs to tile ``i``.

    The cut between two tiles is the middle of their overlap rounded to ``multiple`` (so it
    falls on every downsampled grid of the network); the last share runs to the end of the
    network's padding, ``length`` rounded up to ``multiple``. The shares partition the padded
    axis: summed over them, a statistic counts every position once.
    """
    bounds = [0]
    for start, following in zip(starts, starts[1:]):
        end = min(start + tile, length)
        bounds.append(min(max(round((following + end) / 2 / multiple) * multiple, following), end))
    bounds.append(_align_up(length, multiple))
    return bounds


class _Stop(Exception):
    """Raised inside a forward pass once the layer being measured has added its sums."""


class WholeImageGroupNorm:
    """Make a network's GroupNorm layers normalise tiles by statistics of the whole image.

    GroupNorm normalises each group of channels by its mean and variance over the whole input;
    on a tile those are the tile's, and a tile of plain background normalises quite
    differently from the whole photo: the committed U-Nets' tiled prediction moved by 59 of
    255 levels on average on a 12 MP image cut into strips, 0.08 on average (0.87 at worst)
    on an 800 x 563 scene cut into six tiles. Inside ``with WholeImageGroupNorm(network) as
    norms``, :meth:`gather` finds each layer's statistics over the whole (padded) image from
    passes over the tiles, and later calls of the network normalise with them.

    A layer's statistics depend on the normalisation of every layer before it, so they are
    found one layer at a time, in the order the network runs them: pass ``k`` runs every
    tile up to the ``k``-th GroupNorm (the earlier ones already frozen at the whole image's
    values), adds the sums of its input over the tile's own share (:func:`core_bounds`), and
    stops there. One pass per layer (18 for the U-Net), most of them short; together they run
    about 9 times the output pass's convolutions (1,026 convolution calls against 114 on six
    tiles, profiled), so a tiled image takes about 10x as long per megapixel as one in one piece
    (12 MP on 2 busy cores: 25 s per MP, against 2.6 in one piece and 2.0 with norm="tile"). Cheaper schemes were measured and
    dropped: statistics of the image downscaled by 2 left a mean difference of 4e-3 (max
    0.15) on that scene, and refining all layers at once from them (a Jacobi iteration)
    diverged. What stays is the tiles' cut edges (the overlap ramp), tests/test_tiles.py.
    """

    def __init__(self, network: torch.nn.Module):
        self.layers = [m for m in network.modules() if isinstance(m, torch.nn.GroupNorm)]
        self.frozen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._totals: list | None = None
        self._measured: int | None = None
        self._share: tuple[int, int, int, int, int, int] | None = None

    def __enter__(self) -> "WholeImageGroupNorm":
        for index, layer in enumerate(self.layers):
            layer.forward = self._forward(index, layer)
        return self

    def __exit__(self, *exc) -> None:
        for layer in self.layers:
            del layer.forward  # back to the class's forward

    def gather(self, run_tiles: Callable[[Callable[[tuple], None]], None]) -> int:
        """Find every layer's whole-image statistics; returns the number of passes.

        ``run_tiles(before)`` runs the network on every tile, calling ``before(share)`` ahead
        of each, where ``share`` is ``(top, bottom, left, right, padded height, padded width)``:
        the tile's own share of the image in its own pixels, and the size the network pads it
        to. The network's exceptions that mark the end of a short pass are caught here.
        """
        passes = 0
        while len(self.frozen) < len(self.layers):
            self._totals, self._measured = None, None

            def before(share: tuple) -> None:
                self._share = share

            run_tiles(before)
            self._share = None
            passes += 1
            if self._measured is None:  # the remaining layers never run
                break
            total, squares, count = self._totals
            mean = total / count
            self.frozen[self._measured] = self._affine(self.layers[self._measured], mean,
                                                       (squares / count - mean * mean).clamp_min(0))
        self._totals, self._measured = None, None
        return passes

    @staticmethod
    def _affine(layer: torch.nn.GroupNorm, mean: torch.Tensor, var: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """GroupNorm with fixed (B, G) statistics as one per-channel ``x * scale + shift``, (B, C, 1, 1) each."""
        per_group = layer.num_channels // layer.num_groups
        scale = torch.rsqrt(var + layer.eps).repeat_interleave(per_group, dim=1)
        shift = -mean.repeat_interleave(per_group, dim=1) * scale
        if layer.affine:
            weight, bias = layer.weight.detach().double().cpu(), layer.bias.detach().double().cpu()
            scale, shift = scale * weight, shift * weight + bias
        return scale.float()[..., None, None], shift.float()[..., None, None]

    def _forward(self, index: int, layer: torch.nn.GroupNorm):
        def forward(x: torch.Tensor) -> torch.Tensor:
            batch, groups = x.shape[0], layer.num_groups
            if index not in self.frozen:
                if self._share is None:
                    return torch.nn.functional.group_norm(x, groups, layer.weight, layer.bias, layer.eps)
                top, bottom, left, right, padded_h, padded_w = self._share
                step_y, step_x = padded_h // x.shape[-2], padded_w // x.shape[-1]
                region = x[..., top // step_y:bottom // step_y, left // step_x:right // step_x]
                region = region.reshape(batch, groups, -1)
                sums = [region.sum(-1, dtype=torch.float64), (region * region).sum(-1, dtype=torch.float64),
                        region.shape[-1]]
                self._totals = sums if self._totals is None else [a + b for a, b in zip(self._totals, sums)]
                self._measured = index
                raise _Stop
            scale, shift = (v.to(x.device) for v in self.frozen[index])
            return torch.addcmul(shift, x, scale)

        return forward


#: How tiles are normalised by default: with the whole image's GroupNorm statistics.
DEFAULT_NORM = "image"


@torch.no_grad()
def run_tiled(network: Network, image: torch.Tensor, max_tile_pixels: int | None = DEFAULT_TILE_PIXELS,
              overlap: int = DEFAULT_OVERLAP, size_multiple: int | None = None,
              device: torch.device | str | None = None, norm: str = DEFAULT_NORM) -> torch.Tensor:
    """``network(image)``, in overlapping tiles of at most ``max_tile_pixels`` pixels when larger.

    Parameters
    ----------
    network : callable ``(B, C, h, w) -> (B, 1, h, w)``
        A matting network (any tile size; it pads internally), or anything that runs one
        (an ONNX Runtime session wrapped as a function).
    image : Tensor, shape (B, C, H, W)
        The network's input, kept where it is (the CPU); each tile is moved to ``device``.
    max_tile_pixels : int or None
        Images of at most this many pixels go through in one piece (bit-identical to
        ``network(image)``); None never tiles.
    overlap : int
        Least overlap of neighbouring tiles, in pixels, and the length of the blending ramp.
    size_multiple : int, optional
        Tile origins are aligned to it; default ``network.size_multiple`` when the network
        has one, else 1.
    device : optional
        Where the network runs (default: the device of ``image``).
    norm : {"image", "tile"}
        For an ``nn.Module`` with GroupNorm layers: ``"image"`` normalises every tile with the
        whole image's statistics (:class:`WholeImageGroupNorm`; exact up to the tiles' cut
        edges, at about 10x the time per megapixel for the U-Net), ``"tile"`` each
        tile with its own (fast, but the result moves with where the cuts fall). A network
        run any other way (ONNX Runtime) normalises each tile with its own.

    Returns
    -------
    Tensor, shape (B, 1, H, W), float32, on the CPU when tiled (else where the network put it)
    """
    if norm not in ("image", "tile"):
        raise ValueError(f"norm must be 'image' or 'tile'; got {norm!r}")
    height, width = image.shape[-2:]
    if device is None:
        device = image.device
    if max_tile_pixels is None or height * width <= max_tile_pixels:
        return network(image.to(device))
    multiple = size_multiple or getattr(network, "size_multiple", 1) or 1
    rows, tile_h, cols, tile_w = tile_layout(height, width, max_tile_pixels, overlap, multiple)
    row_weights = axis_weights(rows, tile_h, height, overlap)
    col_weights = axis_weights(cols, tile_w, width, overlap)
    row_bounds = core_bounds(rows, tile_h, height, multiple)
    col_bounds = core_bounds(cols, tile_w, width, multiple)

    def tiles():
        for i, (top, weight_y) in enumerate(zip(rows, row_weights)):
            for j, (left, weight_x) in enumerate(zip(cols, col_weights)):
                bottom, right = top + len(weight_y), left + len(weight_x)
                share = (row_bounds[i] - top, row_bounds[i + 1] - top, col_bounds[j] - left,
                         col_bounds[j + 1] - left, _align_up(bottom - top, multiple), _align_up(right - left, multiple))
                yield (top, bottom, left, right), share, weight_y[:, None] * weight_x[None, :]

    out = torch.zeros((image.shape[0], 1, height, width), dtype=torch.float32)
    norms = (WholeImageGroupNorm(network) if isinstance(network, torch.nn.Module) and norm == "image" else None)
    with norms or contextlib.nullcontext():
        if norms is not None and norms.layers:
            def run_tiles(before: Callable[[tuple], None]) -> None:
                for (top, bottom, left, right), share, _ in tiles():
                    before(share)
                    try:
                        network(image[..., top:bottom, left:right].to(device))
                    except _Stop:
                        pass

            norms.gather(run_tiles)
        for (top, bottom, left, right), _, weight in tiles():
            pred = network(image[..., top:bottom, left:right].to(device)).float().cpu()
            out[..., top:bottom, left:right] += pred * weight
            del pred
    return out
