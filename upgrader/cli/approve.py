"""`eksup approve`: approve the gate a stopped run waits at."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from upgrader.cli.options import (
    ClusterOption,
    ContextOption,
    ProfileOption,
    RegionOption,
    SandboxOption,
)
from upgrader.cli.output import reported_errors, stderr, stdout


def approve(
    plan_file: Annotated[Path, typer.Argument(help="The plan whose run waits at a gate.")],
    step: Annotated[
        str | None,
        typer.Option("--step", help="The approval step (default: the one the run waits at)."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who approves (default: the AWS caller's ARN, from STS)."),
    ] = None,
    comment: Annotated[
        str, typer.Option("--comment", help="Why, for the journal (a ticket, a review).")
    ] = "",
    cluster: ClusterOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Approve the gate a stopped run waits at; `eksup execute PLAN --resume` then continues.

    Records who and when in the journal and its ConfigMap (so a run on another machine sees
    it). Runs nothing. Exit code 3: nothing waits for approval, or the journal is another
    plan's.
    """
    from upgrader.cli.targets import open_target
    from upgrader.plan.checks.config import load_config
    from upgrader.plan.document import load_plan
    from upgrader.usecases.admission import admit, region_for, target_flags
    from upgrader.usecases.approve import approve as record_approval
    from upgrader.usecases.approve import approver, caller_arn

    def warn(message: str) -> None:
        stderr.print(f"eksup: warning: {message}", markup=False, highlight=False)

    with reported_errors():
        plan_doc = load_plan(plan_file)
        with open_target(
            cluster or plan_doc.cluster,
            region=region_for(plan_doc, region, sandbox=sandbox),
            profile=profile,
            context=context,
            sandbox=sandbox,
        ) as target:
            admit(plan_doc, plan_file, target, load_config(None))
            result = record_approval(
                plan_doc,
                plan_file,
                target.kube,
                target.clock,
                approver(by, comment, caller_arn(target.caller, warn)),
                step_id=step,
                warn=warn,
                target_flags=target_flags(sandbox=sandbox, context=context, profile=profile),
            )
        stdout.print(result.summary(str(plan_file)), markup=False, highlight=False, soft_wrap=True)
