"""The IAM policy each eksup command needs, derived from the code of the AWS adapters.

A hand-written policy drifts: an adapter learns a new call and the pipeline fails in production
with AccessDenied, or the policy keeps a write a command no longer makes. So the policy is read
off the adapters' source: every `<client>.<operation>(...)` and `get_paginator("<operation>")`
on a client from `self.clients.<service>`, per adapter method (following calls to the class's
own helpers), named as IAM names it (`elbv2.modify_rule` -> `elasticloadbalancing:ModifyRule`,
with botocore's own operation names). A test records every botocore call the commands make on
the moto sandbox and fails when one is missing from the policy of its command.

Which adapters each command may call is the one hand-kept fact here (`COMMANDS`): `plan` and
`execute --dry-run` only read (a dry run records its changes instead of making them), `execute`
reads and changes the cluster's control plane and compute, `rollout` reads and changes traffic
(ELBv2, Route 53) and reads CloudWatch for its gates.

Actions AWS authorises on the side of a call are added where the call is made
(`IMPLIED`): creating a managed node group passes its node role to EKS (iam:PassRole, see
"Amazon EKS node IAM role" in the EKS User Guide).
"""

from __future__ import annotations

import ast
import inspect
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import botocore.session

from upgrader.adapters.aws import compute as boto3_compute
from upgrader.adapters.aws import eks as boto3_eks
from upgrader.adapters.aws import sts as boto3_sts
from upgrader.adapters.aws.traffic import dns as boto3_dns
from upgrader.adapters.aws.traffic import load_balancers as boto3_load_balancers
from upgrader.adapters.aws.traffic import metrics as boto3_metrics

# boto3 client name -> IAM service prefix (CloudWatch signs as "monitoring", IAM says cloudwatch).
IAM_PREFIX = {
    "eks": "eks",
    "ec2": "ec2",
    "autoscaling": "autoscaling",
    "ssm": "ssm",
    "elbv2": "elasticloadbalancing",
    "route53": "route53",
    "cloudwatch": "cloudwatch",
    "sts": "sts",
}
_READ_VERBS = ("Describe", "List", "Get")

# Each command's adapter classes, and whether it may change anything through them.
COMMANDS: dict[str, tuple[tuple[str, ...], bool]] = {
    # Boto3CallerIdentity: who approves (sts:GetCallerIdentity, which IAM never denies).
    "plan": (("Boto3ControlPlane", "Boto3Compute", "Boto3CallerIdentity"), False),
    # Reads, plus EC2's DryRun checks (a launch template version it would create).
    "dry-run": (("Boto3ControlPlane", "Boto3Compute", "Boto3CallerIdentity"), False),
    "execute": (("Boto3ControlPlane", "Boto3Compute", "Boto3CallerIdentity"), True),
    "rollout": (("Boto3LoadBalancers", "Boto3Dns", "Boto3Metrics"), True),
}
# Each module whose source holds adapter classes (the reader parses classes, not re-exports).
_MODULES: tuple[ModuleType, ...] = (
    boto3_eks,
    boto3_compute,
    boto3_load_balancers,
    boto3_dns,
    boto3_metrics,
    boto3_sts,
)

IMPLIED: dict[str, tuple[str, ...]] = {"eks:CreateNodegroup": ("iam:PassRole",)}


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(_READ_VERBS)


@cache
def _operation_names(client: str) -> dict[str, str]:
    """snake_case method name -> API operation name, from botocore's service model."""
    model = botocore.session.get_session().get_service_model(client)
    from botocore import xform_name

    return {xform_name(name): name for name in model.operation_names}


def _client_of(node: ast.expr) -> str | None:
    """`self.clients.<client>` -> client."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "clients"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "self"
    ):
        return node.attr
    return None


def _dry_run(call: ast.Call) -> bool:
    return any(
        k.arg == "DryRun" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )


def _method_calls(method: ast.FunctionDef) -> tuple[set[tuple[str, str, bool]], set[str]]:
    """(client, snake operation, DryRun=True) the method calls, and the `self.<helper>`s."""
    aliases: dict[str, str] = {}
    for node in ast.walk(method):
        if isinstance(node, ast.Assign) and (client := _client_of(node.value)) is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    aliases[target.id] = client
    calls: set[tuple[str, str, bool]] = set()
    helpers: set[str] = set()
    for node in ast.walk(method):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        receiver, name = node.func.value, node.func.attr
        client = aliases.get(receiver.id) if isinstance(receiver, ast.Name) else None
        client = client or _client_of(receiver)
        if client is not None:
            if name == "get_paginator":
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    calls.add((client, first.value, False))
            else:
                calls.add((client, name, _dry_run(node)))
        elif isinstance(receiver, ast.Name) and receiver.id == "self":
            helpers.add(name)
    return calls, helpers


def _action(client: str, snake: str) -> str:
    if client not in IAM_PREFIX:
        raise ValueError(f"adapter uses boto3 client {client!r}: add its IAM prefix")
    operation = _operation_names(client).get(snake)
    if operation is None:
        raise ValueError(f"{client}.{snake} is not an operation of {client}")
    return f"{IAM_PREFIX[client]}:{operation}"


Calls = dict[str, tuple[set[tuple[str, str, bool]], set[str]]]


def _closure(direct: Calls, name: str, seen: set[str], dry_run_only: bool) -> set[str]:
    """The actions of method `name` and of the class's own helpers it calls."""
    calls, helpers = direct[name]
    actions = {_action(client, op) for client, op, dry in calls if dry or not dry_run_only}
    for helper in helpers - seen:
        if helper in direct:
            actions |= _closure(direct, helper, seen | {helper}, dry_run_only)
    return actions


@cache
def adapter_actions(*, dry_run_only: bool = False) -> dict[str, dict[str, frozenset[str]]]:
    """Adapter class -> public method -> the IAM actions it needs (`dry_run_only`: only those
    it calls with EC2's `DryRun=True`, which asks "would this be allowed?" and changes
    nothing, but needs the permission all the same)."""
    found: dict[str, dict[str, frozenset[str]]] = {}
    for module in _MODULES:
        tree = ast.parse(inspect.getsource(module))
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            methods = {m.name: m for m in cls.body if isinstance(m, ast.FunctionDef)}
            direct = {name: _method_calls(m) for name, m in methods.items()}

            table = {
                name: frozenset(_closure(direct, name, {name}, dry_run_only))
                for name in methods
                if not name.startswith("_")
            }
            if any(table.values()) or cls.name.startswith("Boto3"):
                found[cls.name] = table
    return found


def command_actions(command: str) -> frozenset[str]:
    """Every IAM action `command` may need."""
    classes, writes = COMMANDS[command]
    table = adapter_actions()
    actions = {a for cls in classes for method in table[cls].values() for a in method}
    if not writes:
        actions = {a for a in actions if is_read(a)}
    if command == "dry-run":
        checks = adapter_actions(dry_run_only=True)
        actions |= {a for cls in classes for method in checks[cls].values() for a in method}
    actions |= {extra for a in actions for extra in IMPLIED.get(a, ())}
    return frozenset(actions)


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    condition: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": list(self.actions),
            "Resource": "*",
        }
        if self.condition:
            found["Condition"] = dict(self.condition)
        return found


def policy(command: str) -> dict[str, Any]:
    """The IAM policy document for `command`: reads, writes and role passing, each a
    statement, so a reviewer sees at a glance what may change."""
    actions = command_actions(command)
    pass_role = sorted(a for a in actions if a == "iam:PassRole")
    rest = [a for a in actions if a != "iam:PassRole"]
    changes = "EksupDryRunChecks" if command == "dry-run" else "EksupChanges"
    statements = [
        Statement("EksupReads", tuple(sorted(a for a in rest if is_read(a)))),
        Statement(changes, tuple(sorted(a for a in rest if not is_read(a)))),
        Statement(
            "EksupPassNodeRoleToEks",
            tuple(pass_role),
            {"StringEquals": {"iam:PassedToService": "eks.amazonaws.com"}},
        ),
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [s.to_dict() for s in statements if s.actions],
    }


def policy_json(command: str) -> str:
    return json.dumps(policy(command), indent=2) + "\n"


# The fleet's one AWS call of its own (`upgrader.adapters.aws.assume`, not an adapter class):
# a member whose fleet.yaml entry names a roleArn is reached through STS AssumeRole into it.
ASSUME = ("sts", "assume_role")


def fleet_policy(role_arns: Sequence[str], *, direct_members: bool) -> dict[str, Any]:
    """The policy of the identity a fleet runs as (`eksup fleet plan|run`, or the Argo steps'
    ServiceAccount): AssumeRole on exactly the member roles; plus what `execute` needs when a
    member has no roleArn and is reached with this identity's own credentials. The member roles
    themselves need `execute`'s policy."""
    statements: list[dict[str, Any]] = policy("execute")["Statement"] if direct_members else []
    if role_arns:
        statements.append(
            {
                "Sid": "EksupAssumeMemberRoles",
                "Effect": "Allow",
                "Action": [_action(*ASSUME)],
                "Resource": sorted(set(role_arns)),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def all_actions(commands: Iterable[str] = tuple(COMMANDS)) -> frozenset[str]:
    return frozenset(a for c in commands for a in command_actions(c))
