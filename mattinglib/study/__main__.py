"""Command line of the study runner::

    python -m mattinglib.study --profile smoke|cpu|paper [--only NAME ...] [--jobs N] [--force]
        [--results DIR] [--notebooks DIR] [--timeout SECONDS] [-p NAME VALUE ...]
    python -m mattinglib.study --profile NAME --show-config > FILE

Executes the notebooks (:func:`mattinglib.study.execution.run_study`), prints a summary
table and exits 0 when every notebook ran or was up to date, 1 when one failed (naming it),
2 on bad usage.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .execution import NotebookRun, run_study
from .notebooks import parse_override
from .profiles import BASES, PROFILES
from .provenance import REPO_ROOT


def format_summary(runs: list[NotebookRun]) -> str:
    """A plain-text table: notebook, status, wall time, first line of the error."""
    rows = [("notebook", "status", "wall s", "note")]
    for run in runs:
        note = ""
        if run.error:
            note = run.error.splitlines()[0]
            if run.failed_dir:
                note += f" (see {run.failed_dir})"
        rows.append((run.name, run.status, f"{run.wall_seconds:.1f}", note))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mattinglib.study",
                                     description="Execute the study notebooks and collect results/README.md.")
    parser.add_argument("--profile", default="cpu", choices=PROFILES,
                        help="smoke: seconds (tests); cpu: the default, what results/ shows; paper: GPU")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these notebooks (file stems)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (default 1)")
    parser.add_argument("--force", action="store_true", help="rerun notebooks whose cached results are current")
    parser.add_argument("--results", default=str(REPO_ROOT / "results"), help="results folder (default results/)")
    parser.add_argument("--notebooks", default=str(REPO_ROOT / "notebooks"),
                        help="notebooks folder (default notebooks/)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="per-cell time limit in seconds (default: 600 for smoke, none otherwise)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter in every selected notebook; VALUE is JSON when it parses")
    parser.add_argument("--show-config", action="store_true",
                        help="print the profile's training settings as JSON (for python -m mattinglib train "
                             "--config FILE) and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 a notebook failed, 2 bad usage)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.show_config:
        print(json.dumps(BASES[args.profile], indent=2))
        return 0
    try:
        overrides = dict(parse_override(name, value) for name, value in args.parameter)
        runs = run_study(args.profile, only=args.only, jobs=args.jobs, force=args.force,
                         results_dir=args.results, notebooks_dir=args.notebooks, overrides=overrides,
                         timeout=args.timeout)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(format_summary(runs))
    print(f"\nresults: {Path(args.results) / 'README.md'}")
    failed = [run.name for run in runs if run.status == "failed"]
    if failed:
        print(f"\nfailed notebooks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
