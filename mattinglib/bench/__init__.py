"""Benchmarks, run as ``python -m mattinglib.bench <subcommand>`` or ``bench.main([...])``.

Subcommands, each registered in ``SUBCOMMANDS`` with its own arguments:

``ddc`` (:mod:`.ddc`)
    Our DDC loss and neighbour selection against the public release's naive formulation
    (and the selection against our previous kernel), one fresh process per side; per size the
    ratio with the selection included (what a training step of the study pays) and with the
    neighbours given, the selection ratios, peak memories and agreement.
``train`` (:mod:`.train`)
    The whole training step at the two study scales (64 px synthetic, 128 px real-foreground with
    4 channels), three ways (today's data path, the release's selection inside the loss, ours):
    steps/s, the data share of the step, ratios.
``models`` (:mod:`.models`)
    Training and inference throughput of the networks, with ratios against the first.

:mod:`.timing` holds the shared helpers: fresh child processes, the peak-memory probe, ratios
and plain-text tables. :mod:`.record` writes the ``--json`` file with a stamp of the code, the
machine and the settings; through :func:`main`, a subcommand whose ``--json`` file already holds
an equal stamp is not rerun (the file is left unchanged, its table printed; ``--force`` reruns).
"""
from __future__ import annotations

import argparse
from typing import Callable, NamedTuple

from . import ddc, models, record
from . import train as train_bench


class Subcommand(NamedTuple):
    """One benchmark: its help line, its options, how it runs, how it prints a saved report, and
    which data sets its numbers depend on (None: none)."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], dict]
    print_report: Callable[[dict], None]
    data_found: Callable[[argparse.Namespace], dict | None] | None = None


SUBCOMMANDS = {
    "ddc": Subcommand("DDC loss and neighbour selection vs the release's naive formulation",
                      ddc.add_ddc_arguments, ddc.run_ddc, ddc.print_report),
    "train": Subcommand("the whole training step at both study scales, three ways", train_bench.add_arguments,
                        train_bench.run, train_bench.print_report, train_bench.data_found),
    "models": Subcommand("training and inference throughput of the networks", models.add_models_arguments,
                         models.run_models, models.print_report),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mattinglib.bench", description=__doc__.split("\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, subcommand in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=subcommand.help)
        subcommand.add_arguments(subparser)
        subparser.add_argument("--force", action="store_true",
                               help="measure even when the --json file is up to date (same code, machine, settings)")
        subparser.set_defaults(run=subcommand.run)
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` (default ``sys.argv[1:]``), run the subcommand, return its numbers.

    With ``--json FILE`` whose stamp (:func:`mattinglib.bench.record.stamp`) equals this run's,
    nothing is measured or written: the saved numbers are printed and returned (``--force``
    measures anyway).
    """
    args = build_parser().parse_args(argv)
    if getattr(args, "json", None) is not None:
        # Taken before measuring: the file records the code that was timed, even if it is
        # edited while the benchmark runs.
        subcommand = SUBCOMMANDS[args.command]
        data = subcommand.data_found(args) if subcommand.data_found else None
        args.provenance = record.stamp(args.command, args, data)
        if not args.force:
            cached = record.up_to_date(args.json, args.provenance)
            if cached is not None:
                record.print_cached(args.command, cached, args.json, subcommand.print_report)
                return cached
    return args.run(args)
