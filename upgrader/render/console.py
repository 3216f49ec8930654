"""How wide eksup's output is: the terminal's width, or wide when there is no terminal.

Rich falls back to 80 columns when it writes to a pipe, so CI logs and `| tee` captures wrapped
every table row into several lines. With no terminal there is no width to fit, so eksup writes
wide lines instead; `COLUMNS` (set by the user or by a test) always wins.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Wide enough for the widest table (findings with their remedies) to stay one line per row.
NO_TERMINAL_WIDTH = 200


def output_width(stderr: bool = False) -> int | None:
    """Columns to write, or None to let rich ask the terminal."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stderr if stderr else sys.stdout
    try:
        return None if stream.isatty() else NO_TERMINAL_WIDTH
    except (AttributeError, ValueError):  # a closed or odd stream: not a terminal
        return NO_TERMINAL_WIDTH


def fit(console: Console) -> Console:
    """Size `console` for where it writes now (called at the start of every command)."""
    width = output_width(console.stderr)
    console.width = width if width is not None else Console(stderr=console.stderr).width
    return console


def make_console(stderr: bool = False) -> Console:
    return fit(Console(stderr=stderr))
