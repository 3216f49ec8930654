"""A blocked AL2 -> 1.33+ path has a way through: `eksup plan --ami-type al2023|bottlerocket`
gives each AL2 managed group's green groups the new AMI type, states the user-data caveats,
and the executed step creates green with that type."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.execute.worlds import CLUSTER, Runner, blue_green, control_plane, hand_plan
from upgrader.cli import app
from upgrader.execute.engine import RunStatus
from upgrader.plan.ami_move import green_ami_type
from upgrader.sandbox.demo_world import DEMO_VERSION
from upgrader.sandbox.world import Sandbox
from upgrader.versions import KubeVersion, default_catalog


# lead: sandbox target (relies on the demo's node groups being Amazon Linux 2)
def _blocked_target() -> str:
    catalog = default_catalog()
    return next(
        v
        for v in catalog.known_versions()
        if KubeVersion.parse(v) > KubeVersion.parse(DEMO_VERSION) and not catalog.has_al2_amis(v)
    )


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def test_the_blocked_al2_path_names_the_way_through() -> None:
    code, stdout, _ = run("plan", "--sandbox", "--to", _blocked_target(), "--format", "json")
    assert code == 2
    (blocking,) = [
        f
        for f in json.loads(stdout)["findings"]
        if f["check_id"] == "al2-ami" and f["severity"] == "error"
    ]
    assert "--ami-type al2023" in blocking["remedy"]


@pytest.mark.parametrize(
    ("family", "green"),
    [("al2023", "AL2023_x86_64_STANDARD"), ("bottlerocket", "BOTTLEROCKET_x86_64")],
)
def test_ami_type_moves_green_groups_off_al2_and_states_the_caveats(
    family: str, green: str
) -> None:
    target = _blocked_target()
    code, stdout, stderr = run(
        "plan", "--sandbox", "--to", target, "--ami-type", family, "--format", "json"
    )
    assert code == 0, stderr
    plan = json.loads(stdout)
    greens = [s for s in plan["steps"] if s["kind"] == "nodegroup-blue-green"]
    assert greens
    assert {s["params"]["ami_type"] for s in greens} == {green}
    (caveat,) = [f for f in plan["findings"] if f["check_id"] == "al2-ami"]
    assert caveat["severity"] == "warning"
    assert ("nodeadm" if family == "al2023" else "TOML") in caveat["remedy"]


def test_ami_type_is_refused_where_it_cannot_apply() -> None:
    code, _, stderr = run(
        "plan",
        "--sandbox",
        "--to",
        _blocked_target(),
        "--ami-type",
        "al2023",
        "--node-strategy",
        "in-place",
    )
    assert code == 1
    assert "--ami-type needs --node-strategy blue-green" in stderr
    code, _, stderr = run("plan", "--sandbox", "--to", _blocked_target(), "--ami-type", "ubuntu")
    assert code == 1
    assert "give al2023 or bottlerocket" in stderr


def test_each_al2_type_keeps_its_architecture() -> None:
    assert green_ami_type("al2023", "AL2_ARM_64") == "AL2023_ARM_64_STANDARD"
    assert green_ami_type("al2023", "AL2_x86_64_GPU") == "AL2023_x86_64_NVIDIA"
    assert green_ami_type("bottlerocket", "AL2_ARM_64") == "BOTTLEROCKET_ARM_64"
    assert green_ami_type(None, "AL2_x86_64") == "AL2_x86_64"
    assert green_ami_type("al2023", "AL2023_x86_64_STANDARD") == "AL2023_x86_64_STANDARD"


def test_the_step_creates_green_with_the_planned_type(world: Sandbox, runner: Runner) -> None:
    steps = [
        control_plane("1.29", "1.28"),
        blue_green("general", "general-1-29", "1.29", ami_type="AL2023_x86_64_STANDARD"),
    ]
    result = runner.run(hand_plan(steps, target="1.29"))
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    green = world.aws.describe_nodegroup(CLUSTER, "general-1-29")
    assert green.ami_type == "AL2023_x86_64_STANDARD"
