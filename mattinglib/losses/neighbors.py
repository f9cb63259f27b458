"""DDC neighbour selection: the ``k`` most similar pixels in a ``K x K`` window.

For every pixel ``i`` the candidates ``j`` are the ``K x K`` window centred on ``i``, the
centre included. Outside the image the image is zero (a black pixel) and alpha is zero.
``d_ij = ||I_i - I_j||_2`` over the three RGB channels, and the ``k`` candidates with the
smallest ``d_ij`` are kept, sorted ascending. The selection depends on the image only, so it
can be computed once per crop outside the training step (in a DataLoader worker); the study's
trainings (``num_workers=0`` on 2 cores) compute it in the main process, in every step.

Three implementations:

- ``backend="numba"`` (the default on CPU): the vectorised kernel ``select_v2`` of
  :mod:`.neighbors_numba`. It computes every squared distance exactly as the previous kernel
  did (float64) and selects on int64 keys that pack the truncated distance with the window
  offset; the few pixels where the truncation could matter are redone exactly, so its output
  is bit-identical to the previous kernel's (distances and indices, ties included) on every
  finite image. Nothing of size ``K*K*H*W`` is stored: its memory is the outputs, a zero-padded
  copy of one image and ``(K*K, 128)`` tile buffers.
- ``backend="numba-v1"``: the previous kernel ``select_v1`` (a per-pixel bisection threshold
  and a sort of the survivors), kept as the reference the tests and ``python -m
  mattinglib.bench ddc`` compare against; 5-8x slower at 256-512 px, K = 11, k = 11.
- ``backend="torch"`` (any device, used for CUDA tensors and when numba is missing): squared
  distances of the ``K*K`` shifted images written in place into a preallocated
  ``(H, W, K*K)`` buffer, one image at a time, then ``topk`` over the last (contiguous) axis
  and a square root of the kept values only. Its memory is that buffer (``H * W * K*K``
  values, 127 MB in float32 at 512 x 512, K = 11) plus the outputs. Same distances (to
  float rounding); where distances tie it may pick other pixels.

Both numba kernels are compiled serially (no numba threading layer), so they are safe in
forked DataLoader workers, and cached on disk (``cache=True``).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from .neighbors_numba import numba

if numba is not None:
    from .neighbors_numba import select_v1, select_v2

BACKENDS = ("auto", "numba", "numba-v1", "torch")
#: The paper's neighbourhood (docs/method.md): a K x K candidate window, K = 11, of which the k = 11
#: closest in colour are kept. Every default of the library and the study refers to these.
DEFAULT_KERNEL_SIZE = 11
DEFAULT_TOPK = 11


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


def _select_numba(image: torch.Tensor, kernel_size: int, topk: int,
                  version: str = "v2") -> tuple[torch.Tensor, torch.Tensor, int]:
    """Run a numba kernel on a (B, 3, H, W) CPU image.

    Returns ``distance``, ``index`` and, for ``version="v2"``, the number of pixels that took
    its exact scalar path (-1 if the image was not finite and went to ``select_v1``; 0 for v1).
    """
    n_batch, _, height, width = image.shape
    # The kernels write the outputs in place; they allocate only small buffers.
    distance = torch.empty((n_batch, topk, height, width), dtype=image.dtype)
    index = torch.empty((n_batch, topk, height, width), dtype=torch.int64)
    pixels = image.detach().contiguous().numpy()
    if version == "v2":
        n_exact = select_v2(pixels, kernel_size, topk, distance.numpy(), index.numpy())
    else:
        select_v1(pixels, kernel_size, topk, distance.numpy(), index.numpy())
        n_exact = 0
    return distance, index, n_exact


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
def select_neighbors(image: torch.Tensor, kernel_size: int = DEFAULT_KERNEL_SIZE, topk: int = DEFAULT_TOPK,
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
    backend : {"auto", "numba", "numba-v1", "torch"}, default "auto"
        "auto" uses the numba kernel ("numba") for CPU tensors when numba is installed and
        the torch path otherwise (CUDA). "numba" and "numba-v1" (the previous kernel) give
        bit-identical results; the torch path gives the same distances, and where distances
        tie it may pick other pixels.

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
    use_numba = backend in ("numba", "numba-v1") or (
        backend == "auto" and numba is not None and batch.device.type == "cpu")
    if use_numba:
        name = "numba" if backend == "auto" else backend
        if numba is None:
            raise ValueError(f"backend={name!r} needs the numba package, which is not installed")
        if batch.device.type != "cpu":
            raise ValueError(f"backend={name!r} runs on CPU tensors only; got a tensor on {batch.device}")
        distance, index, _ = _select_numba(batch, kernel_size, topk, "v1" if name == "numba-v1" else "v2")
    else:
        distance, index = _select_torch(batch, kernel_size, topk)
    if unbatched:
        distance, index = distance[0], index[0]
    return Neighbors(distance, index)
