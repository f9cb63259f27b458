"""Turning score tables into claims: the comparisons each notebook's headline rests on.

Every status in ``results/`` is computed here from the notebook's own numbers (never typed),
with the same rules in every notebook (all metrics are errors: lower is better):

:func:`mean_by`
    the mean of a metric per setting, over the rows of one evaluation set and protocol;
:func:`close_and_better`
    a candidate comes within ``(1 + tolerance)`` times a reference's mean *and* beats rivals;
:func:`beats`
    a candidate's mean is lower than each other's;
:func:`near_best`
    a default setting is within one seed standard deviation of the best setting.

These compare means only; each returns a claim dict for :func:`mattinglib.study.claims.write_claims`.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

#: The paper's bar for "comparable to fine labels": within 15 % of the fine-label error.
CLOSE_TOLERANCE = 0.15


def mean_by(scores: pd.DataFrame, by: str, metric: str = "sad", **where) -> pd.Series:
    """Mean of ``metric`` per value of ``by`` over the rows matching ``where`` (column = value).

    Parameters
    ----------
    scores : DataFrame
        One row per run and evaluation (e.g. the output of :func:`mattinglib.study.grid.run_grid`).
    by : str
        Column whose values index the result (e.g. "variant").
    where : column = value
        Row filter, e.g. ``protocol="whole", eval_set="synthetic"``.

    Raises
    ------
    ValueError
        No row matches ``where``.
    """
    rows = scores
    for column, value in where.items():
        rows = rows[rows[column] == value]
    if rows.empty:
        raise ValueError(f"no scores with {where} (columns: {list(scores.columns)})")
    return rows.groupby(by, sort=False)[metric].mean()


def close_and_better(means: pd.Series, candidate: str, reference: str, rivals: Sequence[str],
                     claim: str, context: str, tolerance: float = CLOSE_TOLERANCE,
                     metric: str = "SAD") -> dict:
    """Claim that ``candidate`` comes within ``tolerance`` of ``reference`` and beats ``rivals``.

    Status: "reproduced" when both hold, "partially reproduced" when one does, else "not
    reproduced"; with no ``rivals`` only closeness counts. The finding lists every mean in
    ``means`` with ``context`` (seeds, profile).
    """
    close = means[candidate] <= (1 + tolerance) * means[reference]
    better = all(means[candidate] < means[rival] for rival in rivals) if rivals else close
    ratio = means[candidate] / means[reference]
    listed = ", ".join(f"{name} {value:.3f}" for name, value in means.items())
    return {
        "claim": claim,
        "finding": f"{metric}: {listed}; {candidate} / {reference} = {ratio:.2f} ({context}).",
        "status": "reproduced" if close and better else ("partially reproduced" if close or better
                                                         else "not reproduced"),
    }


def beats(means: pd.Series, candidate: str, others: Sequence[str], claim: str, context: str,
          metric: str = "SAD") -> dict:
    """Claim that ``candidate`` has a lower mean than each of ``others``.

    Status: "reproduced" when it beats all of them, "partially reproduced" when some, else
    "not reproduced".
    """
    won = [other for other in others if means[candidate] < means[other]]
    listed = ", ".join(f"{name} {means[name]:.3f}" for name in [candidate, *others])
    status = ("reproduced" if len(won) == len(others) else
              "partially reproduced" if won else "not reproduced")
    return {"claim": claim, "finding": f"{metric}: {listed} ({context}).", "status": status}


def near_best(scores: pd.DataFrame, by: str, default, claim: str, context: str, metric: str = "sad") -> dict:
    """Claim that the ``default`` setting of ``by`` is as good as the best one, up to seed noise.

    "reproduced" when the default's mean is within one standard deviation over seeds (of the
    best setting) of the best mean; "not reproduced" otherwise. ``scores`` has one row per
    (setting, seed).
    """
    stats = scores.groupby(by)[metric].agg(["mean", "std"])
    best = stats["mean"].idxmin()
    noise = 0.0 if pd.isna(stats.loc[best, "std"]) else float(stats.loc[best, "std"])
    ok = stats.loc[default, "mean"] <= stats.loc[best, "mean"] + noise
    listed = ", ".join(f"{index}: {row['mean']:.3f}" for index, row in stats.iterrows())
    return {
        "claim": claim,
        "finding": f"mean {metric.upper()} by {by}: {listed}; best {best}, default {default} ({context}).",
        "status": "reproduced" if ok else "not reproduced",
    }
