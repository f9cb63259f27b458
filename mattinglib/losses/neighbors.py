"""DDC neighbour selection: the ``k`` most similar pixels in a ``K x K`` window.

For every pixel ``i`` the candidates ``j`` are the ``K x K`` window centred on ``i``, the
centre included. Outside the image the image is zero (a black pixel) and alpha is zero.
``d_ij = ||I_i - I_j||_2`` over the three RGB channels, and the ``k`` candidates with the
smallest ``d_ij`` are kept, sorted ascending. The selection depends on the image only, so it
is computed once per crop (typically in a DataLoader worker), outside the training step.

Two implementations give the same result (ties, which the method leaves open, aside):

- a numba kernel (CPU, the default there): row by row, the squared distances of the row to
  the ``K*K`` offsets into a small ``(K*K, W)`` buffer, then per pixel a threshold found by
  bisection with branch-free counting and a sort of the few candidates under it (details in
  ``_select_kernel``); nothing of size ``K*K*H*W`` is stored, so its memory is the output. It is compiled serially (no numba threading layer), so
  it is safe in forked DataLoader workers, and cached on disk (``cache=True``).
- a pure-torch path (any device, used for CUDA tensors and when numba is missing): squared
  distances of the ``K*K`` shifted images written in place into a preallocated
  ``(H, W, K*K)`` buffer, one image at a time, then ``topk`` over the last (contiguous) axis
  and a square root of the kept values only. Its memory is that buffer (``H * W * K*K``
  values, 127 MB in float32 at 512 x 512, K = 11) plus the outputs.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

try:  # numba is a pinned dependency; the torch path stays as a fallback without it.
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is not installed
    numba = None

BACKENDS = ("auto", "numba", "torch")


class Neighbors(NamedTuple):
    """The selected DDC neighbours of every pixel.

    A ``typing.NamedTuple`` of two tensors, so ``torch.utils.data.default_collate`` stacks
    per-sample neighbours ``(k, H, W)`` into a batch ``(B, k, H, W)``.

    Attributes
    ----------
    distance : Tensor, shape (B, k, H, W) or (k, H, W), the image's float dtype
        ``d_ij``, the Euclidean RGB distance to the selected pixel ``j``, sorted ascending
        along the ``k`` axis (the centre, at distance 0, comes first up to ties). Units: RGB
        in [0, 1], so values lie in [0, sqrt(3)].
    index : Tensor, shape (B, k, H, W) or (k, H, W), int64
        Flat index ``y * W + x`` of ``j`` in the ``H * W`` plane, or ``H * W`` when ``j``
        lies outside the image (the losses append one zero to the flattened alpha, so an
        out-of-image neighbour has alpha 0).
    """

    distance: torch.Tensor
    index: torch.Tensor


def _check_image(image: torch.Tensor, kernel_size: int, topk: int) -> None:
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"image must be a torch.Tensor; got {type(image).__name__}")
    if image.ndim not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"image must have shape (B, 3, H, W) or (3, H, W); got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"image must be a floating-point tensor (RGB in [0, 1]); got {image.dtype}")
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer; got {kernel_size!r}")
    if not isinstance(topk, int) or not 1 <= topk <= kernel_size * kernel_size:
        raise ValueError(f"topk must be an integer in [1, kernel_size**2 = {kernel_size * kernel_size}]; "
                         f"got {topk!r}")


# Bisection stops once the threshold keeps between k and k + _SLACK candidates: a few more
# to sort is cheaper than more counting passes.
_SLACK = 6


if numba is not None:

    @numba.njit(cache=True, nogil=True)
    def _select_kernel(image, kernel_size, topk, out_distance, out_index):  # pragma: no cover - compiled
        """Numba kernel. image (B, 3, H, W); out_distance (B, k, H, W); out_index (B, k, H, W) int64.

        Row by row: the squared distances of the whole row to each of the K*K window offsets
        go into a (K*K, W) buffer, in branch-free loops over x (the in-image x range of each
        offset is known in advance). Then per pixel, instead of keeping a sorted list while
        scanning (one unpredictable branch per candidate), a threshold that keeps between k
        and k + _SLACK candidates is found by bisection with branch-free counting, and only
        those candidates are sorted. Squared distances are float64 whatever the image dtype;
        the square root is taken of the k kept values only. Equal distances keep window
        order (row-major), which is one valid tie-break.
        """
        n_batch, _, height, width = image.shape
        radius = kernel_size // 2
        n_window = kernel_size * kernel_size
        outside = height * width
        row_d2 = np.empty((n_window, width), np.float64)
        norm2 = np.empty(width, np.float64)
        values = np.empty(n_window, np.float64)
        candidates = np.empty(n_window, np.int64)
        for b in range(n_batch):
            for y in range(height):
                # A zero-padded (black) candidate is at distance |I_i| from i.
                for x in range(width):
                    c0 = np.float64(image[b, 0, y, x])
                    c1 = np.float64(image[b, 1, y, x])
                    c2 = np.float64(image[b, 2, y, x])
                    norm2[x] = c0 * c0 + c1 * c1 + c2 * c2
                for o in range(n_window):
                    yy = y + o // kernel_size - radius
                    dx = o % kernel_size - radius
                    if yy < 0 or yy >= height:
                        row_d2[o, :] = norm2
                        continue
                    x_start, x_stop = max(0, -dx), min(width, width - dx)
                    for x in range(x_start):
                        row_d2[o, x] = norm2[x]
                    for x in range(x_start, x_stop):
                        e0 = np.float64(image[b, 0, y, x]) - image[b, 0, yy, x + dx]
                        e1 = np.float64(image[b, 1, y, x]) - image[b, 1, yy, x + dx]
                        e2 = np.float64(image[b, 2, y, x]) - image[b, 2, yy, x + dx]
                        row_d2[o, x] = e0 * e0 + e1 * e1 + e2 * e2
                    for x in range(x_stop, width):
                        row_d2[o, x] = norm2[x]

                for x in range(width):
                    largest = 0.0
                    for o in range(n_window):
                        values[o] = row_d2[o, x]
                        largest = max(largest, values[o])
                    # Invariant: at least k values are <= high.
                    low, high = 0.0, largest
                    for _ in range(64):
                        middle = 0.5 * (low + high)
                        n_below = 0
                        for o in range(n_window):
                            n_below += values[o] <= middle
                        if n_below < topk:
                            low = middle
                        else:
                            high = middle
                            if n_below <= topk + _SLACK:
                                break
                    n_candidates = 0
                    for o in range(n_window):  # branch-free compaction
                        candidates[n_candidates] = o
                        n_candidates += values[o] <= high
                    for a in range(1, n_candidates):  # stable insertion sort by value
                        o = candidates[a]
                        value = values[o]
                        p = a
                        while p > 0 and values[candidates[p - 1]] > value:
                            candidates[p] = candidates[p - 1]
                            p -= 1
                        candidates[p] = o
                    for m in range(topk):
                        o = candidates[m]
                        out_distance[b, m, y, x] = math.sqrt(values[o])
                        yy = y + o // kernel_size - radius
                        xx = x + o % kernel_size - radius
                        if 0 <= yy < height and 0 <= xx < width:
                            out_index[b, m, y, x] = yy * width + xx
                        else:
                            out_index[b, m, y, x] = outside


def _select_numba(image: torch.Tensor, kernel_size: int, topk: int) -> tuple[torch.Tensor, torch.Tensor]:
    n_batch, _, height, width = image.shape
    # The kernel writes the outputs in place: nothing but the outputs and a (K*K, W) row
    # buffer is allocated.
    distance = torch.empty((n_batch, topk, height, width), dtype=image.dtype)
    index = torch.empty((n_batch, topk, height, width), dtype=torch.int64)
    _select_kernel(image.detach().contiguous().numpy(), kernel_size, topk, distance.numpy(), index.numpy())
    return distance, index


def _select_torch(image: torch.Tensor, kernel_size: int, topk: int) -> tuple[torch.Tensor, torch.Tensor]:
    n_batch, _, height, width = image.shape
    radius = kernel_size // 2
    n_window = kernel_size * kernel_size
    device = image.device
    # Zero padding = a black border.
    padded = torch.nn.functional.pad(image, (radius, radius, radius, radius))
    # Flat index of every window offset for every pixel; H*W marks "outside the image".
    ys = torch.arange(height, device=device).view(height, 1, 1)
    xs = torch.arange(width, device=device).view(1, width, 1)
    offsets = torch.arange(-radius, radius + 1, device=device)
    dy = offsets.repeat_interleave(kernel_size).view(1, 1, n_window)
    dx = offsets.repeat(kernel_size).view(1, 1, n_window)
    yy, xx = ys + dy, xs + dx
    inside = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
    window_index = torch.where(inside, yy * width + xx, height * width)  # (H, W, K*K)

    distance = torch.empty((n_batch, topk, height, width), dtype=image.dtype, device=device)
    index = torch.empty((n_batch, topk, height, width), dtype=torch.int64, device=device)
    # Window axis last, so that topk runs over contiguous memory (several times faster than
    # over axis 0); one image at a time, so the buffer is H * W * K*K, not B times that.
    d2 = torch.empty((height, width, n_window), dtype=image.dtype, device=device)
    diff = torch.empty((3, height, width), dtype=image.dtype, device=device)
    plane = torch.empty((height, width), dtype=image.dtype, device=device)
    for b in range(n_batch):
        centre = padded[b, :, radius:radius + height, radius:radius + width]
        for o in range(n_window):
            oy, ox = o // kernel_size, o % kernel_size
            torch.sub(centre, padded[b, :, oy:oy + height, ox:ox + width], out=diff)
            diff.mul_(diff)
            torch.add(diff[0], diff[1], out=plane)
            plane.add_(diff[2])
            d2[..., o] = plane
        best_d2, best_o = torch.topk(d2, topk, dim=-1, largest=False, sorted=True)
        distance[b] = best_d2.sqrt_().permute(2, 0, 1)
        index[b] = torch.gather(window_index, -1, best_o).permute(2, 0, 1)
    return distance, index


@torch.no_grad()
def select_neighbors(image: torch.Tensor, kernel_size: int = 11, topk: int = 11,
                     backend: str = "auto") -> Neighbors:
    """Select the DDC neighbours of every pixel (no gradient).

    Parameters
    ----------
    image : Tensor, shape (B, 3, H, W) or (3, H, W), float32 or float64
        RGB in [0, 1]. Any device.
    kernel_size : int, default 11
        Odd window size ``K``; the candidates are the ``K x K`` pixels centred on ``i``.
    topk : int, default 11
        Number ``k`` of neighbours kept, ``1 <= k <= K * K``.
    backend : {"auto", "numba", "torch"}, default "auto"
        "auto" uses the numba kernel for CPU tensors when numba is installed and the torch
        path otherwise (CUDA). Both give the same distances; ties may pick different pixels.

    Returns
    -------
    Neighbors
        ``distance`` (B|-, k, H, W) in the image's dtype, sorted ascending, and ``index``
        (B|-, k, H, W) int64 flat indices, ``H * W`` for out-of-image neighbours; on the
        image's device. The batch axis is present iff it is present in ``image``.
    """
    _check_image(image, kernel_size, topk)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    unbatched = image.ndim == 3
    batch = image.unsqueeze(0) if unbatched else image
    use_numba = backend == "numba" or (backend == "auto" and numba is not None and batch.device.type == "cpu")
    if use_numba:
        if numba is None:
            raise ValueError("backend='numba' needs the numba package, which is not installed")
        if batch.device.type != "cpu":
            raise ValueError(f"backend='numba' runs on CPU tensors only; got a tensor on {batch.device}")
        distance, index = _select_numba(batch, kernel_size, topk)
    else:
        distance, index = _select_torch(batch, kernel_size, topk)
    if unbatched:
        distance, index = distance[0], index[0]
    return Neighbors(distance, index)
