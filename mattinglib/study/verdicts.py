"""A notebook's verdicts: its claims, each behind its reference arm's competence gate, and the gates' table.

Every network notebook ends the same way: on one evaluation set and protocol it claims "arm A
beats arm B" or "arm A comes within 15 % of arm B", and each claim is tested only where B is a
working matting network (:func:`mattinglib.study.findings.gate_for`). A notebook says *what* it
claims as a list of :class:`Comparison` (made with :func:`beats` and :func:`comes_within`);
:func:`gated_claims` turns them into claims of the one schema (:mod:`mattinglib.study.claims`),
:func:`gate_table` tabulates the gates behind them and :func:`claims_frame` is what a notebook
shows of them.

The statistics and the statuses are :mod:`mattinglib.study.findings`'; nothing here computes a
number of its own.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import pandas as pd

from .findings import claim_better, claim_interaction, claim_within, gate_for, select

#: The kinds of claim: "better" (a lower error), "within" (non-inferiority, the paper's 15 %) and
#: "interaction" (a relative difference that is lower under one condition than another).
KINDS = ("better", "within", "interaction")
#: The columns of a claim a notebook shows under its findings.
SHOWN_COLUMNS = ("claim", "status", "effect", "ci_low", "ci_high", "n_seeds", "n_images")


class Comparison(NamedTuple):
    """One claim to test: ``candidate`` against ``reference``, in words.

    Attributes
    ----------
    kind : {"better", "within"}
        "better": the candidate's error is lower (:func:`~mattinglib.study.findings.claim_better`);
        "within": it is at most 15 % higher (:func:`~mattinglib.study.findings.claim_within`).
    candidate, reference : str
        Arms (values of the scores' ``variant`` column); the reference is the gated one.
    claim : str
        The claim, one sentence (the claims table and ``results/README.md`` show it).
    """

    kind: str
    candidate: str
    reference: str
    claim: str


def beats(candidate: str, reference: str, claim: str) -> Comparison:
    """The claim "``candidate``'s error is lower than ``reference``'s"."""
    return Comparison("better", candidate, reference, claim)


def comes_within(candidate: str, reference: str, claim: str) -> Comparison:
    """The claim "``candidate``'s error is within 15 % of ``reference``'s" (the paper's "comparable")."""
    return Comparison("within", candidate, reference, claim)


class Interaction(NamedTuple):
    """One claim about two conditions: ``candidate / reference - 1`` is lower under the first.

    Attributes
    ----------
    kind : str
        "interaction" (:func:`~mattinglib.study.findings.claim_interaction`).
    with_pair, without_pair : (str, str)
        ``(candidate, reference)`` arms under each condition; the gate is the first pair's
        reference's.
    claim : str
    """

    kind: str
    with_pair: tuple[str, str]
    without_pair: tuple[str, str]
    claim: str


def gap_shrinks(with_pair: tuple[str, str], without_pair: tuple[str, str], claim: str) -> Interaction:
    """The claim "``with_pair``'s relative difference is lower than ``without_pair``'s" (a gap that
    shrinks, or a gain that grows, under the first pair's condition)."""
    return Interaction("interaction", tuple(with_pair), tuple(without_pair), claim)


def gated_claims(per_image: pd.DataFrame, eval_set: str, comparisons: Sequence[Comparison], *, profile: str,
                 real: bool, protocol: str = "whole", paired_on: pd.DataFrame | None = None) -> list[dict]:
    """Test every comparison on one evaluation set and protocol, each behind its reference's gate.

    Parameters
    ----------
    per_image : DataFrame
        One row per (variant, seed, eval set, protocol, image) of the networks and the baselines
        (``"trimap as alpha"``, and ``"closed-form"`` on a ``real`` set), with columns
        ``variant``, ``seed``, ``image``, ``eval_set``, ``protocol`` and ``sad``: what the gates
        read and, unless ``paired_on`` is given, what the claims pair.
    eval_set : str
        The set the claims are about.
    comparisons : sequence of Comparison or Interaction
        In the order the claims are listed.
    profile : str
        Recorded in every claim.
    real : bool
        Whether ``eval_set`` holds real images: then the gate also asks the reference's
        unknown-region SAD to be within 1.5 x closed-form matting's.
    protocol : {"whole", "unknown"}
        Where SAD is measured, for the claims and for the gates.
    paired_on : DataFrame, optional
        Per-image rows the claims pair instead of ``per_image`` (e.g. an extra grid scored on
        this set only); the gates still read ``per_image``.

    Returns
    -------
    list of dict
        One claim per comparison (:func:`mattinglib.study.claims.make_claim`'s schema); a claim
        whose gate failed is ``not testable``.

    Raises
    ------
    ValueError
        An unknown kind, no rows of ``eval_set`` and ``protocol``, or an arm without scores.
    """
    unknown = [c.kind for c in comparisons if c.kind not in KINDS]
    if unknown:
        raise ValueError(f"comparison kinds {unknown} are not among {KINDS}")
    paired = select(per_image if paired_on is None else paired_on, eval_set=eval_set, protocol=protocol)
    claims = []
    for comparison in comparisons:
        if comparison.kind == "interaction":
            gate = gate_for(per_image, comparison.with_pair[1], eval_set, real=real, protocol=protocol)
            claims.append(claim_interaction(paired, comparison.with_pair, comparison.without_pair, comparison.claim,
                                            gate=gate, eval_set=eval_set, profile=profile, protocol=protocol))
            continue
        test = claim_better if comparison.kind == "better" else claim_within
        gate = gate_for(per_image, comparison.reference, eval_set, real=real, protocol=protocol)
        claims.append(test(paired, comparison.candidate, comparison.reference, claim=comparison.claim, gate=gate,
                           eval_set=eval_set, profile=profile, protocol=protocol))
    return claims


def gate_table(claims_by: Mapping[str, Sequence[dict]], key: str) -> pd.DataFrame:
    """The competence gate of each reference arm, once per group of claims.

    Parameters
    ----------
    claims_by : mapping of str to list of dict
        A group's name (an evaluation set, a protocol) -> its claims (:func:`gated_claims`).
    key : str
        The name of the groups' column (``"eval_set"``, ``"protocol"``).

    Returns
    -------
    DataFrame
        One row per (group, reference) in the order first met: ``key``, ``reference``,
        ``passed``, then the gate's numbers (the reference's and its controls' mean errors; on
        real images also the unknown-region SADs it is held to), empty where a gate has no such
        number.
    """
    rows = [{key: group, "reference": claim["reference"], "passed": claim["gate"]["passed"], **claim["gate"]["numbers"]}
            for group, claims in claims_by.items() for claim in claims]
    return pd.DataFrame(rows).drop_duplicates([key, "reference"])


def claims_frame(claims: Sequence[dict]) -> pd.DataFrame:
    """The claims as a table of :data:`SHOWN_COLUMNS`: what a notebook shows under its findings."""
    return pd.DataFrame(claims)[list(SHOWN_COLUMNS)]
