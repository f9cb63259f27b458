"""Figures specific to the study (the generic helpers are in :mod:`mattinglib.study.plotting`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from mattinglib.losses import select_neighbors
from mattinglib.losses.neighbors import DEFAULT_KERNEL_SIZE, DEFAULT_TOPK

from .plotting import save_figure


def plot_selected_neighbors(image: np.ndarray, points: Sequence[tuple[int, int]], kernel_size: int = DEFAULT_KERNEL_SIZE,
                            topk: int = DEFAULT_TOPK, zoom: int = 2) -> plt.Figure:
    """For each pixel of ``points``, its window with the ``topk`` neighbours DDC selects marked.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), float in [0, 1]
    points : sequence of (row, col)
        Pixels to show (e.g. one in flat foreground, one on an edge, one in hair).
    kernel_size, topk : int
        The selection's window and count.
    zoom : int
        Context shown around each window, in multiples of the window.

    Returns
    -------
    Figure
        One panel per point: the image around the pixel, the K x K window outlined, the
        selected neighbours as dots (the centre, always selected, as a cross).
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))
    neighbors = select_neighbors(x, kernel_size, topk)
    h, w = image.shape[:2]
    half = kernel_size // 2
    context = half * zoom + half
    fig, axes = plt.subplots(1, len(points), figsize=(2.8 * len(points), 3.0), squeeze=False)
    for ax, (row, col) in zip(axes[0], points):
        top, left = max(0, row - context), max(0, col - context)
        bottom, right = min(h, row + context + 1), min(w, col + context + 1)
        ax.imshow(np.clip(image[top:bottom, left:right], 0, 1), interpolation="nearest")
        ax.add_patch(plt.Rectangle((col - half - left - 0.5, row - half - top - 0.5), kernel_size, kernel_size,
                                   fill=False, edgecolor="white", linewidth=1.2))
        flat = neighbors.index[:, row, col].numpy()
        inside = flat < h * w
        rows, cols = np.divmod(flat[inside], w)
        ax.scatter(cols - left, rows - top, s=14, c="#ff3b30", edgecolors="white", linewidths=0.5)
        ax.scatter([col - left], [row - top], s=40, marker="x", c="cyan")
        ax.set_title(f"pixel ({row}, {col})", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"the {topk} of {kernel_size}x{kernel_size} neighbours closest in colour", fontsize="medium")
    fig.tight_layout()
    return fig


def plot_setting_bars(table: pd.DataFrame, metric: str = "sad", by: str = "setting",
                      title: str | None = None) -> plt.Figure:
    """Mean of ``metric`` per ``by`` with the standard deviation over rows (scenes or seeds) as bars.

    Parameters
    ----------
    table : DataFrame
        One row per (item, setting); several rows per setting are summarised.
    """
    grouped = table.groupby(by, sort=False)[metric]
    mean, std, count = grouped.mean(), grouped.std(ddof=1), grouped.count()
    order = mean.sort_values().index
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(order) + 1.2))
    ax.barh(range(len(order)), mean[order], xerr=std[order].fillna(0.0), color="#4c72b0", alpha=0.85,
            error_kw={"elinewidth": 1, "capsize": 3})
    ax.set_yticks(range(len(order)), [f"{name} (n={count[name]})" for name in order])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} (mean, bars: std over rows)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def save_sad_bars(scores: pd.DataFrame, eval_sets: Iterable[str], output_dir: str | os.PathLike, title: str,
                  protocols: Sequence[str] = ("whole",), classical: pd.DataFrame | None = None,
                  name: str = "sad_{eval_set}") -> list[Path]:
    """Save one :func:`plot_setting_bars` figure of SAD per evaluation set and protocol: every arm's mean.

    Parameters
    ----------
    scores : DataFrame
        One row per (variant, seed, eval set, protocol) with ``sad``
        (:func:`mattinglib.study.grid.run_grid`); the bars are the means over seeds.
    eval_sets : iterable of str
        The sets drawn, in order (a dict of datasets gives its names).
    output_dir : str or PathLike
    title : str
        Each figure's title, formatted with ``eval_set`` and ``protocol``
        (``"whole-image SAD, {eval_set}"``).
    protocols : sequence of {"whole", "unknown"}
        A figure per protocol and set, protocol by protocol.
    classical : DataFrame, optional
        Rows of methods without seeds (:func:`mattinglib.study.grid.score_baselines`), drawn
        after the networks of the same set and protocol.
    name : str
        The files' name without suffix, formatted with ``protocol`` and ``eval_set`` (spaces
        become ``_``, commas are dropped): ``sad_{eval_set}`` gives ``sad_real_photos.png``.

    Returns
    -------
    list of Path
        The PNG and PDF files, in the order written (the figures stay open to be shown).
    """
    eval_sets = list(eval_sets)
    written = []
    for protocol in protocols:
        for set_name in eval_sets:
            rows = scores[(scores["eval_set"] == set_name) & (scores["protocol"] == protocol)]
            if classical is not None:
                rows = pd.concat([rows, classical[(classical["eval_set"] == set_name)
                                                  & (classical["protocol"] == protocol)]], ignore_index=True)
            fig = plot_setting_bars(rows, "sad", by="variant", title=title.format(eval_set=set_name, protocol=protocol))
            file_name = name.format(eval_set=set_name.replace(" ", "_").replace(",", ""), protocol=protocol)
            written += save_figure(fig, Path(output_dir) / file_name)
    return written


def prediction_rows(eval_sets: dict[str, object], models: dict[str, "torch.nn.Module"],
                    index: int = 0) -> list[list[tuple]]:
    """Panels for :func:`mattinglib.study.plotting.show_images`: per evaluation set, one held-out
    image, its true alpha, then every model's prediction (the models see the image only).

    Parameters
    ----------
    eval_sets : dict of str to dataset
        Datasets of sample dicts with ``image`` and ``alpha``.
    models : dict of str to Module
        Name -> trained network, in the order to draw them.
    index : int
        Which sample of each set (clipped to the set's length).
    """
    from mattinglib.evaluate import predict_alpha, sample_arrays

    rows = []
    for set_name, dataset in eval_sets.items():
        image, alpha, trimap = sample_arrays(dataset[min(index, len(dataset) - 1)])
        row = [(set_name, image, "image"), ("truth", alpha, "alpha")]
        # The test trimap goes to every network (a 4-channel one needs it, others ignore it).
        row += [(name, predict_alpha(model, image, trimap), "alpha") for name, model in models.items()]
        rows.append(row)
    return rows


def disagreement_rows(model: "torch.nn.Module", dataset, count: int = 2,
                      name: str = "trimap-only") -> tuple[list[list[tuple]], list[str]]:
    """Panels of the ``count`` samples where ``model`` and the provided truth disagree most.

    Disagreement is the mean |prediction - truth| over the sample's unknown region (its
    trimap), so the pictures show where the *labels* may be the doubtful party, not where
    the model misses a known region.

    Returns
    -------
    rows : list of rows for :func:`mattinglib.study.plotting.show_images`
        image, provided truth, prediction, prediction - truth (signed).
    names : list of str
        The samples shown, most disagreeing first.
    """
    from mattinglib.evaluate import predict_alpha, sample_arrays

    found = []
    for index in range(len(dataset)):
        sample = dataset[index]
        image, alpha, trimap = sample_arrays(sample)
        pred = predict_alpha(model, image, trimap)
        unknown = trimap == 0.5
        gap = float(np.abs(pred - alpha)[unknown].mean()) if unknown.any() else 0.0
        found.append((gap, str(sample.get("name", index)), image, alpha, pred))
    found.sort(key=lambda item: -item[0])
    rows = [[(f"{title}: unknown-band MAD {gap:.3f}", image, "image"), ("provided truth", alpha, "alpha"),
             (name, pred, "alpha"), ("prediction - truth", pred - alpha, "error")]
            for gap, title, image, alpha, pred in found[:count]]
    return rows, [item[1] for item in found[:count]]


def plot_metric_grid(scores: pd.DataFrame, sweeps: dict[str, tuple[pd.DataFrame, str]], row: str = "eval_set",
                     metric: str = "sad", log_columns: Sequence[str] = ()) -> plt.Figure:
    """A metric against swept settings: one row of panels per value of ``row``, one column per sweep.

    Each evaluation set gets its own row because their scales differ by orders of magnitude
    (whole-image SAD of an 800 x 600 photo against a 96 px composite).

    Parameters
    ----------
    scores : DataFrame
        Only its ``row`` values (in order of appearance) are used.
    sweeps : dict of str to (DataFrame, str)
        Column title -> (the runs of that sweep, one row per run and ``row`` value; the name of
        the swept numeric column).
    log_columns : sequence of str
        Column titles whose horizontal axis is logarithmic.
    """
    from .plotting import plot_metric_vs

    row_values = list(dict.fromkeys(scores[row]))
    fig, axes = plt.subplots(len(row_values), len(sweeps), squeeze=False,
                             figsize=(4.6 * len(sweeps), 3.0 * len(row_values)))
    for r, value in enumerate(row_values):
        for c, (title, (table, x)) in enumerate(sweeps.items()):
            ax = axes[r, c]
            subset = table[table[row] == value]
            plot_metric_vs(subset, x, metric, ax=ax, logx=title in log_columns)
            ticks = sorted(subset[x].unique())
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.minorticks_off()
            ax.set_title(f"{title}: {value}", fontsize="medium")
    fig.tight_layout()
    return fig


def detail_window(alpha: np.ndarray, size: int) -> tuple[slice, slice]:
    """The ``size`` x ``size`` window (clipped to the image) holding the most soft pixels
    (0 < alpha < 1) of a true matte: where hair and fur are, for a close-up.

    Parameters
    ----------
    alpha : ndarray, shape (H, W), in [0, 1]
    size : int
        Side of the window in pixels.

    Returns
    -------
    (slice, slice)
        Rows and columns of the window.
    """
    height, width = alpha.shape
    rows, cols = min(size, height), min(size, width)
    soft = ((alpha > 0) & (alpha < 1)).astype(np.int64)
    # Summed-area table: the soft count of every window in one pass.
    table = np.pad(soft.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    counts = table[rows:, cols:] - table[:-rows, cols:] - table[rows:, :-cols] + table[:-rows, :-cols]
    top, left = np.unravel_index(int(np.argmax(counts)), counts.shape)
    return slice(int(top), int(top) + rows), slice(int(left), int(left) + cols)


def detail_rows(image: np.ndarray, trimap: np.ndarray, alpha: np.ndarray, predictions: dict[str, np.ndarray],
                size: int = 160, per_row: int = 4) -> list[list[tuple]]:
    """Close-up panels of one scene for :func:`mattinglib.study.plotting.show_images`: the image,
    trimap and truth in the :func:`detail_window` of the truth, then every prediction there.

    ``predictions``: method name -> alpha (H, W) of the whole scene, in the order to draw them.
    """
    window = detail_window(alpha, size)
    panels = [("image", image[window], "image"), ("trimap", trimap[window], "trimap"),
              ("truth", alpha[window], "alpha")]
    panels += [(name, predicted[window], "alpha") for name, predicted in predictions.items()]
    return [panels[i:i + per_row] for i in range(0, len(panels), per_row)]
