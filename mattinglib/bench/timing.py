"""Measurement helpers shared by the benchmarks: fresh child processes, peak memory, tables.

How a number is taken
---------------------
Each measured side runs in a fresh child process (``spawn``, one task per process,
:func:`run_in_child`), so that no side inherits another's allocator state or a cached JIT,
and the parent only collects results. The children run with glibc's ``MALLOC_MMAP_THRESHOLD_``
fixed at 64 KiB, so every buffer from 64 KiB up is fresh ``mmap``-ed memory returned to the
system when freed.

:class:`PeakMemory` measures the peak resident set size of a call: ``start()`` resets the
kernel's peak (``VmHWM``) through ``/proc/self/clear_refs`` and ``peak_increase()`` is the
increase of the peak over the RSS at ``start()``, in bytes: with the fixed mmap threshold,
what the call needs on top of its inputs (smaller blocks may reuse heap freed earlier, so tiny
peaks are lower bounds). Where ``clear_refs`` cannot be written (not Linux), ``ru_maxrss`` is
used instead, which is only an upper bound of the increase taken from the process's whole life.
"""
from __future__ import annotations

import concurrent.futures
import gc
import os
import resource
from collections.abc import Callable

MIB = 1024.0 * 1024.0

# glibc's mmap threshold grows (up to 32 MiB) as blocks are freed; fixed at 64 KiB, a buffer
# freed earlier in a child cannot be reused unseen by the peak-RSS probe.
_MMAP_THRESHOLD = str(64 * 1024)


def _read_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """Peak RSS increase over the RSS at ``start()``, in bytes (see the module docstring).

    Attributes
    ----------
    exact : bool
        True when the peak could be reset (``/proc/self/clear_refs``), False when the result
        is the ``ru_maxrss`` upper bound.
    """

    exact: bool = False

    def start(self) -> None:
        gc.collect()
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM to the current RSS
            self.exact = _read_status_kib("VmHWM") is not None
        except OSError:
            self.exact = False
        rss = _read_status_kib("VmRSS")
        self.baseline_kib = rss if rss is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def peak_increase(self) -> int:
        peak = _read_status_kib("VmHWM") if self.exact else None
        if peak is None:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(0, peak - self.baseline_kib) * 1024


def run_in_child(context, function: Callable[..., dict], *args) -> dict:
    """``function(*args)`` in a fresh process of ``context`` (spawn), with a fixed mmap threshold.

    ``function`` must be importable by name (a module-level function of a module, not of
    ``__main__``). The child reads ``MALLOC_MMAP_THRESHOLD_`` at start-up from the environment
    it inherits, which is restored here afterwards.
    """
    previous = os.environ.get("MALLOC_MMAP_THRESHOLD_")
    os.environ["MALLOC_MMAP_THRESHOLD_"] = _MMAP_THRESHOLD
    try:
        with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context,
                                                    max_tasks_per_child=1) as pool:
            return pool.submit(function, *args).result()
    finally:
        if previous is None:
            del os.environ["MALLOC_MMAP_THRESHOLD_"]
        else:
            os.environ["MALLOC_MMAP_THRESHOLD_"] = previous


def ratio(baseline: float, ours: float) -> float:
    """``baseline / ours`` (how many times ours is faster or smaller); inf when ours is 0."""
    return baseline / ours if ours > 0 else float("inf")


def format_table(header: tuple[str, ...], lines: list[tuple[str, ...]], aligns: list[str]) -> str:
    """Plain-text table: columns padded to their widest cell, a rule under the header.

    ``aligns`` holds ``"rjust"`` or ``"ljust"`` per column; trailing spaces are stripped.
    """
    lines = [header] + lines
    widths = [max(len(line[c]) for line in lines) for c in range(len(header))]
    formatted = ["  ".join(getattr(cell, align)(width) for cell, align, width in zip(line, aligns, widths)).rstrip()
                 for line in lines]
    formatted.insert(1, "-" * len(formatted[0]))
    return "\n".join(formatted)
