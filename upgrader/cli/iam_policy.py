"""`eksup iam-policy`: the IAM policy a command needs."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from upgrader.cli.output import reported_errors


class PolicyFor(StrEnum):
    PLAN = "plan"
    DRY_RUN = "dry-run"
    EXECUTE = "execute"
    ROLLOUT = "rollout"


def iam_policy(
    command: Annotated[
        PolicyFor, typer.Argument(help="plan, dry-run (execute --dry-run), execute or rollout.")
    ],
) -> None:
    """Print the IAM policy (JSON) a command needs, derived from the AWS calls eksup makes."""
    from upgrader.adapters.aws.iam_policy import policy_json

    with reported_errors():
        sys.stdout.write(policy_json(command.value))
