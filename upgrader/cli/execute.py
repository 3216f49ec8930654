"""`eksup execute`: run a plan step by step (confirm, lock, journal, resume, dry run)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from upgrader.cli.numbers import SECONDS, WEEK, within
from upgrader.cli.options import (
    ClusterOption,
    ContextOption,
    ProfileOption,
    RegionOption,
    SandboxOption,
)
from upgrader.cli.output import confirm, reported_errors, stderr, stdout
from upgrader.core.errors import UserError


class LogFormat(StrEnum):
    PLAIN = "plain"
    JSON = "json"


def execute(
    plan_file: Annotated[Path, typer.Argument(help="The plan `eksup plan --out` wrote.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and check everything; change nothing.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a run that stopped (journal).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before the first change.")] = False,
    take_over_lock: Annotated[
        bool, typer.Option("--take-over-lock", help="Take the lock of a run that died.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also evict pods no controller owns (lost).")
    ] = False,
    delete_emptydir_data: Annotated[
        bool, typer.Option("--delete-emptydir-data", help="Also evict pods with emptyDir data.")
    ] = False,
    grace_period: Annotated[
        int | None,
        typer.Option(
            "--grace-period",
            help="Seconds; default: each pod's own.",
            callback=within(0, high=WEEK, unit=SECONDS),
        ),
    ] = None,
    max_grace_period: Annotated[
        int | None,
        typer.Option(
            "--max-grace-period",
            help="Cap on each pod's own grace.",
            callback=within(0, high=WEEK, unit=SECONDS),
        ),
    ] = None,
    surge: Annotated[
        bool,
        typer.Option(
            "--surge",
            help="Before a drain, raise PDB-bound Deployments' replicas so their pods move "
            "at once (originals journaled, restored after the drain or on --resume).",
        ),
    ] = False,
    skip_wait_for_delete_timeout: Annotated[
        int,
        typer.Option(
            "--skip-wait-for-delete-timeout",
            min=0,
            help="Seconds; pods deleted longer ago are not waited for (a dead kubelet). 0: wait.",
        ),
    ] = 0,
    disable_eviction: Annotated[
        bool,
        typer.Option(
            "--disable-eviction",
            help="DELETE drained pods instead of evicting them: PodDisruptionBudgets are NOT "
            "honoured. Asked in the confirmation; each deletion is journaled.",
        ),
    ] = False,
    pod_selector: Annotated[
        str | None,
        typer.Option("--pod-selector", help="Drain only the pods this label selector matches."),
    ] = None,
    replan: Annotated[
        bool,
        typer.Option(
            "--replan",
            help="Make the plan again from the cluster as it is now (same target and node "
            "strategy), keep the old one as <plan>.stale.json, and run the new one.",
        ),
    ] = False,
    cluster: ClusterOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="Progress on stderr: plain or json lines.")
    ] = LogFormat.PLAIN,
) -> None:
    """Run a plan step by step: confirm, lock, journal, resume, dry-run.

    Exit code 0: done; 1: a step failed; 2: (dry run) the real run would be blocked;
    3: refused before any change; 4: stopped part-way (re-run with --resume).
    """
    from upgrader.cli.drain_flags import drain_flags
    from upgrader.cli.targets import open_target
    from upgrader.execute.steps.base import ExecuteOptions
    from upgrader.plan.checks.config import load_config
    from upgrader.plan.document import load_plan
    from upgrader.usecases.admission import region_for, target_flags
    from upgrader.usecases.execute import run_plan

    with reported_errors():
        if replan and resume:
            raise UserError("--replan makes a new plan, --resume continues the old one: pick one")
        plan_doc = load_plan(plan_file)
        settings = load_config(None)
        options = ExecuteOptions(
            dry_run=dry_run,
            resume=resume,
            yes=yes,
            take_over_lock=take_over_lock,
            force=force,
            delete_emptydir_data=delete_emptydir_data,
            grace_period_seconds=grace_period,
            max_grace_period_seconds=max_grace_period,
            surge=surge,
            **drain_flags(skip_wait_for_delete_timeout, disable_eviction, pod_selector),
            target_flags=target_flags(sandbox=sandbox, context=context, profile=profile),
        )
        with open_target(
            cluster or plan_doc.cluster,
            region=region_for(plan_doc, region, sandbox=sandbox),
            profile=profile,
            context=context,
            sandbox=sandbox,
        ) as target:
            if replan:
                from upgrader.usecases.replan import replan as plan_again

                again = plan_again(plan_doc, plan_file, target, settings, write=not dry_run)
                stderr.print(again.summary(), markup=False, highlight=False, soft_wrap=True)
                plan_doc = again.plan
            result = run_plan(
                plan_doc,
                plan_file,
                target,
                options,
                confirm=confirm,
                log_format=log_format.value,
                config=settings,
            )
        stdout.print(result.summary(), highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)
