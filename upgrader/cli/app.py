"""The `eksup` Typer app: the root options (`--version`), every command in help order, `main`.

Commands stay thin: they build the ports (lazily, so `eksup --help` imports neither boto3 nor
the kubernetes client), call the logic, and render. Each command group has its own module
here; this one only puts them together.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from upgrader import __version__
from upgrader.cli import approve, demo, execute, iam_policy, plan, rollback, status
from upgrader.cli.fleet import fleet_app  # its commands import lazily
from upgrader.cli.help import hide_flag_types
from upgrader.cli.output import stderr, stdout
from upgrader.cli.rollout import rollout_app
from upgrader.cli.runbook import runbook_app
from upgrader.cli.sandbox import sandbox_app
from upgrader.core.exit_codes import ExitCode
from upgrader.render.console import fit

app = typer.Typer(
    name="eksup",
    help="Plan and execute Amazon EKS upgrades and application rollouts, safely.",
    no_args_is_help=True,
    # `eksup --install-completion` / `--show-completion`: Typer's, for bash, zsh, fish, pwsh.
    add_completion=True,
    # Locals can hold credentials: never print them in a traceback.
    pretty_exceptions_show_locals=False,
)

hide_flag_types()


def _version_callback(show: bool) -> None:
    if show:
        fit(stdout)
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
    del version  # handled eagerly by its callback
    fit(stdout)
    fit(stderr)


# The order here is the order `eksup --help` lists them in.
app.command()(demo.demo)
app.command()(plan.plan)
app.command()(plan.schema)
app.command()(execute.execute)
app.command()(status.status)
app.command()(approve.approve)
app.command()(rollback.rollback)
app.command("iam-policy")(iam_policy.iam_policy)
app.add_typer(runbook_app, name="runbook")
app.add_typer(rollout_app, name="rollout")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(fleet_app, name="fleet")


def main(argv: list[str] | None = None) -> None:
    command: Callable[..., object] = app
    command(args=argv if argv is not None else sys.argv[1:], prog_name="eksup")
