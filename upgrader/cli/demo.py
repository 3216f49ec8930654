"""`eksup demo`: the whole tool on the embedded sandbox."""

from __future__ import annotations

from typing import Annotated

import typer

from upgrader.cli.output import reported_errors, stdout


def demo(
    fleet: Annotated[bool, typer.Option("--fleet", help="Only the fleet wave.")] = False,
) -> None:
    """The whole tool on the embedded sandbox: plan, approve and execute an upgrade, a canary,
    then a fleet wave (management -> dev -> prod) that stops when a cluster fails.

    Needs no AWS account and no cluster: everything runs in this process, on virtual time.
    """
    with reported_errors():
        if fleet:
            from upgrader.demo.fleet import run_fleet_demo

            run_fleet_demo(stdout)
            return
        from upgrader.demo.tour import run_demo

        run_demo(stdout)
