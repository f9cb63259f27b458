"""Command line of the study runner::

    python -m mattinglib.study --profile smoke|cpu|paper [--only NAME ...] [--jobs N] [--force]
        [--results DIR] [--notebooks DIR] [--timeout SECONDS] [-p NAME VALUE ...] [--in-place]
    python -m mattinglib.study --profile NAME --show-config > FILE

Executes the notebooks (:func:`mattinglib.study.execution.run_study`), prints a summary
table and exits 0 when every notebook ran or was up to date, 1 when one failed (naming it),
2 on bad usage.

Where results go: ``results/`` (or ``--results DIR``). A run with ``-p`` overrides never
replaces the committed ``results/``: it writes to ``--results DIR`` when given, else to
``results-custom/<overrides>/`` (:func:`mattinglib.study.notebooks.overrides_folder_name`,
e.g. ``results-custom/SEEDS=0/``; ``results-custom/`` ignores itself in git), unless
``--in-place`` asks for ``results/`` (or ``--results DIR``) itself. The folder is printed
before the notebooks run and at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .execution import NotebookRun, run_study
from mattinglib.atomic import atomic_write_text

from .execution import PROJECT_RESULTS
from .notebooks import overrides_folder_name, parse_override
from .profiles import BASES, PROFILES
from .provenance import REPO_ROOT, display_path

#: Where runs with ``-p`` overrides write by default, one folder per set of overrides.
CUSTOM_RESULTS = REPO_ROOT / "results-custom"


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
    parser.add_argument("--results", default=None,
                        help="results folder (default results/; with -p, results-custom/<overrides>/)")
    parser.add_argument("--notebooks", default=str(REPO_ROOT / "notebooks"),
                        help="notebooks folder (default notebooks/)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="per-cell time limit in seconds (default: 600 for smoke, none otherwise)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override a parameter in every selected notebook; VALUE is JSON when it parses. "
                             "Results then go to --results DIR, else results-custom/<overrides>/")
    parser.add_argument("--in-place", action="store_true",
                        help="with -p, write into results/ (or --results DIR) itself, replacing what is there")
    parser.add_argument("--show-config", action="store_true",
                        help="print the profile's training settings as JSON (for python -m mattinglib train "
                             "--config FILE) and exit")
    return parser


def results_folder(results: str | None, overrides: dict, in_place: bool) -> Path:
    """Where a run writes: ``results`` when given, else ``results/``; with overrides (and
    neither ``results`` nor ``in_place``) ``results-custom/<overrides>/``.

    A custom folder under :data:`CUSTOM_RESULTS` is created with a ``.gitignore`` of ``*`` in
    ``results-custom/``, so trying parameters never dirties the working tree.
    """
    if results is not None:
        return Path(results)
    if not overrides or in_place:
        return PROJECT_RESULTS
    CUSTOM_RESULTS.mkdir(parents=True, exist_ok=True)
    ignore = CUSTOM_RESULTS / ".gitignore"
    if not ignore.exists():
        atomic_write_text(ignore, "# Results of study runs with -p overrides (python -m mattinglib.study).\n*\n")
    return CUSTOM_RESULTS / overrides_folder_name(overrides)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 ok, 1 a notebook failed, 2 bad usage)."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.show_config:
        print(json.dumps(BASES[args.profile], indent=2))
        return 0
    try:
        overrides = dict(parse_override(name, value) for name, value in args.parameter)
        if overrides and not args.in_place and args.results is not None \
                and Path(args.results).resolve() == PROJECT_RESULTS.resolve():
            raise ValueError(f"-p would replace the committed results in {display_path(PROJECT_RESULTS)}/; "
                             "leave out --results (results-custom/<overrides>/) or pass --in-place")
        results = results_folder(args.results, overrides, args.in_place)
        if overrides:
            print(f"[study] -p {', '.join(overrides)}: results go to {display_path(results)}/"
                  + ("" if args.in_place else f" ({display_path(PROJECT_RESULTS)}/ is left as it is; "
                                               "--in-place writes there)"), flush=True)
        runs = run_study(args.profile, only=args.only, jobs=args.jobs, force=args.force,
                         results_dir=results, notebooks_dir=args.notebooks, overrides=overrides,
                         timeout=args.timeout, in_place=args.in_place)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print()
    print(format_summary(runs))
    print(f"\nresults: {display_path(results / 'README.md')}")
    failed = [run.name for run in runs if run.status == "failed"]
    if failed:
        print(f"\nfailed notebooks: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
