"""Rollouts end to end on moto (ELBv2, Route 53, CloudWatch) and the fake cluster."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from strategies.gates.kinds import Verdict
from strategies.loop import StepLoop, build_runner
from strategies.run.report import RolloutStatus
from strategies.spec import RolloutSpec
from strategies.steps import ALL_CANDIDATE, ALL_STABLE, Weights
from tests.strategies.world import (
    Alb,
    Shared,
    alb_spec,
    put_alarm,
    replicas,
    route53_spec,
    set_alarm,
)
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.aws import WeightedRecord
from upgrader.core.errors import UserError
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


def _runner(
    spec: RolloutSpec, aws: Boto3Aws, clock: VirtualClock, cluster: FakeCluster | None = None
) -> StepLoop:
    return build_runner(
        spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock, cluster=cluster
    )


class CountingDns:
    """The Dns port, counting UPSERT batches."""

    def __init__(self, inner: Boto3Aws) -> None:
        self.inner = inner
        self.upserts: list[tuple[WeightedRecord, ...]] = []
        self.calls: list[float] = []

    def weighted_records(self, zone_id: str, name: str, record_type: str) -> list[WeightedRecord]:
        return self.inner.weighted_records(zone_id, name, record_type)

    def upsert_weighted_records(self, zone_id: str, records: Sequence[WeightedRecord]) -> str:
        self.upserts.append(tuple(records))
        return self.inner.upsert_weighted_records(zone_id, records)

    def change_status(self, change_id: str) -> str:
        return self.inner.change_status(change_id)


def test_alb_canary_reaches_100_reading_weights_back_after_every_step(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    start = clock.now()

    report = _runner(alb_spec(alb), aws, clock, cluster).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert report.steps_done == report.steps_total == 4
    assert [(c.step, c.weights.candidate) for c in report.history] == [
        (0, 0),
        (1, 5),
        (2, 25),
        (3, 50),
        (4, 100),
    ]
    # The last weights are what ELBv2 holds now.
    rule = next(r for r in aws.describe_forward_rules(alb.listener) if r.arn == alb.rule)
    assert {t.target_group_arn: t.weight for t in rule.targets} == {
        alb.stable: 0,
        alb.candidate: 100,
    }
    # Four 60 s pauses, then the stable side kept for the 600 s scale-down delay.
    assert clock.now() - start == pytest.approx(4 * 60 + 600)
    assert [s.deployment for s in report.scaled_down] == ["web-stable"]
    assert replicas(cluster, "web-stable") == 0
    assert replicas(cluster, "web-candidate") == 3


def test_canary_on_a_listener_default_action(aws: Boto3Aws, alb: Alb, clock: VirtualClock) -> None:
    """The listener forwards with a bare TargetGroupArn (weight 1 of 1): still "all stable"."""
    spec = alb_spec(
        alb,
        traffic={
            "provider": "alb-elbv2",
            "rule_arn": alb.listener,
            "stable_target_group": alb.stable,
            "candidate_target_group": alb.candidate,
        },
        gates=[],
    )

    report = _runner(spec, aws, clock).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert report.history[0].weights == Weights(1, 0)
    assert aws.describe_forward_rules(alb.listener)[0].targets[1].weight == 100


def test_an_alarm_at_step_2_rolls_back_then_scales_the_candidate_down(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    # Step 1 bakes from t+0 to t+60; step 2 starts at t+60 and fires 30 s into its pause.
    clock.call_later(90, lambda: set_alarm(aws, "web-5xx", "ALARM"))

    report = _runner(alb_spec(alb), aws, clock, cluster).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert report.steps_done == 1
    assert report.culprits == ("web-5xx",)
    assert report.failed_gate is not None
    assert "web-5xx" in report.failed_gate
    assert "web-5xx" in report.reason
    assert "step 2" in report.reason
    assert [(c.step, c.weights) for c in report.history][-2:] == [
        (2, Weights(75, 25)),
        (-1, ALL_STABLE),
    ]
    rule = next(r for r in aws.describe_forward_rules(alb.listener) if r.arn == alb.rule)
    assert {t.target_group_arn: t.weight for t in rule.targets} == {
        alb.stable: 100,
        alb.candidate: 0,
    }
    # Traffic went back at t+120; the candidate waited out the 120 s stickiness.
    (scaled,) = report.scaled_down
    assert scaled.deployment == "web-candidate"
    assert scaled.from_replicas == 3
    assert scaled.at - report.history[-1].at == pytest.approx(120)
    assert replicas(cluster, "web-candidate") == 0
    assert replicas(cluster, "web-stable") == 3


def test_route53_blue_green_switches_in_one_call(
    aws: Boto3Aws, zone: str, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    dns = CountingDns(aws)
    spec = route53_spec(zone)

    report = build_runner(
        spec, load_balancers=aws, dns=dns, metrics=aws, clock=clock, cluster=cluster
    ).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert len(dns.upserts) == 1
    assert {(r.set_identifier, r.weight) for r in dns.upserts[0]} == {("blue", 0), ("green", 100)}
    live = {r.set_identifier: r for r in aws.weighted_records(zone, "web.example.com", "A")}
    assert (live["blue"].weight, live["green"].weight) == (0, 100)
    assert live["green"].values == ("10.0.0.2",)  # a weight change keeps the record's values
    assert report.final_weights == ALL_CANDIDATE
    assert replicas(cluster, "web-stable") == 0


def test_route53_blue_green_switches_back_in_one_call(
    aws: Boto3Aws, zone: str, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    clock.call_later(60, lambda: set_alarm(aws, "web-5xx", "ALARM"))
    dns = CountingDns(aws)

    report = build_runner(
        route53_spec(zone), load_balancers=aws, dns=dns, metrics=aws, clock=clock, cluster=cluster
    ).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert [{(r.set_identifier, r.weight) for r in batch} for batch in dns.upserts] == [
        {("blue", 0), ("green", 100)},
        {("blue", 100), ("green", 0)},
    ]
    assert report.final_weights == ALL_STABLE
    # The candidate stays up for the record's 60 s TTL after the switch back.
    (scaled,) = report.scaled_down
    assert scaled.at - report.history[-1].at == pytest.approx(60)
    assert replicas(cluster, "web-stable") == 3


@pytest.mark.parametrize(
    ("policy", "status", "steps_done"),
    [
        ("fail", RolloutStatus.ROLLED_BACK, 0),
        ("pass", RolloutStatus.SUCCEEDED, 4),
        ("pause", RolloutStatus.ROLLED_BACK, 0),
    ],
)
def test_an_alarm_without_data_follows_its_policy(
    aws: Boto3Aws,
    alb: Alb,
    clock: VirtualClock,
    policy: str,
    status: RolloutStatus,
    steps_done: int,
) -> None:
    put_alarm(aws, "web-5xx", "INSUFFICIENT_DATA")
    spec = alb_spec(
        alb,
        gates=[{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"], "no_data": policy}],
        deadlines={"step_seconds": 300},
    )

    report = _runner(spec, aws, clock).run()

    assert report.status is status, report.summary()
    assert report.steps_done == steps_done
    assert report.final_weights == (
        ALL_CANDIDATE if status is RolloutStatus.SUCCEEDED else Weights(100, 0)
    )
    if policy == "pause":
        # Re-checked every 30 s until the 300 s step deadline, before any traffic moved.
        assert "deadline passed" in report.reason
        pauses = [r for r in report.gate_results if r.verdict is Verdict.PAUSE]
        assert len(pauses) == 11  # at 0, 30, ..., 300 s
    if policy == "fail":
        assert "INSUFFICIENT_DATA" in report.reason


def test_a_paused_gate_resumes_when_data_arrives(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx", "INSUFFICIENT_DATA")
    clock.call_later(100, lambda: set_alarm(aws, "web-5xx", "OK"))
    spec = alb_spec(
        alb, gates=[{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"], "no_data": "pause"}]
    )

    report = _runner(spec, aws, clock).run()

    assert report.status is RolloutStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("policy", "status"),
    [("fail", RolloutStatus.ROLLED_BACK), ("pass", RolloutStatus.SUCCEEDED)],
)
def test_target_health_without_targets_follows_its_policy(
    aws: Boto3Aws, shared: Shared, alb: Alb, clock: VirtualClock, policy: str, status: RolloutStatus
) -> None:
    empty = shared.target_group("web-empty", targets=0)
    spec = alb_spec(
        alb,
        gates=[{"kind": "alb-target-health", "target_group": empty, "no_data": policy}],
    )

    report = _runner(spec, aws, clock).run()

    assert report.status is status
    if policy == "fail":
        assert "no registered targets" in report.reason


def test_candidate_targets_healthy_gate_passes(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    spec = alb_spec(alb, gates=[{"kind": "alb-target-health"}])

    report = _runner(spec, aws, clock).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert all(r.verdict is Verdict.PASS for r in report.gate_results)
    assert "2 target(s) healthy" in report.gate_results[0].reason


def test_a_missing_alarm_fails_the_gate_before_any_traffic_moves(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    spec = alb_spec(alb, gates=[{"kind": "cloudwatch-alarm", "alarms": ["web-missing"]}])

    report = _runner(spec, aws, clock).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert report.steps_done == 0
    assert "alarm not found: web-missing" in report.reason
    assert [c.step for c in report.history] == [0, -1]


def test_a_failure_below_the_limit_is_rechecked(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    clock.call_later(90, lambda: set_alarm(aws, "web-5xx", "ALARM"))
    clock.call_later(155, lambda: set_alarm(aws, "web-5xx", "OK"))
    spec = alb_spec(
        alb, gates=[{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"], "failure_limit": 3}]
    )

    report = _runner(spec, aws, clock).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert sum(r.verdict is Verdict.FAIL for r in report.gate_results) == 2


def test_the_total_deadline_rolls_back(aws: Boto3Aws, alb: Alb, clock: VirtualClock) -> None:
    spec = alb_spec(alb, gates=[], deadlines={"total_seconds": 150})

    report = _runner(spec, aws, clock).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert report.steps_done == 2
    assert "deadline passed during the pause of step 3" in report.reason
    assert report.final_weights == ALL_STABLE


def test_a_rule_forwarding_to_a_third_group_is_refused_before_any_change(
    aws: Boto3Aws, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    third = shared.target_group("web-third", targets=0)
    aws.set_forward_weights(alb.rule, {alb.stable: 90, third: 10})

    with pytest.raises(UserError, match="also forwards to"):
        _runner(alb_spec(alb, gates=[]), aws, clock).run()


def test_the_side_with_traffic_is_never_scaled_down(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    """Someone moves traffic back to the old side during the scale-down delay."""
    clock.call_later(
        4 * 60 + 100, lambda: aws.set_forward_weights(alb.rule, {alb.stable: 50, alb.candidate: 50})
    )

    report = _runner(alb_spec(alb, gates=[]), aws, clock, cluster).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert report.scaled_down == ()
    assert "still receives traffic" in report.notes[0]
    assert replicas(cluster, "web-stable") == 3
