"""From score tables to claims: paired comparisons, behind a competence gate.

Every status in ``results/`` is computed here, with the same rules in every notebook (all
metrics are errors: lower is better):

:func:`competence_gate`
    whether a claim's reference arm is a working matting network on the evaluation set: it
    beats trimap-as-alpha and the known-only arm there, and, on real images where a classical
    matte exists, its unknown-region SAD is within :data:`CLASSICAL_FACTOR` x closed-form
    matting's. A claim whose gate fails is ``not testable``: comparing with a reference that
    does not matte says nothing about the paper's claim.
:func:`claim_better`
    "the candidate's error is lower than the reference's" (by at least ``margin``);
:func:`claim_within`
    "the candidate's error is within ``tolerance`` (the paper's 15 %) of the reference's", a
    non-inferiority test on the interval's upper end;
:func:`mean_by`
    the mean of a metric per arm over the rows of one evaluation set and protocol.

The comparisons are paired by seed and image (:mod:`mattinglib.study.statistics`); every
finding says its numbers, interval, seeds and images.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from .claims import make_claim
from .statistics import paired_difference, paired_interaction, status_better, status_within

#: The paper's bar for "comparable to fine labels": within 15 % of the fine-label error.
CLOSE_TOLERANCE = 0.15
#: A working network's unknown-region SAD is at most this multiple of closed-form matting's.
CLASSICAL_FACTOR = 1.5


def mean_by(scores: pd.DataFrame, by: str, metric: str = "sad", **where) -> pd.Series:
    """Mean of ``metric`` per value of ``by`` over the rows matching ``where`` (column = value).

    Parameters
    ----------
    scores : DataFrame
        One row per run (or image) and evaluation (e.g. from :func:`mattinglib.study.grid.run_grid`).
    by : str
        Column whose values index the result (e.g. "variant").
    where : column = value
        Row filter, e.g. ``protocol="whole", eval_set="synthetic"``.

    Raises
    ------
    ValueError
        No row matches ``where``.
    """
    rows = select(scores, **where)
    return rows.groupby(by, sort=False)[metric].mean()


def select(scores: pd.DataFrame, **where) -> pd.DataFrame:
    """The rows of ``scores`` matching every ``column = value`` of ``where`` (ValueError if none)."""
    rows = scores
    for column, value in where.items():
        rows = rows[rows[column] == value]
    if rows.empty:
        raise ValueError(f"no scores with {where} (columns: {list(scores.columns)})")
    return rows


def competence_gate(means: Mapping[str, float], reference: str, controls: Sequence[str] = ("trimap as alpha", "known"),
                    unknown_sad: Mapping[str, float] | None = None, classical: str = "closed-form",
                    metric: str = "SAD") -> dict:
    """Whether ``reference`` is a working matting network where it is compared.

    Parameters
    ----------
    means : mapping
        Arm -> mean error on the claim's set and protocol; holds ``reference`` and ``controls``.
    reference : str
    controls : sequence of str
        Arms the reference must beat (lower mean): trimap-as-alpha and known-only. The reference
        itself is skipped when listed.
    unknown_sad : mapping, optional
        Arm -> mean unknown-region SAD on the same set, with ``reference`` and ``classical``:
        given on real images, where the reference must stay within
        :data:`CLASSICAL_FACTOR` x the classical matte's SAD.

    Returns
    -------
    dict
        ``{"passed": bool, "rule": str, "numbers": {...}}`` for the claim's ``gate``.
    """
    controls = [c for c in controls if c != reference]
    numbers = {reference: float(means[reference])} | {c: float(means[c]) for c in controls}
    passed = all(means[reference] < means[c] for c in controls)
    rule = f"{reference} must have a lower {metric} than {' and '.join(controls)}"
    if unknown_sad is not None:
        limit = CLASSICAL_FACTOR * unknown_sad[classical]
        numbers |= {f"{reference} (unknown-region SAD)": float(unknown_sad[reference]),
                    f"{classical} (unknown-region SAD)": float(unknown_sad[classical])}
        passed = passed and unknown_sad[reference] <= limit
        rule += f", and an unknown-region SAD within {CLASSICAL_FACTOR:g} x {classical}'s"
    return {"passed": bool(passed), "rule": rule, "numbers": numbers}


def _gate_text(gate: dict) -> str:
    numbers = ", ".join(f"{name} {value:.4g}" for name, value in gate["numbers"].items())
    return f"gate {'passed' if gate['passed'] else 'FAILED'} ({gate['rule']}: {numbers})"


def _paired_claim(kind: str, scores: pd.DataFrame, candidate: str, reference: str, claim: str, *, eval_set: str,
                  profile: str, gate: dict, metric: str, margin: float, resample: str, protocol: str) -> dict:
    difference = paired_difference(scores, candidate, reference, metric=metric, resample=resample)
    if gate["passed"] is False:
        status = "not testable"
    elif kind == "better":
        status = status_better(difference, margin)
    else:
        status = status_within(difference, margin)
    bar = (f"claimed: {margin:.0%} or more lower" if kind == "better" and margin else
           "claimed: lower" if kind == "better" else f"claimed: at most {margin:.0%} higher")
    finding = f"{protocol} {difference.describe()} ({bar}); {_gate_text(gate) if gate['passed'] is not None else gate['rule']}."
    return make_claim(claim, status, finding, metric=f"{protocol} {metric}", candidate=candidate, reference=reference,
                      eval_set=eval_set, profile=profile, gate=gate, effect=difference.effect,
                      ci_low=difference.ci_low, ci_high=difference.ci_high, n_seeds=difference.n_seeds,
                      n_images=difference.n_images)


def claim_better(scores: pd.DataFrame, candidate: str, reference: str, claim: str, *, eval_set: str, profile: str,
                 gate: dict, metric: str = "sad", margin: float = 0.0, resample: str = "images",
                 protocol: str = "whole") -> dict:
    """Claim "``candidate`` has a lower ``metric`` than ``reference``", paired by seed and image.

    ``scores``: per-image rows of one evaluation set and protocol (column ``variant``).
    Status: ``not testable`` when ``gate`` failed, else :func:`~mattinglib.study.statistics.status_better`.
    """
    return _paired_claim("better", scores, candidate, reference, claim, eval_set=eval_set, profile=profile,
                         gate=gate, metric=metric, margin=margin, resample=resample, protocol=protocol)


def claim_within(scores: pd.DataFrame, candidate: str, reference: str, claim: str, *, eval_set: str, profile: str,
                 gate: dict, metric: str = "sad", tolerance: float = CLOSE_TOLERANCE, resample: str = "images",
                 protocol: str = "whole") -> dict:
    """Claim "``candidate``'s ``metric`` is within ``tolerance`` of ``reference``'s" (non-inferiority).

    Status: ``not testable`` when ``gate`` failed, else :func:`~mattinglib.study.statistics.status_within`.
    """
    return _paired_claim("within", scores, candidate, reference, claim, eval_set=eval_set, profile=profile,
                         gate=gate, metric=metric, margin=tolerance, resample=resample, protocol=protocol)


def claim_interaction(scores: pd.DataFrame, with_pair: tuple[str, str], without_pair: tuple[str, str], claim: str, *,
                      eval_set: str, profile: str, gate: dict, metric: str = "sad", protocol: str = "whole") -> dict:
    """Claim "``candidate / reference - 1`` is lower under the first condition than under the second".

    E.g. known + DDC's distance to fine labels shrinks with a pretrained encoder:
    ``with_pair = ("known+ddc", "fine")``, ``without_pair = ("scratch known+ddc", "scratch fine")``
    (:func:`~mattinglib.study.statistics.paired_interaction`). Status as for :func:`claim_better`
    on the change (reproduced when its whole interval lies below 0); ``not testable`` when
    ``gate`` (the first condition's reference) failed. The claim's ``candidate`` names the two
    pairs (``"a / b vs c / d"``), its ``reference`` the gated arm (``b``), as in every claim.
    """
    interaction = paired_interaction(scores, with_pair, without_pair, metric=metric)
    status = "not testable" if gate["passed"] is False else status_better(interaction)
    finding = (f"{protocol} {interaction.describe()} (claimed: lower with the first pair's condition); "
               f"{_gate_text(gate) if gate['passed'] is not None else gate['rule']}.")
    return make_claim(claim, status, finding, metric=f"{protocol} {metric}",
                      candidate=f"{' / '.join(with_pair)} vs {' / '.join(without_pair)}", reference=with_pair[1],
                      eval_set=eval_set, profile=profile, gate=gate,
                      effect=interaction.effect, ci_low=interaction.ci_low, ci_high=interaction.ci_high,
                      n_seeds=interaction.n_seeds, n_images=interaction.n_images)


def gate_for(per_image: pd.DataFrame, reference: str, eval_set: str, *, real: bool, metric: str = "sad",
             protocol: str = "whole", controls: Sequence[str] = ("trimap as alpha", "known")) -> dict:
    """:func:`competence_gate` of ``reference`` on ``eval_set``, from per-image scores.

    ``per_image`` holds the networks' rows and the baselines' (``"trimap as alpha"``,
    ``"closed-form"``, :func:`mattinglib.study.grid.score_baselines`), both protocols. On a
    ``real`` set the classical-matte condition (unknown-region SAD) applies too.
    """
    means = mean_by(per_image, "variant", metric, protocol=protocol, eval_set=eval_set)
    unknown = mean_by(per_image, "variant", "sad", protocol="unknown", eval_set=eval_set) if real else None
    return competence_gate(means, reference, controls, unknown_sad=unknown, metric=f"{protocol} {metric.upper()}")
