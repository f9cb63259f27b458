"""Claims: a notebook's headline findings, each marked against the paper; one schema.

A notebook writes ``<output_dir>/claims.json`` with :func:`write_claims`: a list of
``{"claim", "finding", "status"}`` where ``finding`` is one sentence with the numbers and
``status`` one of :data:`STATUSES`. The study runner checks it with :func:`read_claims` and
gathers every notebook's claims into ``results/README.md``; the overview notebook reads them
with :func:`collect_claims`. All three go through :func:`check_claims`, so what a notebook
may write and what the runner accepts cannot differ. Statuses are computed from the
notebook's own numbers (:mod:`mattinglib.study.findings`), never typed in.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from mattinglib.atomic import atomic_write_text

STATUSES = ("reproduced", "partially reproduced", "not reproduced", "not tested")
#: The keys of a claim, all non-empty strings.
CLAIM_KEYS = ("claim", "finding", "status")


def check_claims(claims, where: str) -> list[dict]:
    """Return ``claims`` if it is a list of valid claims, else raise ``ValueError``.

    Parameters
    ----------
    claims : object
        What a notebook wrote (or is about to write).
    where : str
        Named in the message (the file, or the notebook writing it).
    """
    if not isinstance(claims, list):
        raise ValueError(f"{where}: must hold a list of claims, found {type(claims).__name__}")
    for index, claim in enumerate(claims):
        if not isinstance(claim, dict) or set(claim) != set(CLAIM_KEYS):
            raise ValueError(f"{where}: claim {index} must be an object with exactly the keys "
                             f"{', '.join(CLAIM_KEYS)}; got {claim!r}")
        if not all(isinstance(claim[key], str) and claim[key].strip() for key in ("claim", "finding")):
            raise ValueError(f"{where}: claim {index}: 'claim' and 'finding' must be non-empty strings")
        if claim["status"] not in STATUSES:
            raise ValueError(f"{where}: claim {index}: status {claim['status']!r} is not one of {STATUSES}")
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
