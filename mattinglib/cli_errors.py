"""The command line's bad-input errors: one line, exit status 2 (see :mod:`mattinglib.__main__`)."""
from __future__ import annotations

import re

#: The exit status of bad input (argparse's for a bad command line); 1 is an unexpected failure.
EXIT_BAD_INPUT = 2


class CLIError(Exception):
    """Bad input found by the command line itself: its one-line message, exit status 2."""


def one_line(text: str) -> str:
    """A message on one line; for an error re-raised from a DataLoader worker, the original one."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Caught ") and "DataLoader worker" in lines[0]:
        return re.sub(r"^[\w.]*(Error|Exception|Problem): ", "", lines[-1])
    return " ".join(lines)
