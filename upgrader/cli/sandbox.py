"""`eksup sandbox ...`: the demo cluster served on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from upgrader.cli.numbers import within
from upgrader.cli.output import reported_errors, stdout

sandbox_app = typer.Typer(
    help="The demo cluster served on loopback: its Kubernetes API and AWS side (moto).",
    no_args_is_help=True,
)


@sandbox_app.callback()
def sandbox_needs_its_extra() -> None:
    # No docstring: it would replace the group's help. One line on how to install the
    # `sandbox` extra, before any command below imports it.
    from upgrader.core.sandbox_extra import require_sandbox

    with reported_errors():
        require_sandbox()


SandboxDirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="EKSUP_SANDBOX_DIR",
        help="Where the sandbox keeps its kubeconfig, pid and log; `--sandbox` looks there too.",
    ),
]
DEFAULT_SANDBOX_DIR = Path(".eksup/sandbox")
RATE = within(0, above=True, high=10_000)  # virtual s per real s; the tickers need > 0


@sandbox_app.command("up")
def sandbox_up(
    directory: SandboxDirOption = DEFAULT_SANDBOX_DIR,
    rate: Annotated[
        float,
        typer.Option("--rate", help="Virtual seconds per real second.", callback=RATE),
    ] = 10.0,
    fleet: Annotated[
        bool, typer.Option("--fleet", help="Serve the sandbox fleet (`eksup fleet example`).")
    ] = False,
) -> None:
    """Serve the demo cluster on loopback, in the background: its Kubernetes API and AWS (moto)."""
    from upgrader.sandbox import daemon

    with reported_errors():
        stdout.print(daemon.up(directory, rate, fleet=fleet), highlight=False, soft_wrap=True)


@sandbox_app.command("status")
def sandbox_status(directory: SandboxDirOption = DEFAULT_SANDBOX_DIR) -> None:
    """Say whether the sandbox runs and where."""
    from upgrader.sandbox import daemon

    with reported_errors():
        stdout.print(daemon.status(directory), highlight=False, soft_wrap=True)


@sandbox_app.command("down")
def sandbox_down(directory: SandboxDirOption = DEFAULT_SANDBOX_DIR) -> None:
    """Stop the sandbox."""
    from upgrader.sandbox import daemon

    with reported_errors():
        stdout.print(daemon.down(directory), highlight=False)


@sandbox_app.command("serve", hidden=True)
def sandbox_serve(
    directory: SandboxDirOption = DEFAULT_SANDBOX_DIR,
    rate: Annotated[float, typer.Option("--rate", callback=RATE)] = 10.0,
    # Only on the command line, where `sandbox down` looks for it: proof the pid is ours.
    token: Annotated[str, typer.Option("--token")] = "",  # noqa: ARG001
    fleet: Annotated[bool, typer.Option("--fleet")] = False,
) -> None:
    """Serve in the foreground (what `up` starts)."""
    from upgrader.sandbox import daemon

    with reported_errors():
        if fleet:
            from upgrader.demo.served_fleet import serve_fleet

            serve_fleet(directory, rate)
        else:
            daemon.serve(directory, rate)
