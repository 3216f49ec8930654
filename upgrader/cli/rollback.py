"""`eksup rollback`: roll the control plane back one minor version."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from upgrader.cli.options import (
    ClusterOption,
    ContextOption,
    ProfileOption,
    RegionOption,
    SandboxOption,
)
from upgrader.cli.output import confirm, reported_errors, stdout


def rollback(
    cluster: ClusterOption = None,
    region: RegionOption = None,
    to: Annotated[
        str | None, typer.Option("--to", help="The version to go back to (default: N-1).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before the rollback.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and check everything; change nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Override ERROR rollback readiness insights and newer nodes (EKS's force).",
        ),
    ] = False,
    nodegroups: Annotated[
        bool,
        typer.Option(
            "--nodegroups", help="Roll managed node groups back first (UpdateNodegroupVersion)."
        ),
    ] = False,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Roll the control plane back one minor version, within 7 days of an in-place upgrade.

    Says plainly why not when EKS does not allow it, and what a rollback leaves to you (node
    groups, self-managed and Fargate nodes, add-ons). Exit code 0: rolled back (or, with
    --dry-run, would be); 3: refused, nothing changed; 1: failed.
    """
    from upgrader.cli.targets import open_target
    from upgrader.execute.reporter import PlainReporter
    from upgrader.usecases.rollback import RollbackOptions, run_rollback

    with reported_errors():
        with open_target(
            cluster, region=region, profile=profile, context=context, sandbox=sandbox
        ) as target:
            options = RollbackOptions(
                to=to,
                yes=yes,
                dry_run=dry_run,
                force=force,
                nodegroups=nodegroups,
                region=target.region,
            )
            result = run_rollback(
                target.control_plane,
                target.kube,
                target.clock,
                target.cluster_name,
                options,
                reporter=PlainReporter(sys.stderr, target.clock),
                confirm=confirm,
            )
        stdout.print(result.summary(), markup=False, highlight=False, soft_wrap=True)
