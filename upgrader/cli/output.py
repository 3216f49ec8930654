"""What every command shares: the two consoles, eksup's errors as one line, asking, writing.

Results go to stdout; progress, warnings and errors to stderr. Every `EksupError` becomes one
line on stderr and its exit code (see `exit_codes.py`); a user mistake never shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from upgrader.core.errors import EksupError, UserError
from upgrader.core.exit_codes import ExitCode

# Results go to stdout; progress, warnings and errors to stderr.
stdout = Console()
stderr = Console(stderr=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn eksup's own errors into one line on stderr and the documented exit code."""
    from upgrader.core.run.interrupts import Terminated, sigterm_interrupts

    try:
        with sigterm_interrupts():  # SIGTERM unwinds like Ctrl-C: the Lease is released
            yield
    except EksupError as error:
        # escape: a message may hold brackets (`eksup[sandbox]`) that are not rich markup.
        stderr.print(
            f"[bold red]eksup: error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt as error:
        why = "terminated (SIGTERM)" if isinstance(error, Terminated) else "interrupted"
        stderr.print(f"eksup: {why}", highlight=False)
        raise typer.Exit(ExitCode.STOPPED) from None


def confirm(question: str) -> bool:
    """Ask on the terminal; with no terminal to ask on, the answer is no (use --yes)."""
    if not sys.stdin.isatty():
        stderr.print(f"{question} (no terminal to ask on: pass --yes to proceed)", markup=False)
        return False
    return typer.confirm(question, default=False, err=True)


def write_text(path: Path, text: str) -> None:
    """Write all of `text` or nothing: a temporary file renamed into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write: {error.strerror or error}") from None
