"""A/B on an ALB, end to end on moto: an http-header rule read back, kept or removed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from strategies.loop import build_runner, end_route
from strategies.run.report import RolloutStatus
from strategies.spec import RolloutSpec
from tests.strategies.world import Alb, Shared, alb_spec, put_alarm, set_alarm
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.adapters.aws.traffic import condition_input
from upgrader.core.aws import Alarm
from upgrader.core.errors import ConflictError, UserError
from upgrader.execute.dry_run import DryRunLoadBalancers, Recorder
from upgrader.execute.reporter import NullReporter
from upgrader.sandbox.clock import VirtualClock

COOKIE = {"kind": "ab", "header": "Cookie", "values": ["*variant=b*"], "pause_seconds": 60}


def ab_spec(alb: Alb, **strategy: Any) -> RolloutSpec:
    return alb_spec(alb, strategy={**COOKIE, **strategy})


def rules(aws: Boto3Aws, listener: str) -> list[dict[str, Any]]:
    found = aws.clients.elbv2.describe_rules(ListenerArn=listener)["Rules"]
    return [dict(r) for r in found if not r["IsDefault"]]


def header_rule(aws: Boto3Aws, alb: Alb) -> dict[str, Any] | None:
    return next((r for r in rules(aws, alb.listener) if r["RuleArn"] != alb.rule), None)


class AlarmAfter:
    """CloudWatch where alarm `name` goes to ALARM once the clock reaches `at`."""

    def __init__(self, aws: Boto3Aws, clock: VirtualClock, name: str, at: float) -> None:
        self.aws, self.clock, self.name, self.at = aws, clock, name, at

    def describe_alarms(self, names: Sequence[str]) -> list[Alarm]:
        if self.clock.now() >= self.at:
            set_alarm(self.aws, self.name, "ALARM")
        return self.aws.describe_alarms(names)

    def metric_values(self, *args: Any) -> list[float]:
        return self.aws.metric_values(*args)


def test_ab_adds_a_cookie_rule_just_above_the_spec_rule_and_keeps_it(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    spec = ab_spec(alb)

    report = build_runner(spec, load_balancers=aws, metrics=aws, clock=clock).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert report.route_on
    assert [e.change for e in report.history] == ["found", "on"]
    rule = header_rule(aws, alb)
    assert rule is not None
    # Just above the spec's rule (10), with its conditions plus the Cookie match.
    assert rule["Priority"] == "9"
    conditions = {c["Field"]: c for c in rule["Conditions"]}
    assert conditions["http-header"]["HttpHeaderConfig"] == {
        "HttpHeaderName": "Cookie",
        "Values": ["*variant=b*"],
    }
    assert conditions["path-pattern"]["PathPatternConfig"]["Values"] == ["/*"]
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    assert [g["TargetGroupArn"] for g in groups] == [alb.candidate]
    # The spec's rule still sends everyone else to A.
    spec_rule = next(r for r in aws.describe_forward_rules(alb.listener) if r.arn == alb.rule)
    assert {t.target_group_arn: t.weight for t in spec_rule.targets} == {
        alb.stable: 100,
        alb.candidate: 0,
    }
    assert any("rollout abort" in note for note in report.notes)

    # `rollout abort` ends the experiment: the rule is deleted and read back gone.
    message = end_route(spec, load_balancers=aws, cluster=None, clock=clock)

    assert "route off" in message
    assert header_rule(aws, alb) is None


def test_a_second_run_finds_the_rule_instead_of_adding_another(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    spec = ab_spec(alb)
    build_runner(spec, load_balancers=aws, metrics=aws, clock=clock).run()

    report = build_runner(spec, load_balancers=aws, metrics=aws, clock=clock).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert len(rules(aws, alb.listener)) == 2


def test_a_failed_gate_removes_the_rule_and_reads_it_back_gone(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    metrics = AlarmAfter(aws, clock, "web-5xx", at=clock.now() + 30)
    spec = ab_spec(alb)

    report = build_runner(spec, load_balancers=aws, metrics=metrics, clock=clock).run()

    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert report.failed_gate == "cloudwatch-alarm web-5xx"
    assert report.culprits == ("web-5xx",)
    assert [e.change for e in report.history] == ["found", "on", "off"]
    assert not report.route_on
    assert header_rule(aws, alb) is None
    assert [r["RuleArn"] for r in rules(aws, alb.listener)] == [alb.rule]


def test_an_alarm_before_the_start_changes_nothing(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx", "ALARM")

    report = build_runner(ab_spec(alb), load_balancers=aws, metrics=aws, clock=clock).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert "before the route" in report.reason
    assert header_rule(aws, alb) is None


def test_a_given_priority_is_used(aws: Boto3Aws, alb: Alb, clock: VirtualClock) -> None:
    put_alarm(aws, "web-5xx")

    build_runner(ab_spec(alb, priority=4), load_balancers=aws, metrics=aws, clock=clock).run()

    rule = header_rule(aws, alb)
    assert rule is not None
    assert rule["Priority"] == "4"


def test_no_free_priority_above_the_spec_rule_is_refused(
    aws: Boto3Aws, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    aws.clients.elbv2.create_rule(
        ListenerArn=alb.listener,
        Priority=9,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/admin"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": alb.stable}],
    )

    experiment = build_runner(ab_spec(alb), load_balancers=aws, metrics=aws, clock=clock)

    with pytest.raises(UserError, match=r"no free ALB priority just above the spec's rule \(10\)"):
        experiment.run()
    assert len(rules(aws, alb.listener)) == 2  # nothing was added


def test_a_priority_after_the_spec_rule_is_refused(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")

    experiment = build_runner(
        ab_spec(alb, priority=20), load_balancers=aws, metrics=aws, clock=clock
    )

    with pytest.raises(UserError, match="must be below the spec rule's 10"):
        experiment.run()
    assert header_rule(aws, alb) is None


def test_on_a_listener_default_action_the_rule_goes_after_every_rule(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    spec = alb_spec(
        alb,
        strategy=COOKIE,
        traffic={
            "provider": "alb-elbv2",
            "rule_arn": alb.listener,
            "stable_target_group": alb.stable,
            "candidate_target_group": alb.candidate,
        },
    )

    report = build_runner(spec, load_balancers=aws, metrics=aws, clock=clock).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    rule = header_rule(aws, alb)
    assert rule is not None
    assert rule["Priority"] == "11"
    assert [c["Field"] for c in rule["Conditions"]] == ["http-header"]


def test_too_many_condition_values_are_refused_before_aws(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    values = ["*a*", "*b*", "*c*", "*d*", "*e*"]  # + the spec rule's path: 6 of at most 5

    experiment = build_runner(
        ab_spec(alb, values=values), load_balancers=aws, metrics=aws, clock=clock
    )

    with pytest.raises(UserError, match="at most 5 condition values"):
        experiment.run()
    assert header_rule(aws, alb) is None


def test_dry_run_records_the_rule_and_reads_it_back_from_the_overlay(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    recorder = Recorder(NullReporter())
    lbs = DryRunLoadBalancers(aws, recorder)

    report = build_runner(ab_spec(alb), load_balancers=lbs, metrics=aws, clock=clock).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert [(c.service, c.action) for c in recorder.calls] == [("elbv2", "CreateRule")]
    assert dict(recorder.calls[0].params)["priority"] == "9"
    assert header_rule(aws, alb) is None  # nothing changed on the ALB


def test_the_spec_rule_missing_is_a_user_error(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    spec = ab_spec(alb)
    aws.clients.elbv2.delete_rule(RuleArn=alb.rule)

    with pytest.raises(UserError, match="not found on listener"):
        build_runner(spec, load_balancers=aws, metrics=aws, clock=clock).run()


def test_a_taken_priority_is_a_conflict(aws: Boto3Aws, alb: Alb) -> None:
    with pytest.raises(ConflictError, match="priority 10 is taken"):
        aws.put_header_rule(alb.listener, 10, "x-beta", ["1"], target_group_arn=alb.candidate)


def test_copied_conditions_drop_the_legacy_values_next_to_their_config() -> None:
    described = {
        "Field": "path-pattern",
        "Values": ["/api/*"],
        "PathPatternConfig": {"Values": ["/api/*"]},
    }

    assert condition_input(described) == {
        "Field": "path-pattern",
        "PathPatternConfig": {"Values": ["/api/*"]},
    }
    assert condition_input({"Field": "host-header", "Values": ["a.example"]}) == {
        "Field": "host-header",
        "Values": ["a.example"],
    }
    with pytest.raises(UserError, match="unknown ALB rule condition"):
        condition_input({"Field": "tls-version"})
