"""Matting with no training: alpha for an image and its trimap, by a prior or a classical method.

``python -m mattinglib matte`` is the way to get alpha mattes for one's own images without
training anything. The methods (:data:`METHODS`):

- ``"ddc-prior"`` (the default): the paper's loss used as a per-image prior. Free per-pixel
  alpha (a sigmoid over logits) minimises ``L_known + weight * L_DDC`` for the one image, with
  Adam, coarse to fine (:func:`ddc_prior_alpha`). No network, no labels beyond the trimap. Its
  defaults (``PRIOR_*`` below, a 41 x 41 window rather than the paper's 11 x 11) were measured
  against closed-form matting on real scenes.
- ``"closed-form"``, ``"knn"``: pymatting's closed-form (Levin et al. 2008) and KNN (Chen et
  al. 2013) matting, through :func:`mattinglib.baselines.baseline_predictor`.
- ``"network"``: a network trained by ``train`` (``checkpoint.pt``); a trimap-conditioned
  (4-channel) model is given the trimap.

Every method's answer keeps the trimap's known pixels at their known value (0 or 1): the
trimap is the user's statement about them, and only the unknown band is estimated.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .losses.neighbors import DEFAULT_TOPK
from .prior import StepCallback, optimise_alpha
from .tiling import DEFAULT_TILE_PIXELS

#: The methods of :func:`matte_image` / ``python -m mattinglib matte --method``.
METHODS = ("ddc-prior", "closed-form", "knn", "network")
DEFAULT_METHOD = "ddc-prior"

# ---- ddc-prior's defaults -------------------------------------------------------------------
# Chosen by scripts/tune_matte_prior.py on four alphamatting.com training scenes that are not
# among the study's held-out test scenes (GT01, GT02, GT03, GT04; GT08, GT09, GT13, GT16, GT20
# were never looked at), full size (~800 x 500), Trimap1, unknown-region SAD / 1000 (the
# study's protocol). Closed-form matting: 1.131, 4.309, 5.659, 12.10, mean 5.80. The DDC prior
# (mean SAD, ratio to closed-form's mean):
#
#   one level, K 11, k 11, lr 0.1:   w 1: 300 / 600 / 1000 steps 14.2 / 11.0 / 9.72 (1.68x at 1000)
#                                    w 3: 14.8 / 11.5 / 10.2; w 10: 16.3 / 12.8 / 11.3
#   one level, w 3, 1000 steps:      lr 0.05 11.4, lr 0.3 9.25 (1.60x)
#   3 levels, 300 coarse + 300 full steps, K 11, k 11:  w 3, lr 0.1 8.90 (1.53x); with a cosine
#                                    lr decay to 0.05 lr: w 1 8.99, w 3 9.33, w 10 10.1
#   3 levels, w 1, lr 0.3, cosine:   K 11 k 11 8.74, K 15 k 15 8.35, K 21 k 11 7.68, K 21 k 21
#                                    8.02, K 31 k 11 7.38, K 41 k 11 7.42 (1.28x)
#   3 levels, w 1, constant lr, K 41 k 11:  lr 0.3 7.64, lr 0.1 6.73 (1.16x; per scene 1.113,
#                                    3.965, 6.752, 15.09: 0.98x, 0.92x, 1.19x, 1.25x)  <- chosen
#
# The paper's K = 11 window is too small at full size: wider windows (the same loss, more
# reach per step) and starting from a coarser scale carry alpha across the unknown band;
# the weight matters little (Adam rescales each pixel's step) beyond keeping the known pixels
# anchored, and smaller is better. Wider windows than 41 were not tried. Time (``matte`` on the
# four scenes): 42 s per megapixel (about 19 s per image) against closed-form's 11 s, on 2
# cores shared with other jobs (load average about 6), so 2x to 3x slower than on an idle
# machine; the script's own seconds move with that load from run to run.
PRIOR_WEIGHT = 1.0
PRIOR_STEPS = 300
PRIOR_LR = 0.1
PRIOR_LEVELS = 3
PRIOR_COARSE_STEPS = 300
PRIOR_FINAL_LR = 1.0
PRIOR_KERNEL_SIZE = 41
PRIOR_TOPK = DEFAULT_TOPK  # the paper's k = 11 neighbours


def ddc_prior_alpha(image: np.ndarray, trimap: np.ndarray, weight: float = PRIOR_WEIGHT, steps: int = PRIOR_STEPS,
                    lr: float = PRIOR_LR, levels: int = PRIOR_LEVELS, coarse_steps: int = PRIOR_COARSE_STEPS,
                    final_lr: float = PRIOR_FINAL_LR, kernel_size: int = PRIOR_KERNEL_SIZE, topk: int = PRIOR_TOPK,
                    on_step: StepCallback | None = None) -> np.ndarray:
    """Alpha minimising ``L_known + weight * L_DDC`` for one image, optimised coarse to fine.

    The objective is the paper's trimap-only loss (docs/method.md), with per-pixel alpha as the free
    variable instead of a network: :func:`mattinglib.prior.optimise_alpha` (``loss="ddc"``,
    ``init="trimap"``) with the defaults chosen for ``matte`` (``PRIOR_*``), on one torch thread.
    With more than one level the image and trimap are first halved ``levels - 1`` times and
    each level starts from the coarser level's alpha (:func:`~mattinglib.prior.optimise_alpha`).

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float in [0, 1]
    trimap : ndarray, shape (H, W), values {0, 0.5, 1}
    weight : float
        lambda, the weight of the DDC term.
    steps : int
        Adam steps at full size.
    lr : float
        Adam's learning rate on the logits (at the start of each level).
    levels : int
        Number of scales (1: full size only). Fewer are used when the image is too small.
    coarse_steps : int
        Adam steps at each coarser scale.
    final_lr : float
        The learning rate decays (cosine) to ``final_lr * lr`` by the end of each level;
        1 keeps it constant.
    kernel_size, topk : int
        DDC neighbourhood (K x K window, k neighbours).
    on_step : callable ``(done, total, logits)``, optional
        Called after every Adam step with the steps done so far over all levels, their total,
        and the current level's logits, shape (1, 1, h, w) (a progress bar; a tuning script
        reading intermediate results). ``logits`` must not be modified.

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]
        Deterministic on CPU for the same inputs. Runs on one torch thread (the previous count
        is restored afterwards).
    """
    # One torch thread: a step is a serial numba sweep plus elementwise work on one image, too
    # little to share; on our 2 loaded cores 2 threads took 4x as long (GT01: 112 s against 27 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return optimise_alpha(image, trimap, loss="ddc", weight=weight, kernel_size=kernel_size, topk=topk,
                              steps=steps, lr=lr, init="trimap", levels=levels, coarse_steps=coarse_steps,
                              final_lr=final_lr, on_step=on_step)
    finally:
        torch.set_num_threads(threads)


def keep_known(alpha: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """``alpha`` clipped to [0, 1], with the trimap's known pixels (0 or 1) at their value; float64."""
    alpha = np.array(alpha, dtype=np.float64)  # one new copy, changed in place (a 12 MP image's is 96 MB)
    np.clip(alpha, 0.0, 1.0, out=alpha)
    alpha[trimap == 0] = 0.0
    alpha[trimap == 1] = 1.0
    return alpha


def matte_image(image: np.ndarray, trimap: np.ndarray, method: str = DEFAULT_METHOD,
                model: torch.nn.Module | None = None, progress: bool = False, description: str = "ddc-prior",
                max_tile_pixels: int | None = DEFAULT_TILE_PIXELS, **prior_options) -> np.ndarray:
    """Alpha for one image and its trimap, with no training.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float in [0, 1]
    trimap : ndarray, shape (H, W), values {0, 0.5, 1}
    method : one of :data:`METHODS`
        See the module docstring.
    model : nn.Module, optional
        The network of ``method="network"`` (:func:`mattinglib.checkpoints.load_model`); a
        4-channel model is given the trimap.
    progress : bool
        For ``"ddc-prior"``: a progress bar over the optimisation steps (stderr), labelled
        ``description``.
    max_tile_pixels : int or None
        For ``"network"``: a larger image is predicted in overlapping tiles of at most this
        many pixels (:func:`mattinglib.evaluate.predict_alpha`); None: in one piece.
    **prior_options
        For ``"ddc-prior"``: keyword arguments of :func:`ddc_prior_alpha` (weight, steps...).

    Returns
    -------
    ndarray, shape (H, W), float64 in [0, 1]
        The known pixels of the trimap at 0 / 1; the unknown band the method's estimate. A
        classical method given a trimap without known foreground or background returns the
        trimap and warns (:class:`~mattinglib.baselines.TrimapAsAlphaWarning`).
    """
    if method not in METHODS:
        raise ValueError(f"unknown matting method {method!r}; choose one of {', '.join(METHODS)}")
    # Float arrays are kept as they are (read_image's float32): a float64 copy of a 12 MP image is 288 MB,
    # and each method converts to what it computes in (the network and ddc-prior float32, pymatting float64).
    image, trimap = np.asarray(image), np.asarray(trimap)
    if not np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float64)
    if not np.issubdtype(trimap.dtype, np.floating):
        trimap = trimap.astype(np.float64)
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[:2] != trimap.shape:
        raise ValueError(f"image {image.shape} must be (H, W, 3) and trimap {trimap.shape} (H, W) of the same size")
    if prior_options and method != "ddc-prior":
        raise ValueError(f"options {sorted(prior_options)} are ddc-prior's; method {method!r} takes none")
    if method == "ddc-prior":
        from tqdm.auto import tqdm

        with tqdm(desc=description, unit="step", disable=not progress, leave=False) as bar:
            def on_step(done: int, total: int, logits: torch.Tensor) -> None:
                bar.total = total
                bar.update(1)

            alpha = ddc_prior_alpha(image, trimap, on_step=on_step, **prior_options)
    elif method == "network":
        from .evaluate import predict_alpha

        if model is None:
            raise ValueError("method 'network' needs the model: pass model=load_model(checkpoint)")
        # The default is predict_alpha's own; only another limit is passed on.
        tiles = {} if max_tile_pixels == DEFAULT_TILE_PIXELS else {"max_tile_pixels": max_tile_pixels}
        alpha = predict_alpha(model, image, trimap, **tiles)
    else:
        from .baselines import baseline_predictor

        alpha = baseline_predictor(method)(image, trimap)  # converts to float64 itself
    return keep_known(alpha, trimap)


def matte_predictor(method: str = DEFAULT_METHOD, checkpoint: str | Path | None = None, device: str = "cpu",
                    progress: bool = False, max_tile_pixels: int | None = DEFAULT_TILE_PIXELS
                    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``predictor(image, trimap) -> alpha`` of :func:`matte_image` for ``method``, the network loaded once.

    Parameters
    ----------
    method : one of :data:`METHODS`
    checkpoint : path
        ``checkpoint.pt`` written by ``train``; required by ``"network"`` and refused by the others.
    device : str
        Where the network runs.
    progress : bool
        Progress bars over ddc-prior's optimisation steps.
    max_tile_pixels : int or None
        For ``"network"``: the tile limit of :func:`matte_image`.

    Returns
    -------
    callable
        A predictor as :func:`mattinglib.evaluate.evaluate` takes.
    """
    if method not in METHODS:
        raise ValueError(f"unknown matting method {method!r}; choose one of {', '.join(METHODS)}")
    if (method == "network") != (checkpoint is not None):
        raise ValueError("method 'network' needs a checkpoint (a checkpoint.pt written by train)" if checkpoint is None
                         else f"{checkpoint}: a checkpoint is used by method 'network' only, not {method!r}")
    model = None
    if method == "network":
        from .checkpoints import load_model

        model = load_model(checkpoint, device)

    def predict(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        return matte_image(image, trimap, method, model=model, progress=progress, max_tile_pixels=max_tile_pixels)

    return predict


def matte_folder(images_dir: str | Path, trimaps_dir: str | Path, output_dir: str | Path,
                 method: str = DEFAULT_METHOD, checkpoint: str | Path | None = None, device: str = "cpu",
                 on_skip: Callable | None = None, progress: bool = True,
                 max_tile_pixels: int | None = DEFAULT_TILE_PIXELS):
    """Write ``output_dir/<stem>.png`` (8-bit alpha) for every image of ``images_dir``, with no training.

    Parameters
    ----------
    images_dir : path
        Folder of images (see :func:`mattinglib.io.read_image` for grey / RGBA / 16-bit).
    trimaps_dir : path
        Folder of trimaps, ``<stem>.png`` (or ``.jpg``...), one per image, of its size.
    output_dir : path
        Created if missing.
    method : one of :data:`METHODS`
    checkpoint : path, optional
        Required by ``method="network"``.
    device : str
        Where the network runs.
    on_skip : callable, optional
        Called with each :class:`~mattinglib.predict.InputProblem` (a ``ValueError`` whose
        one-line message names the file; its ``paths`` are the images skipped), as for
        :func:`mattinglib.predict.run_folder`; without it the problems of the folder are raised
        together, before any image is processed.
    progress : bool
        Progress bars: over the images, and for ddc-prior over each image's steps (stderr).
    max_tile_pixels : int or None
        For ``"network"``: larger images are predicted in overlapping tiles of at most this
        many pixels; None: in one piece.

    Returns
    -------
    mattinglib.predict.FolderResult
        The files written, the seconds and megapixels of each image (``seconds_per_megapixel``),
        and the images for which a classical method returned the trimap.

    Raises
    ------
    FileNotFoundError
        ``images_dir``, ``trimaps_dir`` or the checkpoint does not exist.
    ValueError
        No image, an unknown method, ``network`` without a checkpoint (or a checkpoint for
        another method), an unusable checkpoint; without ``on_skip``, unusable images.
    """
    from .predict import list_folder_images, run_folder

    images = list_folder_images(images_dir, "image")
    trimaps_dir = Path(trimaps_dir)
    if not trimaps_dir.is_dir():
        raise FileNotFoundError(f"{trimaps_dir}: no such trimap folder; give the folder of <stem>.png trimaps")
    predict = matte_predictor(method, checkpoint, device, progress=progress, max_tile_pixels=max_tile_pixels)
    return run_folder(images, output_dir, predict, trimaps_dir, on_skip=on_skip, progress=progress,
                      description=f"matte ({method})")
