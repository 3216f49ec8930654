"""Blue/green: a smaller candidate is scaled up to stable's size, Ready and gated, before the
switch; and the spec rules of the compute strategies."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from strategies.loop import build_runner
from strategies.run.report import RolloutStatus
from strategies.spec import NoTraffic
from tests.strategies.compute_world import compute_spec, unschedulable, with_room
from tests.strategies.world import (
    NAMESPACE,
    Alb,
    alb_spec,
    deployment,
    put_alarm,
    replicas,
    route53_spec,
)
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.aws import WeightedRecord
from upgrader.core.errors import UserError
from upgrader.core.kube import WorkloadKind
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


class WatchedDns:
    """The Dns port; records how many candidate pods were Ready at each weight change."""

    def __init__(self, inner: Boto3Aws, kube: FakeCluster) -> None:
        self.inner = inner
        self.kube = kube
        self.ready_at_upsert: list[int] = []

    def weighted_records(self, zone_id: str, name: str, record_type: str) -> list[WeightedRecord]:
        return self.inner.weighted_records(zone_id, name, record_type)

    def upsert_weighted_records(self, zone_id: str, records: Sequence[WeightedRecord]) -> str:
        candidate = self.kube.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-candidate")
        self.ready_at_upsert.append(candidate.ready_replicas)
        return self.inner.upsert_weighted_records(zone_id, records)

    def change_status(self, change_id: str) -> str:
        return self.inner.change_status(change_id)


def _world(clock: VirtualClock, candidate_ready: bool = True) -> FakeCluster:
    kube = FakeCluster(clock)
    with_room(kube)
    kube.add_workload(deployment("web-stable", 4))
    kube.add_workload(
        deployment("web-candidate", 1) if candidate_ready else unschedulable("web-candidate", 1)
    )
    clock.sleep(60)
    return kube


def test_blue_green_scales_a_small_candidate_up_and_gates_it_before_the_switch(
    aws: Boto3Aws, zone: str, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    kube = _world(clock)
    dns = WatchedDns(aws, kube)
    spec = route53_spec(
        zone,
        gates=[
            {"kind": "cloudwatch-alarm", "alarms": ["web-5xx"]},
            {"kind": "pod-readiness"},
        ],
    )

    report = build_runner(
        spec, load_balancers=aws, dns=dns, metrics=aws, clock=clock, cluster=kube
    ).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert dns.ready_at_upsert[0] == 4  # all four candidate pods Ready before the switch
    assert any("scaled from 1 to 4" in note for note in report.notes)
    # The pod-readiness gate ran (and passed) before the switch, on all four pods.
    first = next(r for r in report.gate_results if r.gate.startswith("pod-readiness"))
    assert "4 pod(s) Ready" in first.reason
    assert replicas(kube, "web-candidate") == 4
    assert replicas(kube, "web-stable") == 0


def test_a_candidate_that_cannot_scale_up_rolls_back_before_any_traffic_moves(
    aws: Boto3Aws, zone: str, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    kube = _world(clock, candidate_ready=False)
    dns = WatchedDns(aws, kube)
    spec = route53_spec(zone, deadlines={"step_seconds": 120})

    report = build_runner(
        spec, load_balancers=aws, dns=dns, metrics=aws, clock=clock, cluster=kube
    ).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert "before the switch" in report.reason
    assert dns.ready_at_upsert == []  # no weight was ever written
    assert replicas(kube, "web-candidate") == 0
    assert replicas(kube, "web-stable") == 4


def test_a_candidate_as_big_as_stable_is_left_alone(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(aws, "web-5xx")
    kube = FakeCluster(clock)
    with_room(kube)
    kube.add_workload(deployment("web-stable", 2))
    kube.add_workload(deployment("web-candidate", 3))
    clock.sleep(60)
    spec = alb_spec(alb, strategy={"kind": "blue-green", "pause_seconds": 10})

    report = build_runner(
        spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock, cluster=kube
    ).run()

    assert report.status is RolloutStatus.SUCCEEDED
    assert not any("scaled from" in note for note in report.notes)
    assert replicas(kube, "web-candidate") == 3


# spec rules -------------------------------------------------------------------------------------


def test_rolling_and_recreate_need_no_traffic() -> None:
    for kind in ("rolling", "recreate"):
        spec = compute_spec({"kind": kind})
        assert isinstance(spec.traffic, NoTraffic)
        assert spec.traffic.provider == "none"


def test_rolling_on_an_alb_is_refused(aws: Boto3Aws, alb: Alb, clock: VirtualClock) -> None:
    spec = alb_spec(alb, strategy={"kind": "rolling"})
    with pytest.raises(UserError, match="moves pods, not traffic weights"):
        build_runner(
            spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock, cluster=FakeCluster(clock)
        )


def test_a_canary_without_traffic_is_refused(aws: Boto3Aws, clock: VirtualClock) -> None:
    spec = compute_spec({"kind": "canary", "steps": [50, 100]})
    with pytest.raises(UserError, match="give a traffic provider"):
        build_runner(spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock)


@pytest.mark.parametrize(
    ("strategy", "app", "message"),
    [
        ({"kind": "rolling"}, {"name": "web"}, "app.candidate.deployment"),
        (
            {"kind": "recreate"},
            {"name": "web", "stable": {"deployment": "a"}, "candidate": {"deployment": "a"}},
            "must differ",
        ),
        ({"kind": "rolling", "max_surge": 0, "max_unavailable": "0%"}, None, "both be 0"),
        ({"kind": "rolling", "max_surge": "150%"}, None, "max_surge"),
        ({"kind": "rolling", "max_unavailable": -1}, None, "max_unavailable"),
    ],
)
def test_bad_compute_specs_are_refused(
    strategy: dict[str, object], app: dict[str, object] | None, message: str
) -> None:
    overrides = {"app": app} if app is not None else {}
    with pytest.raises(ValidationError, match=message):
        compute_spec(strategy, **overrides)


def test_a_pod_readiness_gate_needs_a_deployment() -> None:
    with pytest.raises(ValidationError, match="pod-readiness gate without deployment"):
        compute_spec(
            {"kind": "canary", "steps": [100]},
            app={"name": "web"},
            gates=[{"kind": "pod-readiness"}],
        )
