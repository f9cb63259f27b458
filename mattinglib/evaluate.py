"""Evaluation: run a predictor over a dataset and score it under one metric protocol.

A *predictor* is anything that maps an image (and the test trimap) to alpha: a trained
network (:class:`torch.nn.Module`, image-only or trimap-conditioned) or a classical method
from :mod:`mattinglib.baselines`. Both go through :func:`evaluate`, so every row of every table
is scored by the same code.

A user's own held-out images may have no true alpha: :func:`score_own_images` scores them on
their trimaps' known pixels (:func:`known_region_error`), and with :func:`evaluate` when they
have alphas; the training loop logs it for a run on a user's folder.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .labels.codec import decode_trimap
from .metrics import grey_share, matting_metrics, soft_pixel_errors
from .tiling import DEFAULT_TILE_PIXELS, run_tiled

Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Evaluation:
    """Scores of one predictor on one dataset.

    Attributes
    ----------
    protocol : {"whole", "unknown"}
    per_image : DataFrame
        One row per image: ``name``, the protocol's metrics, and for ``"whole"`` two
        diagnostics of :func:`mattinglib.metrics.soft_pixel_errors`: ``sad_soft`` (SAD over
        pixels whose true alpha is strictly between 0 and 1, / 1000) and ``alpha_soft`` (mean
        predicted alpha on those pixels, next to ``alpha_soft_true``), which tell hair that
        was drawn from hair that was erased.
    """

    protocol: str
    per_image: pd.DataFrame

    @property
    def mean(self) -> pd.Series:
        return self.per_image.drop(columns=["name"]).mean()


@torch.no_grad()
def predict_alpha(model: torch.nn.Module | Callable, image: np.ndarray, trimap: np.ndarray | None = None,
                  max_tile_pixels: int | None = DEFAULT_TILE_PIXELS) -> np.ndarray:
    """Alpha of one whole image from a network, in overlapping tiles when the image is large.

    Parameters
    ----------
    model : nn.Module, or a callable with ``in_channels`` and ``size_multiple`` attributes
        Maps (1, C, H, W) in [0, 1] to (1, 1, H, W) alpha; C = 3 (image) or 4 (image + trimap),
        read from ``model.in_channels`` (an ONNX Runtime session wrapped by
        :func:`mattinglib.onnx_export.onnx_network` too).
    image : ndarray, shape (H, W, 3), float in [0, 1]
    trimap : ndarray, shape (H, W), values {0, 0.5, 1}; needed only by 4-channel models.
    max_tile_pixels : int or None
        An image of more pixels is predicted in overlapping tiles of at most this many,
        blended without seams (:func:`mattinglib.tiling.run_tiled`), so that memory stays
        bounded; one of at most this many goes through in one piece, as it always did (the
        study's images, at most 0.6 megapixels, all do). None: always in one piece.

    Returns
    -------
    ndarray, shape (H, W), float32 in [0, 1]
    """
    is_module = isinstance(model, torch.nn.Module)
    device = next(model.parameters()).device if is_module else torch.device("cpu")
    channels = getattr(model, "in_channels", 3)
    if channels == 4 and trimap is None:
        raise ValueError("this model is trimap-conditioned (4 input channels): pass the trimap")
    # One float32 (1, C, H, W) copy of the input, filled in place (no float64 or concatenated copies).
    height, width = image.shape[:2]
    x = torch.empty((1, 4 if channels == 4 else 3, height, width), dtype=torch.float32)
    x[0, :3] = torch.from_numpy(np.asarray(image, dtype=np.float32).transpose(2, 0, 1))
    if channels == 4:
        x[0, 3] = torch.from_numpy(np.asarray(trimap, dtype=np.float32))
    was_training = model.training if is_module else False
    if is_module:
        model.eval()
    try:
        alpha = run_tiled(model, x, max_tile_pixels, device=device)[0, 0].float().cpu().numpy()
    finally:
        if is_module:
            model.train(was_training)
    return alpha


def as_predictor(model_or_fn: torch.nn.Module | Predictor) -> Predictor:
    """Wrap a network as ``predictor(image HWC, trimap HW) -> alpha HW``; callables pass through."""
    if isinstance(model_or_fn, torch.nn.Module):
        return lambda image, trimap: predict_alpha(model_or_fn, image, trimap)
    return model_or_fn


def sample_arrays(sample: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image HWC float64, alpha HW float64, trimap HW float64) of a dataset sample dict."""
    if "alpha" not in sample:
        raise ValueError(f"sample {sample.get('name', '?')!r} has no true alpha: it cannot be scored")
    image = np.asarray(sample["image"], dtype=np.float64).transpose(1, 2, 0)
    alpha = np.asarray(sample["alpha"], dtype=np.float64)[0]
    trimap = np.asarray(sample["trimap"], dtype=np.float64)[0]
    return image, alpha, trimap


def evaluate(predictor: torch.nn.Module | Predictor, dataset, protocol: Literal["whole", "unknown"] = "whole",
             progress: bool = False, description: str = "evaluate") -> Evaluation:
    """Score ``predictor`` on every item of ``dataset`` (items are sample dicts with an alpha).

    The trimap used by the ``unknown`` protocol (and given to trimap-based predictors) is the
    sample's ``trimap``: for the evaluation sets that is the fixed test trimap, never the
    training label. A :class:`~mattinglib.baselines.TrimapAsAlphaWarning` of the predictor (a
    classical method that returned the trimap) names the sample
    (:func:`mattinglib.baselines.for_image`).
    """
    return evaluate_protocols(predictor, dataset, (protocol,), progress, description)[protocol]


def evaluate_protocols(predictor: torch.nn.Module | Predictor, dataset, protocols: tuple[str, ...],
                       progress: bool = False, description: str = "evaluate") -> dict[str, Evaluation]:
    """:func:`evaluate` under each of ``protocols``, predicting each image once.

    Returns
    -------
    dict of str to Evaluation
        Protocol -> its scores, in the order given; each equal to ``evaluate(predictor,
        dataset, protocol)`` (the same prediction, scored the same way).
    """
    # Imported here: baselines imports pymatting, which scoring a network does not need otherwise.
    from .baselines import for_image

    protocols = tuple(dict.fromkeys(protocols))
    if not protocols:
        raise ValueError("no protocol to score under: give at least one of 'whole', 'unknown'")
    predict = as_predictor(predictor)
    rows = {protocol: [] for protocol in protocols}
    for i in tqdm(range(len(dataset)), desc=description, disable=not progress, leave=False):
        sample = dataset[i]
        name = sample.get("name", str(i))
        image, alpha, trimap = sample_arrays(sample)
        # A classical method that returns the trimap for want of known pixels says so, naming the image.
        with for_image(name):
            pred = np.clip(np.asarray(predict(image, trimap), dtype=np.float64), 0.0, 1.0)
        for protocol in protocols:
            row = {"name": name} | matting_metrics(pred, alpha, trimap, region=protocol)
            if protocol == "whole":
                row |= soft_pixel_errors(pred, alpha)
            rows[protocol].append(row)
    return {protocol: Evaluation(protocol=protocol, per_image=pd.DataFrame(rows[protocol])) for protocol in protocols}


def prediction_statistics(models: dict[str, torch.nn.Module], dataset, count: int = 10) -> pd.DataFrame:
    """What networks predict, in aggregate, on the first ``count`` samples of ``dataset``.

    Tells a network that misses the foreground (mean alpha far below the truth's) from one
    that hedges (many grey pixels), which the error metrics alone do not.

    Returns
    -------
    DataFrame
        One row per name: ``mean_alpha`` (mean predicted alpha), ``true_mean_alpha``,
        ``grey_share`` (share of pixels predicted inside :data:`~mattinglib.metrics.GREY_BAND`,
        0.2 to 0.8, :func:`~mattinglib.metrics.grey_share`) and ``true_grey_share`` (the same
        share of the true alpha).
    """
    samples = [sample_arrays(dataset[index]) for index in range(min(count, len(dataset)))]
    rows = []
    for name, model in models.items():
        # The test trimap goes to every network: a trimap-conditioned (4-channel) one needs it,
        # an image-only one ignores it.
        preds = [predict_alpha(model, image, trimap) for image, _, trimap in samples]
        rows.append({
            "network": name,
            "mean_alpha": float(np.mean([p.mean() for p in preds])),
            "true_mean_alpha": float(np.mean([alpha.mean() for _, alpha, _ in samples])),
            "grey_share": float(np.mean([grey_share(p) for p in preds])),
            "true_grey_share": float(np.mean([grey_share(alpha) for _, alpha, _ in samples])),
        })
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Scoring a user's held-out images
# ---------------------------------------------------------------------------------------------

def known_region_error(pred: np.ndarray, trimap: np.ndarray) -> float:
    """Mean absolute error of a prediction on the trimap's known pixels.

    Parameters
    ----------
    pred : ndarray, shape (H, W)
        Predicted alpha, clipped to [0, 1] here (as :func:`evaluate` does).
    trimap : ndarray, shape (H, W)
        {0, 0.5, 1} or 0 / 128 / 255 (:func:`~mattinglib.labels.decode_trimap`).

    Returns
    -------
    float
        ``mean |pred - trimap|`` over the pixels where the trimap is 0 or 1, in alpha units
        (0: the known regions kept exactly; 0.5: a network that predicts grey everywhere).
        NaN when the trimap has no known pixel.
    """
    pred = np.clip(np.asarray(pred, dtype=np.float64), 0.0, 1.0)
    levels = decode_trimap(np.asarray(trimap))
    if pred.shape != levels.shape:
        raise ValueError(f"prediction shape {pred.shape} does not match trimap shape {levels.shape}")
    known = levels != 0.5
    if not known.any():
        return float("nan")
    return float(np.abs(pred - levels)[known].mean())


def score_own_images(model: torch.nn.Module, dataset) -> dict[str, float]:
    """Score a network on a user's held-out images.

    Parameters
    ----------
    model : nn.Module
        A network of :func:`~mattinglib.build.build_model_for` (3 or 4 input channels).
    dataset : sequence of sample dicts
        Whole images with the user's trimaps (``build_held_out_set(config)``); with or without
        ``"alpha"`` (all samples alike, as a folder's matching guarantees).

    Returns
    -------
    dict of str to float
        ``known_region_error``: the mean over images of :func:`known_region_error` (alpha
        units; images without known pixels left out). When the samples have alphas, also the
        mean whole-image metrics of :func:`evaluate` (``sad`` ...), of
        the same predictions.
    """
    errors: list[float] = []

    def predictor(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
        # The prediction evaluate() scores is also the one the known-region error is taken of.
        pred = predict_alpha(model, image, trimap)
        errors.append(known_region_error(pred, trimap))
        return pred

    scores: dict[str, float] = {}
    if len(dataset) and "alpha" in dataset[0]:
        scores = {k: float(v) for k, v in evaluate(predictor, dataset, "whole").mean.items()}
    else:
        for index in range(len(dataset)):
            sample = dataset[index]
            image = np.asarray(sample["image"], dtype=np.float64).transpose(1, 2, 0)
            predictor(image, np.asarray(sample["trimap"], dtype=np.float64)[0])
    finite = [e for e in errors if not math.isnan(e)]
    return {"known_region_error": float(np.mean(finite)) if finite else float("nan")} | scores


def describe_own_scores(scores: dict[str, float]) -> str:
    """The progress line's part for :func:`score_own_images`'s scores: says which it shows."""
    line = f"held-out known-region error {scores['known_region_error']:.4f} (mean |alpha - trimap| on known px)"
    if "sad" in scores:
        return f"{line}  SAD {scores['sad']:.3f}  MSE {scores['mse']:.5f}"
    return f"{line}; no alphas, so no SAD"
