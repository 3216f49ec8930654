"""The `eksup` command line: parse, wire, call, render.

Commands stay thin: they build the ports (lazily, so `eksup --help` imports neither boto3 nor
the kubernetes client), call the logic, and render. Every `EksupError` becomes one line on
stderr and its exit code (see `exit_codes.py`); a user mistake never shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console

from upgrader import __version__
from upgrader.errors import EksupError
from upgrader.exit_codes import ExitCode

app = typer.Typer(
    name="eksup",
    help="Plan and execute Amazon EKS upgrades and application rollouts, safely.",
    no_args_is_help=True,
    add_completion=False,
    # Locals can hold credentials: never print them in a traceback.
    pretty_exceptions_show_locals=False,
)

# Results go to stdout; progress, warnings and errors to stderr.
stdout = Console()
stderr = Console(stderr=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn eksup's own errors into one line on stderr and the documented exit code."""
    try:
        yield
    except EksupError as error:
        stderr.print(f"[bold red]eksup: error:[/] {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        stderr.print("eksup: interrupted", highlight=False)
        raise typer.Exit(ExitCode.STOPPED) from None


def _version_callback(show: bool) -> None:
    if show:
        stdout.print(f"eksup {__version__}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Plan and execute Amazon EKS upgrades and application rollouts, safely."""


@app.command()
def demo() -> None:
    """Build the embedded sandbox (moto + a simulated cluster) and show what it holds.

    Needs no AWS account and no cluster: everything runs in this process, on virtual time.
    """
    from upgrader.sandbox.demo import run_demo

    with reported_errors():
        run_demo(stdout)


def main(argv: list[str] | None = None) -> None:
    command: Callable[..., object] = app
    command(args=argv if argv is not None else sys.argv[1:], prog_name="eksup")
