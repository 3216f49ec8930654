"""A rollout killed mid-way resumes from its last completed step, read from its journal (the
run engine's, mirrored to the ConfigMap)."""

from __future__ import annotations

import pytest

from strategies.loop import build_runner
from strategies.run.journal import RolloutJournal, RolloutState
from strategies.run.report import RolloutStatus
from strategies.steps import Weights
from tests.strategies.world import NAMESPACE, Alb, alb_spec, put_alarm
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.aws import ForwardRule
from upgrader.core.run.journal import Record, parse_records
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


def _state(cluster: FakeCluster, clock: VirtualClock) -> RolloutState:
    found = RolloutJournal(cluster, clock, NAMESPACE, "web", run_id="q-reader").read()
    assert found is not None
    return found


def _records(cluster: FakeCluster) -> list[Record]:
    text = cluster.get_config_map(NAMESPACE, "eksup-rollout-web").data["journal.jsonl"]
    return parse_records(text, "configmap")


class Killed(BaseException):
    """The process dying: not an error the runner may handle."""


class DyingLoadBalancers:
    """ELBv2 that kills the process on the write of a given weight."""

    def __init__(self, inner: Boto3Aws, die_at_candidate: int) -> None:
        self.inner = inner
        self.die_at = die_at_candidate

    def describe_forward_rules(self, listener_arn: str) -> list[ForwardRule]:
        return self.inner.describe_forward_rules(listener_arn)

    def set_forward_weights(self, rule_arn: str, weights: dict[str, int]) -> ForwardRule:
        if self.die_at in weights.values() and min(weights.values()) > 0:
            raise Killed
        return self.inner.set_forward_weights(rule_arn, weights)

    def target_health(self, target_group_arn: str) -> object:
        return self.inner.target_health(target_group_arn)


def test_a_killed_rollout_resumes_at_its_last_completed_step(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    spec = alb_spec(alb)
    dying = DyingLoadBalancers(aws, die_at_candidate=50)
    with pytest.raises(Killed):
        build_runner(
            spec,
            load_balancers=dying,
            dns=aws,
            metrics=aws,
            clock=clock,
            cluster=cluster,
            journal=True,  # type: ignore[arg-type]
        ).run()
    state = _state(cluster, clock)
    assert (state.step, state.phase.value, state.weights) == (2, "running", Weights(75, 25))
    # The journal says it in the engine's records: each completed step, and no end.
    phases = [r.phase.value for r in _records(cluster)]
    assert phases == ["run-started", "finished", "finished"]

    report = build_runner(
        spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock, cluster=cluster, journal=True
    ).run()

    assert report.status is RolloutStatus.SUCCEEDED
    # It found 25% live and went on with 50%, not back to 5%.
    assert [(c.step, c.weights) for c in report.history] == [
        (0, Weights(75, 25)),
        (3, Weights(50, 50)),
        (4, Weights(0, 100)),
    ]
    assert _state(cluster, clock).phase.value == "succeeded"

    # A finished rollout does not resume: the next run starts from step 1.
    again = build_runner(
        spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock, cluster=cluster, journal=True
    ).run()
    assert [c.step for c in again.history] == [0, 1, 2, 3, 4]


class Interrupting(DyingLoadBalancers):
    """Ctrl-C on the write of a given weight."""

    def set_forward_weights(self, rule_arn: str, weights: dict[str, int]) -> ForwardRule:
        if self.die_at in weights.values() and min(weights.values()) > 0:
            raise KeyboardInterrupt
        return self.inner.set_forward_weights(rule_arn, weights)


def test_an_interrupted_rollout_is_paused_and_resumes_after_its_last_step(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock, cluster: FakeCluster
) -> None:
    put_alarm(aws, "web-5xx")
    spec = alb_spec(alb)
    with pytest.raises(KeyboardInterrupt):
        build_runner(
            spec,
            load_balancers=Interrupting(aws, die_at_candidate=25),
            dns=aws,
            metrics=aws,
            clock=clock,
            cluster=cluster,
            journal=True,  # type: ignore[arg-type]
        ).run()
    state = _state(cluster, clock)
    assert (state.step, state.phase.value, state.reason) == (1, "paused", "interrupted")

    report = build_runner(
        spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock, cluster=cluster, journal=True
    ).run()

    assert [(c.step, c.weights.candidate) for c in report.history] == [
        (0, 5),
        (2, 25),
        (3, 50),
        (4, 100),
    ]
    assert report.notes == ("resumed after step 1",)
    assert _state(cluster, clock).reason == ""
    assert [r.detail for r in _records(cluster) if r.phase.value == "run-started"] == [
        "start",
        "resume",
    ]
