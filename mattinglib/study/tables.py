"""Result tables: CSV for machines, Markdown for people, and "mean ± std (n)" summaries.

Every study notebook writes its tables with :func:`write_table`, which gives two files side
by side: ``<name>.csv`` (full precision, the data) and ``<name>.md`` (rounded, for
``results/README.md`` and for reading on GitHub). The Markdown is written here rather than
with ``pandas.DataFrame.to_markdown`` because that needs ``tabulate``, which the project does
not depend on.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from mattinglib.atomic import atomic_path, atomic_write_text

#: Default number format of the Markdown table: four significant digits.
DEFAULT_FLOAT_FORMAT = ".4g"


def _with_suffix(path_without_suffix: str | os.PathLike, suffix: str) -> Path:
    """``results/x/sad_lr0.5`` + ``.csv`` -> ``results/x/sad_lr0.5.csv``.

    ``Path.with_suffix`` would replace ``.5`` here, so the suffix is appended to the name.
    """
    path = Path(path_without_suffix)
    if path.name.lower().endswith((".csv", ".md")):
        raise ValueError(f"{path}: give the path without a suffix; .csv and .md are added")
    return path.with_name(path.name + suffix)


def _format_cell(value, float_format: str | Callable[[float], str]) -> str:
    """Render one table cell as Markdown text.

    Floats use ``float_format``; missing values (None, NaN, NaT) become an empty cell; a pipe
    is escaped and line breaks become spaces so that a cell cannot break the table layout.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        text = str(bool(value))
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return ""
        text = float_format(value) if callable(float_format) else format(value, float_format)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\r\n", " ").replace("\n", " ")


def to_markdown(df: pd.DataFrame, float_format: str | Callable[[float], str] = DEFAULT_FLOAT_FORMAT,
                index: bool = False) -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table.

    Parameters
    ----------
    df : DataFrame
        Any columns; numeric columns are right-aligned, the others left-aligned.
    float_format : str or callable, default ``".4g"``
        A format spec for :func:`format` (e.g. ``".3f"``, ``".4g"``) or a function
        ``float -> str``, applied to every float cell. Integers are written exactly.
    index : bool, default False
        Write the index as the first column(s).

    Returns
    -------
    str
        The table, one line per row, ending with a newline.
    """
    if index:
        df = df.reset_index()
    if df.columns.nlevels > 1:
        # A MultiIndex header (e.g. from .agg) flattens to "sad mean" style names.
        df = df.copy()
        df.columns = [" ".join(str(part) for part in col if str(part)) for col in df.columns]
    if df.columns.duplicated().any():
        duplicates = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ValueError(f"table has duplicate column names {duplicates}; rename them first")
    header = [_format_cell(str(column), float_format) for column in df.columns]
    numeric = [pd.api.types.is_numeric_dtype(df[column]) and not pd.api.types.is_bool_dtype(df[column])
               for column in df.columns]
    rule = ["---:" if is_number else ":---" for is_number in numeric]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    for row in df.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_format_cell(value, float_format) for value in row) + " |")
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, path_without_suffix: str | os.PathLike,
                float_format: str | Callable[[float], str] = DEFAULT_FLOAT_FORMAT,
                caption: str | None = None, index: bool = False) -> tuple[Path, Path]:
    """Write a table as ``<path>.csv`` and ``<path>.md``, each atomically.

    Parameters
    ----------
    df : DataFrame
        The table. Column names must be unique.
    path_without_suffix : str or PathLike
        E.g. ``results/10_fine_vs_trimap/sad``; the folder is created if missing.
    float_format : str or callable, default ``".4g"``
        Number format of the Markdown file only (see :func:`to_markdown`). The CSV keeps full
        precision so that :func:`read_table` gives back the same numbers.
    caption : str, optional
        One paragraph written above the Markdown table (it is not part of the CSV).
    index : bool, default False
        Also write the index (as leading column(s)) to both files.

    Returns
    -------
    (csv_path, md_path) : tuple of Path
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"write_table needs a pandas DataFrame, got {type(df).__name__}")
    csv_path = _with_suffix(path_without_suffix, ".csv")
    md_path = _with_suffix(path_without_suffix, ".md")
    markdown = to_markdown(df, float_format=float_format, index=index)
    if caption:
        markdown = caption.strip() + "\n\n" + markdown
    with atomic_path(csv_path) as tmp:
        (df.reset_index() if index else df).to_csv(tmp, index=False, lineterminator="\n")
    atomic_write_text(md_path, markdown)
    return csv_path, md_path


def _parse_markdown_table(path: Path) -> pd.DataFrame:
    """Parse the first pipe table of a Markdown file; numeric-looking columns become numbers."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            # Split on pipes that are not escaped, then undo the escaping.
            cells, current, escaped = [], "", False
            for char in stripped[1:-1]:
                if escaped:
                    current += char if char == "|" else "\\" + char
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == "|":
                    cells.append(current.strip())
                    current = ""
                else:
                    current += char
            cells.append(current.strip() + ("\\" if escaped else ""))
            rows.append(cells)
        elif rows:
            break  # the table ended
    if len(rows) < 2 or not all(set(cell) <= set(":- ") and cell for cell in rows[1]):
        raise ValueError(f"{path}: no Markdown table (a header row, then a |---| rule) found")
    header, body = rows[0], rows[2:]
    for number, row in enumerate(body, start=3):
        if len(row) != len(header):
            raise ValueError(f"{path}: table row {number} has {len(row)} cells, the header has {len(header)}")
    table = pd.DataFrame(body, columns=header, dtype=object).replace("", np.nan)
    for column in table.columns:
        converted = pd.to_numeric(table[column], errors="coerce")
        # Only convert a column where every non-empty cell is a number.
        if converted.notna().sum() == table[column].notna().sum():
            table[column] = converted
    return table


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table`.

    Parameters
    ----------
    path : str or PathLike
        ``<name>.csv`` (the full-precision data), ``<name>.md`` (the rounded Markdown table,
        parsed back; columns whose cells are all numbers become numeric, empty cells NaN), or
        ``<name>`` without a suffix, which reads the CSV.

    Returns
    -------
    DataFrame

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        A ``.md`` file holds no Markdown table, or a row has the wrong number of cells.
    """
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".md"):
        path = _with_suffix(path, ".csv")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such table file")
    if path.suffix.lower() == ".md":
        return _parse_markdown_table(path)
    return pd.read_csv(path)


def mean_spread(df: pd.DataFrame, by: str | Sequence[str], metrics: str | Sequence[str],
                float_format: str = ".4g") -> pd.DataFrame:
    """Summarise metrics over seeds as ``"mean ± std (n)"`` strings, one row per group.

    Parameters
    ----------
    df : DataFrame
        One row per run (e.g. per method and seed), with the ``by`` and ``metrics`` columns.
    by : str or sequence of str
        Grouping columns (e.g. ``["method"]``); everything else, such as the seed, is
        averaged over. Groups keep the order of their first appearance.
    metrics : str or sequence of str
        Numeric columns to summarise. Missing values (NaN) are left out of the mean, the
        standard deviation and ``n``.
    float_format : str, default ``".4g"``
        Format spec of the mean and the standard deviation.

    Returns
    -------
    DataFrame
        The ``by`` columns, then one string column per metric, e.g. ``"0.1234 ± 0.0056 (3)"``:
        the mean, the sample standard deviation (``ddof=1``) and the number of values. With a
        single value the spread is unknown and the cell reads ``"0.1234 (1)"``; with none it
        is empty.
    """
    by = [by] if isinstance(by, str) else list(by)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    missing = [column for column in by + metrics if column not in df.columns]
    if missing:
        raise ValueError(f"mean_spread: columns {missing} are not in the table (it has {list(df.columns)})")
    not_numeric = [m for m in metrics if not pd.api.types.is_numeric_dtype(df[m])]
    if not_numeric:
        raise ValueError(f"mean_spread: metric columns {not_numeric} are not numeric")

    rows = []
    for keys, group in df.groupby(by, sort=False, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys))
        for metric in metrics:
            values = group[metric].dropna().to_numpy(dtype=np.float64)
            if len(values) == 0:
                row[metric] = ""
            elif len(values) == 1:
                row[metric] = f"{format(values[0], float_format)} (1)"
            else:
                mean, std = values.mean(), values.std(ddof=1)
                row[metric] = f"{format(mean, float_format)} ± {format(std, float_format)} ({len(values)})"
        rows.append(row)
    return pd.DataFrame(rows, columns=by + metrics)


#: What a grid's summary groups by: one row per evaluation set, protocol and arm.
SUMMARY_BY = ("eval_set", "protocol", "variant")


def write_score_tables(scores: pd.DataFrame, output_dir: str | os.PathLike, metrics: Sequence[str], caption: str,
                       classical: pd.DataFrame | None = None) -> pd.DataFrame:
    """Write a grid's two tables, ``scores_per_run`` and ``summary``, into ``output_dir``; return the summary.

    Parameters
    ----------
    scores : DataFrame
        One row per (variant, seed, eval set, protocol) with the run's mean metrics and its
        ``run_dir`` (:func:`mattinglib.study.grid.run_grid`); ``scores_per_run`` is this table
        without ``run_dir`` (a path of this machine).
    output_dir : str or PathLike
    metrics : sequence of str
        The numeric columns summarised (:func:`mean_spread`).
    caption : str
        The summary's caption (what the numbers are, their units).
    classical : DataFrame, optional
        Rows of methods without seeds (classical matting, trimap as alpha; the ``runs`` of
        :func:`mattinglib.study.grid.score_baselines`), summarised after the networks.

    Returns
    -------
    DataFrame
        The summary: :data:`SUMMARY_BY`, then one ``"mean ± std (n)"`` column per metric.
    """
    write_table(scores.drop(columns="run_dir"), Path(output_dir) / "scores_per_run")
    rows = scores if classical is None else pd.concat([scores, classical], ignore_index=True)
    summary = mean_spread(rows, by=list(SUMMARY_BY), metrics=metrics)
    write_table(summary, Path(output_dir) / "summary", caption=caption)
    return summary


def scene_table(per_image: pd.DataFrame, scene_names: dict[str, Sequence[str]], protocol: str = "unknown",
                reference: str = "closed-form", metric: str = "sad") -> pd.DataFrame:
    """Each method's error on each scene (networks: mean over their seeds), and its ratio to ``reference``'s.

    Parameters
    ----------
    per_image : DataFrame
        One row per (variant, seed, eval set, protocol, image), as notebooks gather them from
        :func:`mattinglib.study.grid.run_grid` and ``score_baselines``; ``image`` is the
        position of the scene in its set.
    scene_names : dict of str to sequence of str
        Evaluation set -> the names of its scenes, in order (a set's ``scene_names``).
    protocol : {"unknown", "whole"}
    reference : str
        The method each ratio is taken to (a variant of ``per_image``).

    Returns
    -------
    DataFrame
        One row per (eval set, scene): ``eval_set``, ``scene``, one column per variant, then
        ``<variant> / <reference>`` per variant other than the reference, in first-met order.
    """
    rows = per_image[(per_image["protocol"] == protocol) & per_image["eval_set"].isin(list(scene_names))]
    means = rows.groupby(["eval_set", "image", "variant"], sort=False)[metric].mean().unstack("variant")
    variants = list(dict.fromkeys(rows["variant"]))
    means = means[variants]
    ratios = means.drop(columns=reference).div(means[reference], axis=0).add_suffix(f" / {reference}")
    table = pd.concat([means, ratios], axis=1).reset_index()
    table.insert(1, "scene", [scene_names[s][int(i)] for s, i in zip(table["eval_set"], table["image"])])
    return table.drop(columns="image").rename_axis(columns=None)
