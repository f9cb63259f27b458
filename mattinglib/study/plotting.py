"""Figures for the study notebooks: one style, reproducible files, image grids, metric curves.

:func:`save_figure` writes a PNG (150 dpi) and a PDF whose bytes depend only on the figure:
the creation date and the software version that matplotlib would otherwise embed are left
out, so rerunning an unchanged notebook does not change the committed figures.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from mattinglib.atomic import atomic_path

#: Resolution of the PNG files, in dots per inch.
PNG_DPI = 150

#: Colours of the three trimap levels: background (0), unknown (1/2), foreground (1).
TRIMAP_CMAP = ListedColormap(["#1f3b73", "#9e9e9e", "#f2d43d"], name="trimap")

#: Kinds of panel :func:`show_images` knows how to draw.
IMAGE_KINDS = ("image", "alpha", "trimap", "error")


def use_style(context: str = "notebook") -> None:
    """Apply the study's figure style: seaborn ``whitegrid`` with the given context.

    Parameters
    ----------
    context : {"paper", "notebook", "talk", "poster"}, default "notebook"
        Seaborn's scaling of fonts and lines.
    """
    import seaborn as sns  # imported here: it takes seconds and only figures need it

    sns.set_theme(context=context, style="whitegrid", palette="colorblind")
    matplotlib.rcParams.update({
        "figure.dpi": 100,
        "savefig.bbox": "tight",
        "image.interpolation": "nearest",  # show pixels as they are; mattes are compared pixel by pixel
        "axes.titlesize": "medium",
    })


def _with_suffix(path_without_suffix: str | os.PathLike, suffix: str) -> Path:
    path = Path(path_without_suffix)
    if path.name.lower().endswith((".png", ".pdf")):
        raise ValueError(f"{path}: give the path without a suffix; .png and .pdf are added")
    # Appended, not Path.with_suffix: "loss_w0.5" must become "loss_w0.5.png".
    return path.with_name(path.name + suffix)


def save_figure(fig: matplotlib.figure.Figure, path_without_suffix: str | os.PathLike,
                close: bool = False) -> list[Path]:
    """Save ``fig`` as ``<path>.png`` (150 dpi) and ``<path>.pdf``, each atomically.

    Parameters
    ----------
    fig : matplotlib Figure
    path_without_suffix : str or PathLike
        E.g. ``results/10_fine_vs_trimap/sad_vs_steps``; the folder is created if missing.
    close : bool, default False
        Close the figure after saving (it stays open by default so that the notebook shows it).

    Returns
    -------
    list of Path
        ``[png_path, pdf_path]``.

    Notes
    -----
    The files carry no creation date and no software version, so two saves of the same
    figure give identical bytes.
    """
    if not isinstance(fig, matplotlib.figure.Figure):
        raise TypeError(f"save_figure needs a matplotlib Figure, got {type(fig).__name__}")
    written = []
    for suffix, metadata in ((".png", {"Software": None}),
                             (".pdf", {"CreationDate": None, "Producer": None, "Creator": None})):
        path = _with_suffix(path_without_suffix, suffix)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=suffix[1:], dpi=PNG_DPI, metadata=metadata, bbox_inches="tight")
        written.append(path)
    if close:
        plt.close(fig)
    return written


def _to_hwc(array, title: str) -> np.ndarray:
    """Bring an image-like array or tensor to (H, W) or (H, W, 3) float64 numpy."""
    if hasattr(array, "detach"):  # a torch tensor; torch itself is not imported here
        array = array.detach().cpu().numpy()
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]  # a batch of one
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[2] not in (1, 3):
        array = np.moveaxis(array, 0, -1)  # channel-first (C, H, W) -> (H, W, C)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3):
        return array
    raise ValueError(f"show_images: panel {title!r} has shape {array.shape}; expected (H, W), (H, W, 3), "
                     "(3, H, W), (1, H, W) or a batch of one of these")


def _infer_kind(array: np.ndarray) -> str:
    if array.ndim == 3:
        return "image"
    finite = array[np.isfinite(array)]
    if finite.size and np.any(finite == 0.5) and np.all(np.isin(finite, (0.0, 0.5, 1.0))):
        return "trimap"
    if finite.size and finite.min() < 0:
        return "error"
    return "alpha"


def show_images(rows: Sequence[Sequence[tuple]], panel_size: float = 2.4,
                suptitle: str | None = None) -> matplotlib.figure.Figure:
    """Draw a grid of images, alpha mattes, trimaps and error maps.

    Parameters
    ----------
    rows : sequence of rows, each a sequence of ``(title, array)`` or ``(title, array, kind)``
        One row of panels per entry; rows may differ in length. ``array`` is a numpy array or
        a torch tensor of shape (H, W), (H, W, 3), (3, H, W) or (1, H, W) (a leading batch
        axis of 1 is dropped), values in [0, 1] except for errors. ``kind`` picks the colour
        map:

        - ``"image"``: RGB (clipped to [0, 1]);
        - ``"alpha"``: grey, 0 black to 1 white;
        - ``"trimap"``: three colours, background / unknown / foreground (:data:`TRIMAP_CMAP`);
        - ``"error"``: signed difference (e.g. prediction - truth), blue-white-red, symmetric
          around 0 with a colour bar.

        Without ``kind``: 3 channels -> image; only values {0, 1/2, 1} with some 1/2 ->
        trimap; negative values -> error; otherwise alpha.
    panel_size : float, default 2.4
        Height of one panel in inches; widths follow the aspect ratio of the first image.
    suptitle : str, optional
        A title over the whole grid.

    Returns
    -------
    matplotlib Figure
    """
    rows = [list(row) for row in rows]
    if not rows or not any(rows):
        raise ValueError("show_images: no panels given")
    panels = []
    for r, row in enumerate(rows):
        for c, item in enumerate(row):
            if len(item) not in (2, 3):
                raise ValueError(f"show_images: row {r}, panel {c} must be (title, array) or "
                                 f"(title, array, kind); got {len(item)} items")
            title, array = item[0], _to_hwc(item[1], str(item[0]))
            kind = item[2] if len(item) == 3 else _infer_kind(array)
            if kind not in IMAGE_KINDS:
                raise ValueError(f"show_images: panel {title!r} has kind {kind!r}; expected one of {IMAGE_KINDS}")
            if kind == "image" and array.ndim != 3:
                raise ValueError(f"show_images: panel {title!r} is an 'image' but has one channel")
            if kind != "image" and array.ndim != 2:
                raise ValueError(f"show_images: panel {title!r} is {kind!r} but has 3 channels")
            panels.append((r, c, str(title), array, kind))

    n_rows, n_cols = len(rows), max(len(row) for row in rows)
    height, width = panels[0][3].shape[:2]
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False,
                             figsize=(n_cols * panel_size * width / height, n_rows * panel_size + 0.3))
    for ax in axes.flat:
        ax.set_axis_off()
    for r, c, title, array, kind in panels:
        ax = axes[r, c]
        if kind == "image":
            ax.imshow(np.clip(array, 0.0, 1.0), interpolation="nearest")
        elif kind == "alpha":
            ax.imshow(array, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        elif kind == "trimap":
            ax.imshow(array, cmap=TRIMAP_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
        else:
            limit = float(np.nanmax(np.abs(array))) if np.isfinite(array).any() else 1.0
            limit = limit if limit > 0 else 1.0
            shown = ax.imshow(array, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.02)
        ax.set_title(title)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_metric_vs(df: pd.DataFrame, x: str, y: str, hue: str | None = None, spread: str = "std",
                   ax: matplotlib.axes.Axes | None = None, logx: bool = False) -> matplotlib.axes.Axes:
    """Plot the mean of a metric against a setting, one line per ``hue``, with a spread over seeds.

    Parameters
    ----------
    df : DataFrame
        One row per run (e.g. per method, setting and seed) with columns ``x``, ``y`` and
        ``hue``; rows sharing (``hue``, ``x``) are the repeats (seeds) that are summarised.
    x : str
        The setting on the horizontal axis. Numeric values are placed by value; other values
        are placed evenly in the order they first appear.
    y : str
        The numeric metric (e.g. ``"sad"``). NaN values are left out.
    hue : str, optional
        Column whose values get one line each.
    spread : {"std", "minmax"}, default "std"
        Error bars: the sample standard deviation (``ddof=1``) around the mean, or the
        minimum and maximum over the repeats. The choice and the number of repeats are
        written in the y-axis label, so a reader of the figure knows what the bars mean.
    ax : matplotlib Axes, optional
        Axes to draw into; a new figure is made if omitted.
    logx : bool, default False
        Logarithmic horizontal axis (for weights or learning rates).

    Returns
    -------
    matplotlib Axes
    """
    if spread not in ("std", "minmax"):
        raise ValueError(f"plot_metric_vs: spread must be 'std' or 'minmax', got {spread!r}")
    columns = [x, y] + ([hue] if hue else [])
    missing = [column for column in columns if column not in df.columns]
    if missing:
        raise ValueError(f"plot_metric_vs: columns {missing} are not in the table (it has {list(df.columns)})")
    if not pd.api.types.is_numeric_dtype(df[y]):
        raise ValueError(f"plot_metric_vs: metric column {y!r} is not numeric")
    data = df[columns].dropna(subset=[y])
    if data.empty:
        raise ValueError(f"plot_metric_vs: no non-missing values of {y!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 3.5))

    numeric_x = pd.api.types.is_numeric_dtype(data[x])
    categories = list(dict.fromkeys(data[x]))  # first-appearance order
    position = (lambda value: value) if numeric_x else categories.index

    groups = data.groupby(hue, sort=False) if hue else [(None, data)]
    counts = []
    for label, group in groups:
        label = label[0] if isinstance(label, tuple) else label
        stats = group.groupby(x, sort=numeric_x)[y].agg(["mean", "std", "min", "max", "count"])
        positions = np.array([position(value) for value in stats.index], dtype=np.float64)
        means = stats["mean"].to_numpy()
        if spread == "std":
            # A single repeat has no standard deviation: draw no bar rather than a zero bar.
            half = stats["std"].fillna(0.0).to_numpy()
            errors = np.vstack([half, half])
        else:
            errors = np.vstack([means - stats["min"].to_numpy(), stats["max"].to_numpy() - means])
        ax.errorbar(positions, means, yerr=errors, marker="o", capsize=3,
                    label=None if label is None else str(label))
        counts.extend(stats["count"].tolist())

    if not numeric_x:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
    if logx:
        ax.set_xscale("log")
    n_low, n_high = min(counts), max(counts)
    n_text = f"n = {n_low}" if n_low == n_high else f"n = {n_low}-{n_high}"
    bars = "± std" if spread == "std" else "min-max"
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (mean, bars {bars}, {n_text})")
    if hue:
        ax.legend(title=hue)
    return ax
