"""What `execute` and `approve` prove before they act on a plan, in one place.

In order: the plan is the content that was written (`integrity.verify_digest`), it holds every
gate policy requires (`integrity.check_policy`: the runbook plus `.eksup.yaml`), the region
asked for is the plan's, and the target reached is the very cluster the plan is for
(`identity.prove`: AWS account, region, ARN, endpoint, and the kube context pointing at it).
Any failure is a `RefusedError` (exit 3) naming the difference, before any change.
"""

from __future__ import annotations

from pathlib import Path

from upgrader.core.errors import RefusedError
from upgrader.execute.integrity import check_policy, verify_digest
from upgrader.plan.checks.config import Config
from upgrader.plan.document import Plan
from upgrader.usecases.identity import prove
from upgrader.usecases.targets import Target


def check_document(plan: Plan, plan_file: Path, config: Config) -> None:
    """What the file alone must pass."""
    verify_digest(plan, str(plan_file))
    check_policy(plan, config)


def region_for(plan: Plan, asked: str | None, *, sandbox: bool) -> str:
    """The region to open: the plan's. A different one asked for (--region, or AWS_REGION,
    which the option reads too) is refused rather than silently preferred."""
    if asked and not sandbox and asked != plan.region:
        raise RefusedError(
            f"region {asked} (from --region or AWS_REGION) is not the plan's region "
            f"{plan.region}: nothing was changed; unset it or pass --region {plan.region}"
        )
    return plan.region


def admit(plan: Plan, plan_file: Path, target: Target, config: Config) -> None:
    check_document(plan, plan_file, config)
    prove(plan, target, plan_file=str(plan_file))


def target_flags(*, sandbox: bool, context: str | None, profile: str | None) -> tuple[str, ...]:
    """How this command reached the cluster, for the commands it prints."""
    flags: list[str] = ["--sandbox"] if sandbox else []
    if context:
        flags += ["--context", context]
    if profile:
        flags += ["--profile", profile]
    return tuple(flags)
