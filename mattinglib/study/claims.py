"""Claims: a notebook's headline findings, each marked against the paper; one schema.

A claim is one dict with exactly the keys :data:`CLAIM_KEYS`:

``claim``       what the paper (or we) claim, one sentence
``status``      one of :data:`STATUSES`, computed (:mod:`mattinglib.study.findings`), never typed
``finding``     one sentence with the numbers
``metric``      the error compared (e.g. ``"sad"``, whole-image or unknown-region: see ``finding``)
``candidate``   the arm the claim is about; ``reference`` the arm it is compared with
``effect``      ``mean(candidate) / mean(reference) - 1`` over the paired cells (None if not measured)
``ci_low``,     its 95 % bootstrap interval (None if not measured)
``ci_high``
``n_seeds``,    seeds and test images behind the numbers
``n_images``
``gate``        ``{"passed": True | False | None, "rule": str, "numbers": {name: value}}``: whether the
                reference arm is a working matting network there (None: no network to gate)
``eval_set``    the evaluation set; ``profile`` the profile that produced it

Statuses: ``reproduced`` (the interval lies on the claimed side), ``not reproduced`` (on the
other side), ``inconclusive`` (it straddles the margin), ``not testable`` (the gate failed,
or nothing could be measured here). A notebook writes ``claims.json`` with :func:`write_claims`;
the runner checks it with :func:`read_claims` and the overview reads every notebook's with
:func:`collect_claims`; all go through :func:`check_claims`, so what may be written and what
is accepted cannot differ.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from mattinglib.atomic import atomic_write_text

STATUSES = ("reproduced", "not reproduced", "inconclusive", "not testable")
CLAIM_KEYS = ("claim", "status", "finding", "metric", "candidate", "reference", "effect", "ci_low", "ci_high",
              "n_seeds", "n_images", "gate", "eval_set", "profile")
_TEXT_KEYS = ("claim", "finding", "metric", "candidate", "reference", "eval_set", "profile")
_NUMBER_KEYS = ("effect", "ci_low", "ci_high")


def make_claim(claim: str, status: str, finding: str, *, metric: str, candidate: str, reference: str,
               eval_set: str, profile: str, gate: dict, effect: float | None = None, ci_low: float | None = None,
               ci_high: float | None = None, n_seeds: int = 0, n_images: int = 0) -> dict:
    """A checked claim dict with every key of the schema."""
    entry = {"claim": claim, "status": status, "finding": finding, "metric": metric, "candidate": candidate,
             "reference": reference,
             "effect": None if effect is None else float(effect),
             "ci_low": None if ci_low is None else float(ci_low),
             "ci_high": None if ci_high is None else float(ci_high),
             "n_seeds": int(n_seeds), "n_images": int(n_images), "gate": gate, "eval_set": eval_set,
             "profile": profile}
    check_claims([entry], "make_claim")
    return entry


def no_gate(reason: str) -> dict:
    """The gate of a claim that compares no network (a prior, a setting on paper)."""
    return {"passed": None, "rule": reason, "numbers": {}}


def _check_gate(gate, where: str) -> None:
    if not isinstance(gate, dict) or set(gate) != {"passed", "rule", "numbers"}:
        raise ValueError(f"{where}: 'gate' must be an object with the keys passed, rule, numbers; got {gate!r}")
    if gate["passed"] not in (True, False, None) or not isinstance(gate["rule"], str):
        raise ValueError(f"{where}: gate 'passed' must be true, false or null and 'rule' a string")
    if not isinstance(gate["numbers"], dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) for k, v in gate["numbers"].items()):
        raise ValueError(f"{where}: gate 'numbers' must map names to numbers")


def check_claims(claims, where: str) -> list[dict]:
    """Return ``claims`` if it is a list of valid claims (see the module docstring), else raise ``ValueError``.

    Beyond the types: a ``reproduced`` or ``not reproduced`` claim has an interval, and a claim
    whose gate failed is ``not testable``.
    """
    if not isinstance(claims, list):
        raise ValueError(f"{where}: must hold a list of claims, found {type(claims).__name__}")
    for index, claim in enumerate(claims):
        at = f"{where}: claim {index}"
        if not isinstance(claim, dict) or set(claim) != set(CLAIM_KEYS):
            got = sorted(claim) if isinstance(claim, dict) else claim
            raise ValueError(f"{at} must be an object with exactly the keys {', '.join(CLAIM_KEYS)}; got {got!r}")
        if not all(isinstance(claim[key], str) for key in _TEXT_KEYS) or not (
                claim["claim"].strip() and claim["finding"].strip()):
            raise ValueError(f"{at}: {', '.join(_TEXT_KEYS)} must be strings, 'claim' and 'finding' non-empty")
        if claim["status"] not in STATUSES:
            raise ValueError(f"{at}: status {claim['status']!r} is not one of {STATUSES}")
        for key in _NUMBER_KEYS:
            value = claim[key]
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"{at}: {key!r} must be a finite number or null; got {value!r}")
        for key in ("n_seeds", "n_images"):
            if not isinstance(claim[key], int) or claim[key] < 0:
                raise ValueError(f"{at}: {key!r} must be a non-negative integer; got {claim[key]!r}")
        _check_gate(claim["gate"], at)
        if claim["status"] in ("reproduced", "not reproduced") and (claim["ci_low"] is None or claim["ci_high"] is None):
            raise ValueError(f"{at}: a {claim['status']!r} claim needs its interval (ci_low, ci_high)")
        if claim["gate"]["passed"] is False and claim["status"] != "not testable":
            raise ValueError(f"{at}: its gate failed, so its status must be 'not testable', not {claim['status']!r}")
    return claims


def write_claims(output_dir: str | os.PathLike, claims: list[dict]) -> Path:
    """Check and write ``claims`` to ``output_dir/claims.json`` (atomically)."""
    path = Path(output_dir) / "claims.json"
    check_claims(claims, str(path))
    atomic_write_text(path, json.dumps(claims, indent=2, ensure_ascii=False) + "\n")
    return path


def read_claims(path: str | os.PathLike) -> list[dict]:
    """Read and check a notebook's ``claims.json``.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, invalid JSON, or an entry of the wrong form (named by its index).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such claims file")
    try:
        claims = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON ({error})") from error
    return check_claims(claims, str(path))


def collect_claims(results_dir: str | os.PathLike) -> list[dict]:
    """Every notebook's claims under ``results_dir``, in notebook order, each with its ``notebook``.

    Reads ``results_dir/<notebook>/claims.json`` of the notebooks that have one (the overview
    notebook's headline table); a missing folder gives an empty list.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    rows = []
    for path in sorted(results_dir.glob("*/claims.json")):
        rows += [{"notebook": path.parent.name} | claim for claim in read_claims(path)]
    return rows
