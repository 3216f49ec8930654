"""`eksup iam-policy`: each command's policy covers every AWS call the command makes (issue 12,
item 8). The commands run end to end on the moto sandbox while every botocore call made through
the adapters (inside `AwsCall`, not the sandbox's own seeding) is recorded; a call whose action
the command's policy lacks fails the test, naming it."""

from __future__ import annotations

import ast
import inspect
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from typer.testing import CliRunner

from tests.cli.test_rollout_command import Shared, _world, shared  # noqa: F401 (a fixture)
from upgrader.adapters.aws import assume
from upgrader.adapters.aws.iam_policy import (
    ASSUME,
    IAM_PREFIX,
    adapter_actions,
    command_actions,
    fleet_policy,
    is_read,
    policy,
)
from upgrader.adapters.aws.retry import AwsCall
from upgrader.cli import app
from upgrader.sandbox.weighted_alb import ALARM

_inside = threading.local()


class Recorder:
    def __init__(self) -> None:
        self.calls: set[str] = set()
        self._lock = threading.Lock()

    def add(self, action: str) -> None:
        with self._lock:
            self.calls.add(action)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    found = Recorder()
    real_call: Callable[..., Any] = AwsCall.__call__
    real_api: Callable[..., Any] = getattr(BaseClient, "_make_api_call")  # noqa: B009

    def call(self: AwsCall, request: Callable[[], Any]) -> Any:
        depth = getattr(_inside, "depth", 0)
        _inside.depth = depth + 1
        try:
            return real_call(self, request)
        finally:
            _inside.depth = depth

    def api(self: BaseClient, operation: str, params: Any) -> Any:
        if getattr(_inside, "depth", 0):
            found.add(f"{IAM_PREFIX[self.meta.service_model.service_name]}:{operation}")
        return real_api(self, operation, params)

    monkeypatch.setattr(AwsCall, "__call__", call)
    monkeypatch.setattr(BaseClient, "_make_api_call", api)
    return found


def run(*args: str, obj: object = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"}, obj=obj)
    return result.exit_code, result.stdout, result.stderr


def _missing(recorder: Recorder, command: str) -> list[str]:
    return sorted(recorder.calls - command_actions(command))


def test_plan_dry_run_and_execute_call_only_what_their_policies_allow(
    tmp_path: Path, recorder: Recorder
) -> None:
    plan = tmp_path / "plan.json"
    code, _, stderr = run("plan", "--sandbox", "--to", "1.30", "--out", str(plan))
    assert code == 0, stderr
    assert recorder.calls  # the recording works
    assert _missing(recorder, "plan") == []
    assert all(is_read(a) for a in recorder.calls)

    recorder.calls.clear()
    flags = ("--sandbox", "--force", "--delete-emptydir-data")
    code, _, stderr = run("execute", str(plan), *flags, "--dry-run")
    assert code == 0, stderr
    assert _missing(recorder, "dry-run") == []

    recorder.calls.clear()
    code, _, stderr = run("execute", str(plan), *flags, "--yes")
    assert code == 4, stderr  # the approval gate
    code, _, stderr = run("approve", str(plan), "--sandbox", "--step", "approve-upgrade")
    assert code == 0, stderr
    code, stdout, stderr = run("execute", str(plan), *flags, "--yes", "--resume")
    assert code == 0, stderr
    assert "succeeded" in stdout
    assert "eks:UpdateClusterVersion" in recorder.calls
    assert _missing(recorder, "execute") == []


@pytest.mark.parametrize(
    "strategy",
    [
        "{kind: canary, steps: [10, 100], pause_seconds: 60, scale_down_delay_seconds: 300}",
        "{kind: blue-green, pause_seconds: 60, scale_down_delay_seconds: 300}",
    ],
)
def test_rollout_calls_only_what_its_policy_allows(
    shared: Shared,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    recorder: Recorder,
    strategy: str,
) -> None:
    world = _world(shared, tmp_path, strategy)  # its CLI runner hands in the sandbox's ports
    code, _, stderr = world.run("run", "--dry-run")
    assert code == 0, stderr
    code, stdout, stderr = world.run("run", "--yes")
    assert code == 0, stderr
    assert "succeeded" in stdout
    code, _, stderr = world.run("status")
    assert code == 0, stderr
    shared.sandbox.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="ALARM", StateReason="5xx"
    )
    code, _, stderr = world.run("run", "--yes")  # a second rollout, rolled back by the gate
    shared.sandbox.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="OK", StateReason="quiet"
    )
    assert {"elasticloadbalancing:ModifyRule", "cloudwatch:DescribeAlarms"} <= recorder.calls
    assert _missing(recorder, "rollout") == []


def test_plan_policy_is_read_only_and_execute_adds_the_changes() -> None:
    plan, execute = command_actions("plan"), command_actions("execute")
    assert all(is_read(a) for a in plan)
    assert plan < execute
    assert {"eks:UpdateClusterVersion", "eks:CreateNodegroup", "iam:PassRole"} <= execute
    assert command_actions("dry-run") - plan == {"ec2:CreateLaunchTemplateVersion"}  # DryRun
    assert not any(a.startswith(("elasticloadbalancing:", "route53:")) for a in execute)


def test_every_adapter_call_is_in_some_policy() -> None:
    # A new adapter method (or a new call in one) is in the table the policies are made from.
    table = adapter_actions()
    assert {"Boto3ControlPlane", "Boto3Compute", "Boto3LoadBalancers", "Boto3Dns"} <= set(table)
    everything = {a for methods in table.values() for actions in methods.values() for a in actions}
    covered = command_actions("execute") | command_actions("rollout")
    assert everything <= covered
    assert table["Boto3ControlPlane"]["list_insights"] == {
        "eks:ListInsights",
        "eks:DescribeInsight",
    }


@pytest.mark.parametrize("command", ["plan", "dry-run", "execute", "rollout"])
def test_the_cli_prints_the_policy_as_json(command: str) -> None:
    code, stdout, _ = run("iam-policy", command)
    assert code == 0
    document = json.loads(stdout)
    assert document == policy(command)
    assert document["Version"] == "2012-10-17"
    printed = {a for s in document["Statement"] for a in s["Action"]}
    assert printed == command_actions(command)


def test_the_example_pull_request_workflow_names_the_read_only_policies() -> None:
    workflow = Path(__file__).resolve().parents[2] / ".github/workflows/examples"
    text = (workflow / "eksup-pull-request.yml").read_text()
    assert "eksup iam-policy plan" in text
    assert "eksup iam-policy dry-run" in text


_FLEET = """\
target: "1.30"
clusters:
  - {name: dev-a, account: "123456789012", region: eu-west-1, labels: {env: dev},
     roleArn: "arn:aws:iam::123456789012:role/eksup-fleet"}
  - {name: dev-b, account: "123456789012", region: eu-west-1, labels: {env: dev},
     roleArn: "arn:aws:iam::123456789012:role/eksup-fleet"}
  - {name: prod, account: "210987654321", region: us-east-1, labels: {env: prod},
     roleArn: "arn:aws:iam::210987654321:role/eksup-prod"}
stages:
  - {name: dev, selector: env=dev}
  - {name: prod, selector: env=prod}
"""


def test_the_fleet_policy_assumes_exactly_the_member_roles(tmp_path: Path) -> None:
    spec = tmp_path / "fleet.yaml"
    spec.write_text(_FLEET, encoding="utf-8")
    code, stdout, stderr = run("iam-policy", "fleet", "--fleet", str(spec))
    assert code == 0, stderr
    assert json.loads(stdout)["Statement"] == [
        {
            "Sid": "EksupAssumeMemberRoles",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Resource": [
                "arn:aws:iam::123456789012:role/eksup-fleet",
                "arn:aws:iam::210987654321:role/eksup-prod",
            ],
        }
    ]
    assert "each member role needs `eksup iam-policy execute`" in stderr


def test_a_member_without_a_role_adds_executes_policy_to_the_fleets(tmp_path: Path) -> None:
    spec = tmp_path / "fleet.yaml"
    spec.write_text(
        _FLEET.replace(',\n     roleArn: "arn:aws:iam::210987654321:role/eksup-prod"}', "}"),
        encoding="utf-8",
    )
    code, stdout, stderr = run("iam-policy", "fleet", "--fleet", str(spec))
    assert code == 0, stderr
    statements = json.loads(stdout)["Statement"]
    assert statements[:-1] == policy("execute")["Statement"]
    assert statements[-1]["Resource"] == ["arn:aws:iam::123456789012:role/eksup-fleet"]
    assert "prod (no roleArn)" in stderr


def test_the_fleets_assume_role_is_the_call_the_member_opener_makes() -> None:
    # The one hand-kept fact of the fleet's policy, checked against the code that makes it.
    tree = ast.parse(inspect.getsource(assume))
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert ASSUME[1] in called
    assert fleet_policy(["arn:aws:iam::123456789012:role/r"], direct_members=False)["Statement"][0][
        "Action"
    ] == ["sts:AssumeRole"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("iam-policy", "fleet"), "pass --fleet fleet.yaml"),
        (
            ("iam-policy", "plan", "--fleet", "fleet.yaml"),
            "--fleet is for `eksup iam-policy fleet`",
        ),
    ],
)
def test_the_fleet_option_goes_with_the_fleet_policy_only(
    args: tuple[str, ...], message: str
) -> None:
    code, stdout, stderr = run(*args)
    assert code != 0
    assert stdout == ""
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
