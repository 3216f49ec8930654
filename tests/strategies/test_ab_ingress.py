"""A/B through an Ingress, end to end: eksup annotates the A/B path, the fake AWS Load Balancer
Controller turns it into the moto ALB rule's conditions and forward action, and the route
counts only once ELBv2 reads back the header match forwarding to the candidate."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from strategies.ab import plan_lines
from strategies.loop import build_runner, end_route
from strategies.ports import RolloutPorts
from strategies.run.report import RolloutStatus
from strategies.traffic.factory import refusal, route_for
from tests.strategies.k8s_world import (
    AB_ACTION,
    AB_ACTIONS,
    AB_CONDITIONS,
    COOKIE_AB,
    INGRESS,
    AbIngressWorld,
    ab_ingress_spec,
    ab_ingress_world,
    ab_path_rule,
    make_ab_ingress_world,
)
from tests.strategies.test_ab import AlarmAfter
from tests.strategies.world import NAMESPACE, Alb, Shared, put_alarm
from upgrader.cli import app
from upgrader.core.aws import Alarm
from upgrader.core.errors import UserError
from upgrader.core.exit_codes import ExitCode
from upgrader.execute.dry_run import DryRunCluster, Recorder
from upgrader.execute.reporter import NullReporter
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

__all__ = ["ab_ingress_world"]

HEADER = {"HttpHeaderName": "Cookie", "Values": ["*variant=b*"]}


def conditions(rule: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["Field"]: c for c in rule["Conditions"]}


def forwards_to(rule: dict[str, Any]) -> list[str]:
    action = rule["Actions"][0]
    if "ForwardConfig" in action:
        groups = action["ForwardConfig"]["TargetGroups"]
        return [g["TargetGroupArn"] for g in groups if g.get("Weight", 1) > 0]
    return [action["TargetGroupArn"]]


def assert_off(world: AbIngressWorld, shared: Shared, alb: Alb) -> None:
    """Off after an A/B: the A/B path forwards to stable; its header condition stays, so only
    the segment takes that path and every other request still reaches the main rule."""
    rule = world.ab_rule_now(shared)
    assert conditions(rule)["http-header"]["HttpHeaderConfig"] == HEADER
    assert conditions(rule)["path-pattern"]["PathPatternConfig"]["Values"] == ["/*"]
    assert forwards_to(rule) == [alb.stable]
    assert annotated_services(world) == ["web-stable"]


def annotated_services(world: AbIngressWorld) -> list[str]:
    action = json.loads(world.ab_annotations()[AB_ACTIONS])
    assert action["type"] == "forward"
    return [g["serviceName"] for g in action["forwardConfig"]["targetGroups"]]


def test_ab_on_puts_the_cookie_match_on_the_ab_rule_and_keeps_it_until_abort(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule)
    world = ab_ingress_world

    report = build_runner(
        spec, load_balancers=shared.aws, metrics=shared.aws, clock=clock, cluster=world.kube
    ).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert report.route_on
    assert [e.change for e in report.history] == ["found", "on"]
    assert "A/B on" in report.history[-1].detail
    assert any("rollout abort" in note for note in report.notes)
    # The ALB rule the LBC made for the A/B path: its path plus the cookie, to B only.
    rule = world.ab_rule_now(shared)
    assert conditions(rule)["http-header"]["HttpHeaderConfig"] == HEADER
    assert conditions(rule)["path-pattern"]["PathPatternConfig"]["Values"] == ["/*"]
    assert forwards_to(rule) == [alb.candidate]
    # Written where the LBC reads it.
    written = world.ab_annotations()
    assert json.loads(written[AB_CONDITIONS]) == [
        {
            "field": "http-header",
            "httpHeaderConfig": {"httpHeaderName": "Cookie", "values": ["*variant=b*"]},
        }
    ]
    assert annotated_services(world) == ["web-candidate"]
    # Everyone else stays on A: the main rule is untouched.
    assert world.alb_weights(shared) == {alb.stable: 100, alb.candidate: 0}
    assert world.controller.errors == []

    # `rollout abort`: the path forwards to stable again and reads back so on ELBv2.
    message = end_route(spec, load_balancers=shared.aws, cluster=world.kube, clock=clock)

    assert "route off" in message
    assert "no A/B on path" in message
    assert_off(world, shared, alb)
    assert world.controller.errors == []


def test_a_second_run_finds_the_route_on_and_changes_nothing(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule)
    kube = ab_ingress_world.kube
    build_runner(
        spec, load_balancers=shared.aws, metrics=shared.aws, clock=clock, cluster=kube
    ).run()
    reconciles = ab_ingress_world.controller.reconciles

    report = build_runner(
        spec, load_balancers=shared.aws, metrics=shared.aws, clock=clock, cluster=kube
    ).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert "A/B on" in report.history[0].detail
    assert ab_ingress_world.controller.reconciles == reconciles  # nothing was written


def test_a_failed_gate_turns_the_route_off_and_reads_it_back(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    metrics = AlarmAfter(shared.aws, clock, "web-5xx", at=clock.now() + 30)
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule)

    report = build_runner(
        spec, load_balancers=shared.aws, metrics=metrics, clock=clock, cluster=ab_ingress_world.kube
    ).run()

    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert report.failed_gate == "cloudwatch-alarm web-5xx"
    assert [e.change for e in report.history] == ["found", "on", "off"]
    assert not report.route_on
    assert_off(ab_ingress_world, shared, alb)


def test_a_controller_that_does_not_reconcile_stops_the_run_with_the_route_reported(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule)
    world = ab_ingress_world
    world.controller.stop()

    report = build_runner(
        spec, load_balancers=shared.aws, metrics=shared.aws, clock=clock, cluster=world.kube
    ).run()

    # Asked in the Ingress, never on the ALB: past the read-back deadline the run stops and
    # asks for stable again, which is what the ALB still does, so it reads off.
    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert "turned the route on but it reads: A/B asked in the Ingress" in report.reason
    assert "no header match" in report.reason
    assert [e.change for e in report.history] == ["found", "off"]
    assert not report.route_on
    assert world.controller.errors == []
    rule = world.ab_rule_now(shared)
    assert "http-header" not in conditions(rule)
    assert forwards_to(rule) == [alb.stable]
    # The Ingress asks for stable again, so a controller that comes back sends nobody to B.
    world.controller.start()
    clock.sleep(10)
    assert_off(world, shared, alb)


class StopControllerThenAlarm(AlarmAfter):
    """The controller goes down, then the alarm fires: the route is on and cannot be removed."""

    def __init__(self, world: AbIngressWorld, *args: Any) -> None:
        super().__init__(*args)
        self.world = world

    def describe_alarms(self, names: Sequence[str]) -> list[Alarm]:
        if self.clock.now() >= self.at:
            self.world.controller.stop()
        return super().describe_alarms(names)


def test_a_failed_gate_with_the_controller_down_reports_the_route_still_on(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    world = ab_ingress_world
    metrics = StopControllerThenAlarm(world, shared.aws, clock, "web-5xx", clock.now() + 30)
    spec = ab_ingress_spec(alb, world.ab_rule)

    report = build_runner(
        spec, load_balancers=shared.aws, metrics=metrics, clock=clock, cluster=world.kube
    ).run()

    assert report.status is RolloutStatus.FAILED, report.summary()
    assert report.route_on
    assert [e.change for e in report.history] == ["found", "on"]
    assert any("NOT confirmed off" in note and AB_ACTIONS in note for note in report.notes)
    assert forwards_to(world.ab_rule_now(shared)) == [alb.candidate]
    # Once the controller is back, abort finds the Ingress asking for stable and confirms it.
    world.controller.start()
    assert "route off" in end_route(
        spec, load_balancers=shared.aws, cluster=world.kube, clock=clock
    )
    assert_off(world, shared, alb)


def test_abort_while_the_controller_is_down_says_the_route_is_not_confirmed_off(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule)
    world = ab_ingress_world
    build_runner(
        spec, load_balancers=shared.aws, metrics=shared.aws, clock=clock, cluster=world.kube
    ).run()
    world.controller.stop()

    with pytest.raises(UserError, match="route not confirmed off"):
        end_route(spec, load_balancers=shared.aws, cluster=world.kube, clock=clock)

    assert forwards_to(world.ab_rule_now(shared)) == [alb.candidate]


@pytest.mark.parametrize("missing", ["ab_action", "ab_rule_arn"])
def test_a_spec_without_the_ab_path_is_refused_before_any_change(
    missing: str, ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule, **{missing: None})
    before = ab_ingress_world.kube.get_ingress(NAMESPACE, INGRESS).annotations

    assert f"traffic.{missing}" in (refusal(spec) or "")
    with pytest.raises(UserError, match=f"ab on alb-ingress: A/B needs traffic.{missing}"):
        build_runner(
            spec,
            load_balancers=shared.aws,
            metrics=shared.aws,
            clock=clock,
            cluster=ab_ingress_world.kube,
        )
    assert ab_ingress_world.kube.get_ingress(NAMESPACE, INGRESS).annotations == before


def test_an_ingress_without_the_ab_path_is_refused_before_any_change(
    shared: Shared, alb: Alb, cluster: FakeCluster, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    world = make_ab_ingress_world(shared, alb, cluster, clock, ab_path=False)
    before = world.kube.get_ingress(NAMESPACE, INGRESS).annotations
    runner = build_runner(
        ab_ingress_spec(alb, world.ab_rule),
        load_balancers=shared.aws,
        metrics=shared.aws,
        clock=clock,
        cluster=world.kube,
    )

    with pytest.raises(UserError, match=f"no path whose backend is service {AB_ACTION}"):
        runner.run()
    with pytest.raises(UserError, match=f"no path whose backend is service {AB_ACTION}"):
        end_route(
            ab_ingress_spec(alb, world.ab_rule),
            load_balancers=shared.aws,
            cluster=world.kube,
            clock=clock,
        )
    assert world.kube.get_ingress(NAMESPACE, INGRESS).annotations == before
    assert forwards_to(world.ab_rule_now(shared)) == [alb.stable]


def test_an_ab_rule_after_the_main_rule_is_refused(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    late = ab_path_rule(shared, alb, priority=20)
    ab_ingress_world.controller.bind_action(NAMESPACE, INGRESS, AB_ACTION, late)
    runner = build_runner(
        ab_ingress_spec(alb, late),
        load_balancers=shared.aws,
        metrics=shared.aws,
        clock=clock,
        cluster=ab_ingress_world.kube,
    )

    with pytest.raises(UserError, match="comes after the main rule"):
        runner.run()
    assert AB_CONDITIONS not in ab_ingress_world.ab_annotations()


def test_an_ab_rule_on_another_path_is_refused(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    other = ab_path_rule(shared, alb, priority=4, path="/beta/*")
    runner = build_runner(
        ab_ingress_spec(alb, other),
        load_balancers=shared.aws,
        metrics=shared.aws,
        clock=clock,
        cluster=ab_ingress_world.kube,
    )

    with pytest.raises(UserError, match="same host and path"):
        runner.run()
    assert AB_CONDITIONS not in ab_ingress_world.ab_annotations()


def test_the_ab_path_annotations_are_eksups_a_run_overwrites_them(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    theirs = '[{"field":"source-ip","sourceIpConfig":{"values":["10.0.0.0/8"]}}]'
    ab_ingress_world.kube.patch_ingress_annotations(NAMESPACE, INGRESS, {AB_CONDITIONS: theirs})
    clock.sleep(10)
    assert "source-ip" in conditions(ab_ingress_world.ab_rule_now(shared))

    report = build_runner(
        ab_ingress_spec(alb, ab_ingress_world.ab_rule),
        load_balancers=shared.aws,
        metrics=shared.aws,
        clock=clock,
        cluster=ab_ingress_world.kube,
    ).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    rule = ab_ingress_world.ab_rule_now(shared)
    assert set(conditions(rule)) == {"path-pattern", "http-header"}
    assert forwards_to(rule) == [alb.candidate]


def test_an_ab_path_without_a_condition_forwarding_to_stable_reads_off(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    # The chart's first state: nobody reaches B through the A/B path.
    reading = route_for(
        ab_ingress_spec(alb, ab_ingress_world.ab_rule),
        load_balancers=shared.aws,
        cluster=ab_ingress_world.kube,
    ).read()

    assert reading.off
    assert not reading.on
    assert "no header match" in reading.detail


def test_a_dry_run_records_the_annotations_and_changes_nothing(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule)
    recorder = Recorder(NullReporter())
    dry = DryRunCluster(ab_ingress_world.kube, recorder)

    route = route_for(spec, load_balancers=shared.aws, cluster=dry)
    route.turn_on()
    clock.sleep(10)

    assert [c.action for c in recorder.calls] == ["annotate-ingress"]
    assert AB_CONDITIONS in str(recorder.calls[0])
    assert AB_CONDITIONS not in ab_ingress_world.ab_annotations()
    assert annotated_services(ab_ingress_world) == ["web-stable"]
    rule = ab_ingress_world.ab_rule_now(shared)
    assert "http-header" not in conditions(rule)
    assert forwards_to(rule) == [alb.stable]
    assert AB_CONDITIONS in route.describe_on()
    assert "Cookie" in route.describe_on()


def test_the_plan_names_the_annotations_and_the_rule(
    ab_ingress_world: AbIngressWorld, alb: Alb
) -> None:
    spec = ab_ingress_spec(alb, ab_ingress_world.ab_rule)
    lines = dict(plan_lines(spec))

    assert f"conditions.{AB_ACTION}" in lines["route on"]
    assert "web-candidate" in lines["route on"]


def test_ab_fields_are_checked_by_the_spec(alb: Alb) -> None:
    with pytest.raises(ValueError, match="ab_action must differ"):
        ab_ingress_spec(alb, None, ab_action="web-rollout")


def _cli(
    args: list[str], world: AbIngressWorld, shared: Shared, clock: VirtualClock
) -> tuple[int, str, str]:
    ports = RolloutPorts(shared.aws, shared.aws, shared.aws, clock, world.kube)
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"}, obj=ports)
    return result.exit_code, result.stdout, result.stderr


def _spec_file(tmp_path: Path, alb: Alb, ab_rule: str | None) -> Path:
    traffic = ab_ingress_spec(alb, ab_rule).traffic.model_dump(mode="json", exclude_none=True)
    document = {
        "app": {"name": "web", "namespace": NAMESPACE},
        "strategy": {**COOKIE_AB, "pause_seconds": 0},
        "traffic": traffic,
        "gates": [{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"]}],
    }
    path = tmp_path / "ab.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_cli_runs_the_ab_and_abort_ends_it(
    ab_ingress_world: AbIngressWorld,
    shared: Shared,
    alb: Alb,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    put_alarm(shared.aws, "web-5xx")
    spec = str(_spec_file(tmp_path, alb, ab_ingress_world.ab_rule))

    code, stdout, stderr = _cli(["rollout", "run", spec, "--yes"], ab_ingress_world, shared, clock)

    assert code == 0, stderr
    assert "ab succeeded" in stdout
    assert forwards_to(ab_ingress_world.ab_rule_now(shared)) == [alb.candidate]

    code, stdout, stderr = _cli(["rollout", "abort", spec], ab_ingress_world, shared, clock)

    assert code == 0, stderr
    assert "ab route off" in stdout
    assert_off(ab_ingress_world, shared, alb)


def test_the_cli_refuses_a_spec_without_ab_rule_arn_in_one_line(
    ab_ingress_world: AbIngressWorld,
    shared: Shared,
    alb: Alb,
    clock: VirtualClock,
    tmp_path: Path,
) -> None:
    spec = str(_spec_file(tmp_path, alb, None))

    code, stdout, stderr = _cli(["rollout", "run", spec, "--yes"], ab_ingress_world, shared, clock)

    assert code == ExitCode.FAILED, stdout + stderr  # a spec to fix: bad input
    assert "A/B needs traffic.ab_rule_arn" in stderr
    assert "Traceback" not in stdout + stderr
    assert AB_CONDITIONS not in ab_ingress_world.ab_annotations()


def test_the_fake_controller_rejects_bad_conditions_and_changes_nothing(
    ab_ingress_world: AbIngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    # As the real one reports a FailedBuildModel event and leaves the ALB as it was.
    ab_ingress_world.kube.patch_ingress_annotations(
        NAMESPACE, INGRESS, {AB_CONDITIONS: '{"field": "http-header"}'}
    )
    clock.sleep(10)

    assert any(AB_ACTION in error for error in ab_ingress_world.controller.errors)
    rule = ab_ingress_world.ab_rule_now(shared)
    assert set(conditions(rule)) == {"path-pattern"}
    assert forwards_to(rule) == [alb.stable]
