"""Where a benchmark's JSON is written, and when it is not rewritten.

A benchmark run with ``--json FILE`` stores, beside its numbers, a ``provenance`` block
(:func:`stamp`): a digest of the code it times (every ``mattinglib/**/*.py`` except the study
machinery, ``mattinglib/study/``), the machine (operating system, architecture, CPU model,
core count), the versions of the packages that do the work, its own arguments and, for
``train``, whether the real scenes were found. Called through :func:`mattinglib.bench.main`
again with the same ``FILE`` and an equal stamp, the benchmark does not run and the file is
left byte for byte as it was: the cached table is printed with a line saying it is up to date
(``--force`` reruns). So ``make study`` leaves a clean tree when nothing the numbers depend on
changed, and rewrites the file when something did (or when ``--json`` names another file).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from mattinglib.atomic import atomic_write_text
from mattinglib.versions import code_digest as _package_digest, package_versions

#: The package whose code the benchmarks time.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Sub-packages of ``mattinglib/`` no benchmark times: editing them does not rerun one.
UNTIMED = ("study",)
#: Packages whose versions join the stamp (they do the timed work).
TIMED_PACKAGES = ("torch", "numpy", "numba", "scipy")
#: Arguments that say where or whether to write, not what is measured.
NOT_MEASURED = ("json", "force", "run", "command", "provenance")


def code_digest(package_dir: str | os.PathLike = PACKAGE_DIR, untimed: tuple[str, ...] = UNTIMED) -> str:
    """:func:`mattinglib.versions.code_digest` of the package's ``*.py`` files, leaving out the
    sub-packages ``untimed``."""
    return _package_digest(package_dir, exclude=untimed)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as stream:
            for line in stream:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict:
    """What the timings depend on besides the code: OS, architecture, CPU model and cores.

    No host name: a container's changes every time, the hardware does not.
    """
    return {"system": platform.system(), "architecture": platform.machine(), "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "python": platform.python_version()}


def _arguments(args: argparse.Namespace) -> dict:
    """The measured arguments, as they read back from JSON (paths as text, tuples as lists)."""
    values = {name: str(value) if isinstance(value, Path) else value
              for name, value in sorted(vars(args).items()) if name not in NOT_MEASURED}
    return json.loads(json.dumps(values, default=str))


def stamp(command: str, args: argparse.Namespace, data: dict | None = None) -> dict:
    """The ``provenance`` block of a benchmark's JSON: equal stamps, comparable numbers.

    ``data``: the data sets the benchmark found (data set -> found), for one that skips a part
    without them (``train``'s real-foreground scale); None when it reads none.
    """
    block = {"command": command, "code_digest": code_digest(), "machine": machine(),
             "packages": package_versions(TIMED_PACKAGES), "arguments": _arguments(args)}
    if data is not None:
        block["data"] = data
    return block


def write_report(path: str | os.PathLike, report: dict, command: str, args: argparse.Namespace,
                 data: dict | None = None, indent: int = 1) -> None:
    """Write ``report`` with its ``provenance`` block (the stamp taken before the run when
    :func:`mattinglib.bench.main` took one, else now, with ``data`` as in :func:`stamp`) to
    ``path``, atomically."""
    block = getattr(args, "provenance", None) or stamp(command, args, data)
    report["provenance"] = block
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(report, indent=indent))


def up_to_date(path: str | os.PathLike, block: dict) -> dict | None:
    """The report saved at ``path`` when its provenance equals ``block``, else None."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("provenance") != block:
        return None
    return report


def print_cached(command: str, report: dict, path: str | os.PathLike, print_report) -> None:
    """Say that ``path`` is up to date and print its table again with the benchmark's own
    ``print_report(report)`` (no measurement)."""
    print(f"{command} benchmark: {path} is up to date (same code digest, machine, packages and settings); "
          "not rerun (--force reruns). Its numbers:")
    print_report(report)
