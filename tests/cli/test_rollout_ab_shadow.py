"""`eksup rollout plan|run|abort` for A/B and shadow through the CLI (moto behind the sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strategies.ports import RolloutPorts
from upgrader.cli import app
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.demo_world import DEMO_CLUSTER
from upgrader.sandbox.weighted_alb import ALARM, shop_alb
from upgrader.sandbox.world import Sandbox


def run(*args: str, world: Sandbox | None = None) -> tuple[int, str, str]:
    """The CLI; with `world`, on its moto and a FakeCluster (for the app's lease), as the
    rollout commands take their ports from Typer's context object."""
    ports = None
    if world is not None:
        ports = RolloutPorts(world.aws, world.aws, world.aws, world.clock, FakeCluster(world.clock))
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"}, obj=ports)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def ab_world(tmp_path: Path) -> Iterator[tuple[Sandbox, Path, str]]:
    with Sandbox() as world:
        world.create_cluster(DEMO_CLUSTER, "1.30", world.create_network())
        rule, stable, candidate = shop_alb(world)
        spec = tmp_path / "ab.yaml"
        spec.write_text(
            "app: {name: web, namespace: shop}\n"
            "strategy: {kind: ab, header: Cookie, values: ['*variant=b*'], pause_seconds: 0}\n"
            f"traffic: {{provider: alb-elbv2, rule_arn: '{rule}',"
            f" stable_target_group: '{stable}', candidate_target_group: '{candidate}'}}\n"
            f"gates: [{{kind: cloudwatch-alarm, alarms: [{ALARM}], interval_seconds: 0.01}}]\n"
        )
        yield world, spec, rule


def header_rules(world: Sandbox, rule: str) -> list[dict[str, Any]]:
    elbv2: Any = world.boto3_client("elbv2")
    (found,) = elbv2.describe_rules(RuleArns=[rule])["Rules"]
    listener = rule.replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]
    every = elbv2.describe_rules(ListenerArn=listener)["Rules"]
    return [r for r in every if not r["IsDefault"] and r["RuleArn"] != found["RuleArn"]]


def test_plan_says_what_is_routed(ab_world: tuple[Sandbox, Path, str]) -> None:
    _, spec, _ = ab_world
    code, stdout, _ = run("rollout", "plan", str(spec))
    assert code == 0
    assert "when Cookie matches *variant=b*" in stdout
    assert "route stays (rollout abort removes it)" in stdout


def test_run_keeps_the_route_and_abort_removes_it(ab_world: tuple[Sandbox, Path, str]) -> None:
    world, spec, rule = ab_world
    code, stdout, stderr = run("rollout", "run", str(spec), "--yes", world=world)
    assert code == 0, stderr
    assert "ab succeeded" in stdout
    assert "rollout abort" in stdout
    (added,) = header_rules(world, rule)
    assert added["Priority"] == "9"

    code, stdout, _ = run("rollout", "abort", str(spec), world=world)

    assert code == 0
    assert "ab route off" in stdout
    assert header_rules(world, rule) == []


def test_a_firing_alarm_removes_the_route_and_exits_1(ab_world: tuple[Sandbox, Path, str]) -> None:
    world, spec, rule = ab_world
    world.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="ALARM", StateReason="5xx"
    )
    code, stdout, _ = run("rollout", "run", str(spec), "--yes", world=world)
    assert code == 1
    assert "rolled-back" in stdout
    assert header_rules(world, rule) == []


def test_plan_of_a_shadow_says_what_is_mirrored(tmp_path: Path) -> None:
    spec = tmp_path / "shadow.yaml"
    spec.write_text(
        "app: {name: web, namespace: shop}\n"
        "strategy: {kind: shadow, mirror_percent: 20}\n"
        "traffic: {provider: gateway-api, route: web, stable_backend: {service: web-v1, port: 80},"
        " candidate_backend: {service: web-v2, port: 8080}}\n"
    )
    code, stdout, _ = run("rollout", "plan", str(spec))
    assert code == 0
    assert "HTTPRoute shop/web: RequestMirror 20%" in stdout
    assert "to web-v2:8080 (answers dropped)" in stdout
    assert "mirror removed and read back, whatever the outcome" in stdout


def test_plan_of_a_shadow_on_an_alb_is_refused_with_the_reason(
    ab_world: tuple[Sandbox, Path, str],
) -> None:
    _, spec, _ = ab_world
    spec.write_text(
        spec.read_text().replace(
            "{kind: ab, header: Cookie, values: ['*variant=b*'], pause_seconds: 0}",
            "{kind: shadow}",
        )
    )
    code, _, stderr = run("rollout", "plan", str(spec))
    assert code != 0
    assert "ALB cannot mirror traffic; use a Gateway API HTTPRoute" in stderr
