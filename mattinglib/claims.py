"""Claims: a notebook's headline findings, each marked against the paper.

A notebook writes ``<output_dir>/claims.json``: a list of ``{"claim", "finding", "status"}``
where ``finding`` is one sentence with the numbers and ``status`` one of :data:`STATUSES`. The
study runner gathers them into ``results/README.md``. Statuses must be computed from the
notebook's own numbers, never typed in.
"""
from __future__ import annotations

import json
from pathlib import Path

from .atomic import atomic_write_text

STATUSES = ("reproduced", "partially reproduced", "not reproduced", "not tested")


def write_claims(output_dir: str | Path, claims: list[dict]) -> Path:
    """Validate and write ``claims`` to ``output_dir/claims.json`` (atomically)."""
    for claim in claims:
        if set(claim) != {"claim", "finding", "status"}:
            raise ValueError(f"a claim needs exactly the keys claim, finding, status; got {sorted(claim)}")
        if claim["status"] not in STATUSES:
            raise ValueError(f"claim status must be one of {STATUSES}; got {claim['status']!r}")
    path = Path(output_dir) / "claims.json"
    atomic_write_text(path, json.dumps(claims, indent=2, ensure_ascii=False) + "\n")
    return path
