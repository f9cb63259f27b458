"""Prose that cannot drift from the tables: every number a reading quotes is checked.

A notebook's "Reading the numbers" is written by a person after a run; the tables are
recomputed on every run. :func:`show_reading` renders such a text as Markdown *and* checks it:
each number it quotes must be found in the tables it names, within the rounding it was
quoted with, or the cell fails, naming the numbers. So a rerun that changes a table fails
until the reading is rewritten, instead of leaving prose that says something else.

What counts as a quoted number: a decimal with a point (``1.09``, ``-0.8``, ``0.073``) and a
number followed by ``%`` (``+6 %``, ``22%``, ``-3.5 %``). Integers without ``%`` are counts and
settings (``3 seeds``, ``600 steps``, ``K = 11``) and are not checked. A percentage matches a
table value ``v`` as ``100 v`` (effects are stored as fractions) or as ``v``. Numbers inside
the table's strings (``"1.093 ± 0.02 (3)"``) count as table values. Signs are ignored (a
reading may say "6 % lower" of an effect of -0.06).
"""
from __future__ import annotations

import math
import numbers
import re

import numpy as np
import pandas as pd

_QUOTED = re.compile(r"(?<![\w.])[+\-−]?(\d+(?:\.\d+)?)\s*(%)|(?<![\w.])[+\-−]?(\d+\.\d+)(?![\w.]*\d)")
_IN_TEXT = re.compile(r"[+\-]?\d+(?:\.\d+)?(?:[eE][+\-]?\d+)?")


def quoted_numbers(text: str) -> list[tuple[str, float, int, bool]]:
    """The numbers ``text`` quotes: ``(as written, value, decimals, is a percentage)``."""
    found = []
    for match in _QUOTED.finditer(text):
        digits, percent = (match.group(1), True) if match.group(2) else (match.group(3), False)
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        found.append((match.group(0).strip(), float(digits), decimals, percent))
    return found


def table_values(*sources) -> np.ndarray:
    """Every number of ``sources`` (DataFrames, Series, dicts, lists, scalars, strings), as absolute values."""
    values: list[float] = []

    def add(item) -> None:
        if isinstance(item, pd.DataFrame):
            for column in item.columns:
                add(item[column].tolist())
        elif isinstance(item, pd.Series):
            add(item.tolist())
        elif isinstance(item, dict):
            add(list(item.values()))
        elif isinstance(item, (list, tuple, np.ndarray)):
            for element in item:
                add(element)
        elif isinstance(item, str):
            values.extend(float(x) for x in _IN_TEXT.findall(item))
        elif isinstance(item, numbers.Real) and not isinstance(item, bool) and math.isfinite(float(item)):
            values.append(float(item))

    for source in sources:
        add(source)
    return np.abs(np.asarray(values, dtype=np.float64))


def unmatched_numbers(text: str, *sources) -> list[str]:
    """The numbers quoted in ``text`` that no value of ``sources`` rounds to (empty: all found)."""
    values = table_values(*sources)
    missing = []
    for written, value, decimals, percent in quoted_numbers(text):
        half_unit = 0.5 * 10.0 ** -decimals + 1e-9
        candidates = np.concatenate([values, 100 * values]) if percent else values
        if not np.any(np.abs(candidates - value) <= half_unit):
            missing.append(written)
    return missing


def show_reading(text: str, *sources, where: str = "the reading", profile: str | None = None,
                 written_for: str | None = None) -> None:
    """Render ``text`` as Markdown in the notebook after checking every number it quotes.

    Parameters
    ----------
    text : str
        The reading (Markdown).
    sources
        The tables it was written from (DataFrames, Series, dicts, numbers).
    profile, written_for : str, optional
        The profile running now and the one the reading was written for: at another profile
        (a smoke test, a GPU run) the numbers are not checked and a line above the text says so.

    Raises
    ------
    ValueError
        Some quoted numbers are in none of ``sources`` (listed): the tables changed, so the
        reading must be rewritten from them.
    """
    from IPython.display import Markdown, display

    if written_for is not None and profile != written_for:
        display(Markdown(f"*This reading was written for the `{written_for}` profile's results; at `{profile}` its "
                         "numbers are not those of the tables above.*\n\n" + text))
        return
    missing = unmatched_numbers(text, *sources)
    if missing:
        raise ValueError(f"{where} quotes numbers that are not in its tables (within their rounding): "
                         f"{', '.join(missing)}; rewrite it from the tables of this run")
    display(Markdown(text))

