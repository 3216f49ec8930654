"""`eksup rollout plan|run|abort` through the CLI, the real boto3 adapter on moto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.sandbox.demo_canary import ALARM, _alb
from upgrader.sandbox.demo_world import DEMO_CLUSTER
from upgrader.sandbox.world import Sandbox


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def alb_world(tmp_path: Path) -> Iterator[tuple[Sandbox, Path, tuple[str, str, str]]]:
    with Sandbox() as world:
        world.create_cluster(DEMO_CLUSTER, "1.30", world.create_network())
        rule, stable, candidate = _alb(world)
        spec = tmp_path / "canary.yaml"
        spec.write_text(
            "app: {name: web, namespace: shop}\n"
            "strategy: {kind: canary, steps: [10, 50, 100], pause_seconds: 0,"
            " scale_down_delay_seconds: 0}\n"
            f"traffic: {{provider: alb-elbv2, rule_arn: '{rule}',"
            f" stable_target_group: '{stable}', candidate_target_group: '{candidate}'}}\n"
            f"gates: [{{kind: cloudwatch-alarm, alarms: [{ALARM}], interval_seconds: 0.01}}]\n"
        )
        yield world, spec, (rule, stable, candidate)


def weights(world: Sandbox, rule: str) -> dict[str, int]:
    elbv2 = world.boto3_client("elbv2")
    (found,) = elbv2.describe_rules(RuleArns=[rule])["Rules"]
    groups = found["Actions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: g["Weight"] for g in groups}


def test_plan_shows_the_steps(alb_world: tuple[Sandbox, Path, tuple[str, str, str]]) -> None:
    _, spec, _ = alb_world
    code, stdout, _ = run("rollout", "plan", str(spec))
    assert code == 0
    assert "alb-elbv2" in stdout
    assert "cloudwatch-alarm" in stdout


def test_run_moves_all_traffic_to_the_candidate(
    alb_world: tuple[Sandbox, Path, tuple[str, str, str]],
) -> None:
    world, spec, (rule, stable, candidate) = alb_world
    code, stdout, stderr = run("rollout", "run", str(spec), "--region", "us-east-1")
    assert code == 0, stderr
    assert "succeeded" in stdout
    assert weights(world, rule) == {stable: 0, candidate: 100}


def test_a_firing_alarm_rolls_back_and_exits_1(
    alb_world: tuple[Sandbox, Path, tuple[str, str, str]],
) -> None:
    world, spec, (rule, stable, candidate) = alb_world
    world.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="ALARM", StateReason="5xx"
    )
    code, stdout, _ = run("rollout", "run", str(spec), "--region", "us-east-1")
    assert code == 1
    assert "rolled-back" in stdout
    assert ALARM in stdout
    assert weights(world, rule) == {stable: 100, candidate: 0}


def test_abort_sends_everything_back_to_stable(
    alb_world: tuple[Sandbox, Path, tuple[str, str, str]],
) -> None:
    world, spec, (rule, stable, candidate) = alb_world
    assert run("rollout", "run", str(spec), "--region", "us-east-1")[0] == 0
    code, stdout, _ = run("rollout", "abort", str(spec), "--region", "us-east-1")
    assert code == 0
    assert "all traffic on stable" in stdout
    assert weights(world, rule) == {stable: 100, candidate: 0}


def test_a_bad_spec_names_file_line_and_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("app: {name: web}\nstrategy: {kind: canary, steps: [5, 100], pace: 3}\n")
    code, _, stderr = run("rollout", "plan", str(spec))
    assert code == 1
    assert f"{spec}:2:" in stderr
    assert "pace" in stderr
