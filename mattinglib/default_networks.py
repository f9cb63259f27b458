"""The best committed network, for ``predict`` and ``matte --method network`` without ``--checkpoint``.

The real-image track's notebooks (60: the trimap as a fourth input channel; 70: the image only)
commit one network per arm under ``results/<notebook>/checkpoints/`` with their score tables.
:func:`default_checkpoint` reads those tables and picks the best network for the input a command
gets; nothing names an arm, so when a table changes the choice follows it. The rule:

1. A notebook takes part when its folder under ``results/`` holds ``checkpoints_list.csv`` (arm,
   file), ``scores_per_run.csv`` and ``claims.json``: today 60 and 70; a later notebook that commits
   its networks the same way (e.g. pretrained encoders) joins by itself.
2. An arm is a candidate when its listed file exists under ``checkpoints/`` and the network stored
   there takes the input at hand: 4 input channels (image + trimap) when a trimap is given, 3 (the
   image alone) otherwise, read from the checkpoint's own config.
3. The score is the notebook's headline: the eval set and metric of the first claim in
   ``claims.json`` (notebook 60: the held-out scenes with Trimap1, unknown-region SAD; notebook 70:
   the test composites, "seen scenes, held-out photos", whole-image SAD), taken from the
   first notebook (by folder name) that has a candidate. Every candidate, of whichever notebook,
   is scored on that same eval set and protocol: the mean over seeds of its rows in its own
   ``scores_per_run.csv`` (the number ``summary.csv`` shows, unrounded). A candidate whose table
   has no such rows is not compared, so networks are only ranked on the same test.
4. The lowest mean wins; a tie goes to the first in notebook, then listing, order.

The results folder is the repository's ``results/`` (next to the package) unless one is given;
an installed package has none, and the error says to pass ``--checkpoint``.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

LISTING, SCORES, CLAIMS = "checkpoints_list.csv", "scores_per_run.csv", "claims.json"

#: The track a number of input channels belongs to, as the description names it.
TRACKS = {4: "trimap-input track", 3: "image-only track"}

PROTOCOL_WORDS = {"unknown": "unknown-region", "whole": "whole-image"}


def results_folder() -> Path:
    """``results/`` of the repository this package sits in (it need not exist)."""
    return Path(__file__).resolve().parent.parent / "results"


@dataclass(frozen=True)
class Candidate:
    notebook: Path
    arm: str
    checkpoint: Path


def _in_channels(checkpoint: Path) -> int | None:
    """The input channels of a checkpoint's network, from its config; None if it cannot be read."""
    import torch

    for mmap in (True, False):  # memory-mapped: the weights (large for a pretrained encoder) are not read
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=mmap)
            break
        except Exception:  # noqa: BLE001 -- an unreadable file is no candidate; load_model says why if used
            state = None
    config = state.get("config") if isinstance(state, dict) else None
    return int(config.get("in_channels", 3)) if isinstance(config, dict) else None


def _candidates(notebook: Path, in_channels: int) -> list[Candidate]:
    try:
        listing = pd.read_csv(notebook / LISTING)
    except (OSError, ValueError):
        return []
    if not {"arm", "file"} <= set(listing.columns):
        return []
    found = []
    for arm, file in zip(listing["arm"], listing["file"]):
        path = notebook / "checkpoints" / str(file)
        if path.is_file() and _in_channels(path) == in_channels:
            found.append(Candidate(notebook, str(arm), path))
    return found


def _headline(notebook: Path) -> tuple[str, str, str] | None:
    """(eval set, protocol, metric column) of the notebook's first claim; None if it has none."""
    try:
        claims = json.loads((notebook / CLAIMS).read_text())
        first = claims[0]
        protocol, metric = str(first["metric"]).split(" ", 1)
        return str(first["eval_set"]), protocol, metric
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def _score(candidate: Candidate, eval_set: str, protocol: str, metric: str) -> tuple[float, int] | None:
    """(mean over seeds, number of seeds) of the arm on the headline; None if its table has no such rows."""
    try:
        table = pd.read_csv(candidate.notebook / SCORES)
        rows = table[(table["variant"] == candidate.arm) & (table["eval_set"] == eval_set)
                     & (table["protocol"] == protocol)][metric].dropna()
    except (OSError, ValueError, KeyError):
        return None
    return (float(rows.mean()), len(rows)) if len(rows) else None


def default_checkpoint(trimap_given: bool, results_dir: str | Path | None = None) -> tuple[Path, str]:
    """(path, one-line description) of the best committed network for this input (see the module's rule).

    Raises
    ------
    FileNotFoundError
        No results folder (an installed package), or no committed, scored network for this input.
    """
    results = Path(results_dir) if results_dir is not None else results_folder()
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: no such folder, so no committed network to use by default (an "
                                "installed mattinglib has no results/ of its repository); pass --checkpoint PT")
    in_channels = 4 if trimap_given else 3
    track = TRACKS[in_channels]
    notebooks = sorted(p for p in results.iterdir()
                       if p.is_dir() and all((p / name).is_file() for name in (LISTING, SCORES, CLAIMS)))
    candidates = [c for notebook in notebooks for c in _candidates(notebook, in_channels)]
    headline = next((h for h in (_headline(c.notebook) for c in candidates) if h is not None), None)
    scored = []
    if headline is not None:
        for candidate in candidates:
            score = _score(candidate, *headline)
            if score is not None:
                scored.append((score, candidate))
    if not scored:
        raise FileNotFoundError(f"{results}: no committed network of the {track} ({in_channels} input channels) "
                                f"with a score in its notebook's {SCORES}; pass --checkpoint PT")
    (mean, seeds), best = min(scored, key=lambda item: item[0][0])  # min keeps the first of equals
    eval_set, protocol, metric = headline
    table = best.notebook / SCORES
    shown = table.relative_to(results.parent) if table.is_relative_to(results.parent) else table
    description = (f"{track}, {best.arm}: {PROTOCOL_WORDS.get(protocol, protocol)} {metric.upper()} {mean:.4g} on "
                   f"'{eval_set}', mean of {seeds} seed{'s' if seeds != 1 else ''}, the lowest of {len(scored)} "
                   f"in {shown}")
    return best.checkpoint, description


def announce_default(trimap_given: bool, results_dir: str | Path | None = None) -> str:
    """:func:`default_checkpoint`'s path, after naming it and why in one line on stderr (the CLI's use)."""
    path, description = default_checkpoint(trimap_given, results_dir)
    try:
        shown = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    print(f"mattinglib: no --checkpoint: using {shown} ({description})", file=sys.stderr)
    return str(path)


__all__ = ["default_checkpoint", "announce_default", "results_folder"]
