"""`eksup iam-policy`: the IAM policy a command needs."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from upgrader.cli.output import reported_errors
from upgrader.core.errors import UserError


class PolicyFor(StrEnum):
    PLAN = "plan"
    DRY_RUN = "dry-run"
    EXECUTE = "execute"
    ROLLOUT = "rollout"
    FLEET = "fleet"


def iam_policy(
    command: Annotated[
        PolicyFor,
        typer.Argument(
            help="plan, dry-run (execute --dry-run), execute, rollout, or fleet (the identity "
            "a fleet runs as: give --fleet)."
        ),
    ],
    fleet: Annotated[
        Path | None,
        typer.Option("--fleet", help="fleet: the fleet.yaml whose member roles it assumes."),
    ] = None,
) -> None:
    """Print the IAM policy (JSON) a command needs, derived from the AWS calls eksup makes."""
    from upgrader.adapters.aws.iam_policy import fleet_policy, policy_json

    with reported_errors():
        if command is not PolicyFor.FLEET:
            if fleet is not None:
                raise UserError("--fleet is for `eksup iam-policy fleet`; drop it")
            sys.stdout.write(policy_json(command.value))
            return
        if fleet is None:
            raise UserError(
                "the fleet's policy names the member roles it assumes: pass --fleet fleet.yaml"
            )
        from upgrader.fleet.spec_file import load_fleet_spec

        spec = load_fleet_spec(fleet)
        roles = [c.role_arn for c in spec.clusters if c.role_arn]
        direct = [c.name for c in spec.clusters if not c.role_arn]
        sys.stdout.write(json.dumps(fleet_policy(roles, direct_members=bool(direct)), indent=2))
        sys.stdout.write("\n")
        note = "each member role needs `eksup iam-policy execute`, and must trust this identity"
        if direct:
            note += f"; {', '.join(direct)} (no roleArn) use this identity's own, included above"
        sys.stderr.write(f"note: {note}\n")
