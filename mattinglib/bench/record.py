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
import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path

from mattinglib.atomic import atomic_write_text

#: The package whose code the benchmarks time.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Sub-packages of ``mattinglib/`` no benchmark times: editing them does not rerun one.
UNTIMED = ("study",)
#: Packages whose versions join the stamp (they do the timed work).
TIMED_PACKAGES = ("torch", "numpy", "numba", "scipy")
#: Arguments that say where or whether to write, not what is measured.
NOT_MEASURED = ("json", "force", "run", "command", "provenance")


def code_digest(package_dir: str | os.PathLike = PACKAGE_DIR, untimed: tuple[str, ...] = UNTIMED) -> str:
    """Hex SHA-256 over the relative paths and bytes of the package's ``*.py`` files,
    leaving out the sub-packages ``untimed``."""
    package_dir = Path(package_dir)
    digest = hashlib.sha256()
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        if "__pycache__" in relative.parts or relative.parts[0] in untimed:
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


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


def _package_versions() -> dict:
    versions = {}
    for name in TIMED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _arguments(args: argparse.Namespace) -> dict:
    """The measured arguments, as they read back from JSON (paths as text, tuples as lists)."""
    values = {name: str(value) if isinstance(value, Path) else value
              for name, value in sorted(vars(args).items()) if name not in NOT_MEASURED}
    return json.loads(json.dumps(values, default=str))


def _data(command: str, args: argparse.Namespace) -> dict | None:
    """The data sets a benchmark found (it skips a scale without them), else None."""
    if command == "train" and ("realfg" in getattr(args, "scales", ()) or getattr(args, "models", None)):
        from .train import _realfg_missing

        return {"alphamatting-lowres": _realfg_missing() is None}
    return None


def stamp(command: str, args: argparse.Namespace) -> dict:
    """The ``provenance`` block of a benchmark's JSON: equal stamps, comparable numbers."""
    block = {"command": command, "code_digest": code_digest(), "machine": machine(),
             "packages": _package_versions(), "arguments": _arguments(args)}
    data = _data(command, args)
    if data is not None:
        block["data"] = data
    return block


def write_report(path: str | os.PathLike, report: dict, command: str, args: argparse.Namespace,
                 indent: int = 1) -> None:
    """Write ``report`` with its ``provenance`` block (the stamp taken before the run when
    :func:`mattinglib.bench.main` took one, else now) to ``path``, atomically."""
    block = getattr(args, "provenance", None) or stamp(command, args)
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


def print_cached(command: str, report: dict, path: str | os.PathLike) -> None:
    """Say that ``path`` is up to date and print its table again (no measurement)."""
    print(f"{command} benchmark: {path} is up to date (same code digest, machine, packages and settings); "
          "not rerun (--force reruns). Its numbers:")
    if command == "ddc":
        from .ddc import _format_ddc_table

        print(_format_ddc_table(report["rows"], report["agreement"]))
    elif command == "train":
        from .train import _format, _format_models

        for scale, result in report["scales"].items():
            print(f"{scale}: skipped ({result['skipped']})" if "skipped" in result else _format(scale, result))
        if "models" in report:
            models = report["models"]
            print(f"models: skipped ({models['skipped']})" if "skipped" in models else _format_models(models))
    else:
        for row in report.get("rows", []):
            print("  " + ", ".join(f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                                   for key, value in row.items()))
