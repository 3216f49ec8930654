"""service end to end on the FakeCluster (pods start, become Ready, terminate) with moto's
CloudWatch for the gate: a selector switch for blue/green, a replica ratio for canary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strategies.gates.kinds import GateResult, Verdict, gates_for
from strategies.loop import StepLoop
from strategies.run.report import RolloutStatus
from strategies.spec import RolloutSpec
from strategies.steps import Weights
from strategies.traffic.factory import provider_for, refusal
from strategies.traffic.router import ServiceRouter
from strategies.traffic.service import (
    ReplicaRatioProvider,
    ServiceSelectorProvider,
    replica_split,
    warnings_for,
)
from tests.strategies.k8s_world import (
    BLUE_GREEN_TRAFFIC,
    SERVICE,
    blue_green_cluster,
    canary_cluster,
    service_spec,
)
from tests.strategies.world import NAMESPACE, Shared, put_alarm, replicas, set_alarm
from upgrader.cli import app
from upgrader.core.errors import UserError
from upgrader.core.kube import WorkloadKind
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

__all__ = ["blue_green_cluster", "canary_cluster"]

BLUE_GREEN = {"kind": "blue-green", "pause_seconds": 120, "scale_down_delay_seconds": 300}
CANARY = {"kind": "canary", "steps": [10, 50, 100], "pause_seconds": 60}


@dataclass
class Probe:
    """A passing gate noting, at the end of each step's pause, the Service's selector and the
    ready pods of each side, straight from the cluster."""

    kube: FakeCluster
    seen: list[tuple[str, int, int]] = field(default_factory=list)
    name: str = "probe"
    failure_limit: int = 1
    interval_seconds: float = 30.0

    def evaluate(self) -> GateResult:
        selector = self.kube.get_service(NAMESPACE, SERVICE).selector
        ready = [
            self.kube.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, name).ready_replicas
            for name in ("web-stable", "web-candidate")
        ]
        self.seen.append((selector.get("track", "*"), ready[0], ready[1]))
        return GateResult(self.name, Verdict.PASS)


def _runner(
    spec: RolloutSpec, kube: FakeCluster, shared: Shared, clock: VirtualClock, probe: Probe
) -> StepLoop:
    provider = provider_for(
        spec, load_balancers=shared.aws, dns=shared.aws, clock=clock, cluster=kube
    )
    gates = [*gates_for(spec, metrics=shared.aws, load_balancers=shared.aws), probe]
    return StepLoop(
        spec,
        router=ServiceRouter(spec.traffic.provider, weights=provider),
        gates=gates,
        clock=clock,
        cluster=kube,
    )


def _provider(spec: RolloutSpec, kube: FakeCluster, shared: Shared) -> object:
    return provider_for(
        spec, load_balancers=shared.aws, dns=shared.aws, clock=shared.clock, cluster=kube
    )


# blue/green -----------------------------------------------------------------------------------


def test_blue_green_switches_the_selector_and_reads_it_back(
    blue_green_cluster: FakeCluster, shared: Shared, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    probe = Probe(blue_green_cluster)
    spec = service_spec(BLUE_GREEN, BLUE_GREEN_TRAFFIC)

    report = _runner(spec, blue_green_cluster, shared, clock, probe).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert [c.weights for c in report.history] == [Weights(100, 0), Weights(0, 100)]
    assert probe.seen == [("stable", 10, 10), ("candidate", 10, 10)]
    assert blue_green_cluster.get_service(NAMESPACE, SERVICE).selector == {
        "app": "web",
        "track": "candidate",
    }
    assert replicas(blue_green_cluster, "web-stable") == 0
    patches = [
        a for a in blue_green_cluster.actions if a.verb == "patch" and a.resource == "services"
    ]
    assert len(patches) == 1  # one switch, one patch


def test_a_failed_gate_switches_the_selector_back(
    blue_green_cluster: FakeCluster, shared: Shared, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    clock.call_later(60, lambda: set_alarm(shared.aws, "web-5xx", "ALARM"))
    probe = Probe(blue_green_cluster)

    report = _runner(
        service_spec(BLUE_GREEN, BLUE_GREEN_TRAFFIC), blue_green_cluster, shared, clock, probe
    ).run()

    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert [c.weights for c in report.history] == [
        Weights(100, 0),
        Weights(0, 100),
        Weights(100, 0),
    ]
    assert blue_green_cluster.get_service(NAMESPACE, SERVICE).selector["track"] == "stable"
    assert replicas(blue_green_cluster, "web-candidate") == 0
    assert replicas(blue_green_cluster, "web-stable") == 10


def test_a_switch_to_a_selector_with_no_ready_pod_is_refused(
    canary_cluster: FakeCluster, shared: Shared
) -> None:
    """The candidate has no pods: switching would answer every request with an error."""
    provider = _provider(service_spec(BLUE_GREEN, BLUE_GREEN_TRAFFIC), canary_cluster, shared)
    assert isinstance(provider, ServiceSelectorProvider)

    with pytest.raises(UserError, match=r"no ready pod .* matches app=web,track=candidate"):
        provider.apply(Weights(0, 100))
    assert canary_cluster.get_service(NAMESPACE, SERVICE).selector == {"app": "web"}
    with pytest.raises(UserError, match="neither stable_selector"):
        provider.read()  # app=web is neither side's selector
    with pytest.raises(UserError, match="cannot split"):
        provider.apply(Weights(50, 50))


# canary by replica ratio ------------------------------------------------------------------------


def test_canary_scales_the_sides_and_reads_the_ready_ratio_back(
    canary_cluster: FakeCluster, shared: Shared, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    probe = Probe(canary_cluster)
    spec = service_spec(CANARY, {"replicas": 10})

    report = _runner(spec, canary_cluster, shared, clock, probe).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert [c.weights for c in report.history] == [
        Weights(100, 0),
        Weights(90, 10),
        Weights(50, 50),
        Weights(0, 100),
    ]
    # (selector, ready stable, ready candidate) at the end of every pause: the pods, not a wish.
    assert probe.seen == [("*", 10, 0), ("*", 9, 1), ("*", 5, 5), ("*", 0, 10)]
    assert replicas(canary_cluster, "web-stable") == 0
    assert replicas(canary_cluster, "web-candidate") == 10


def test_a_failed_gate_scales_the_stable_side_back_up_first(
    canary_cluster: FakeCluster, shared: Shared, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    # Step 1 (10%) bakes until about t+65; step 2 (50%) fires 30 s into its pause.
    clock.call_later(110, lambda: set_alarm(shared.aws, "web-5xx", "ALARM"))
    probe = Probe(canary_cluster)

    report = _runner(
        service_spec(CANARY, {"replicas": 10}), canary_cluster, shared, clock, probe
    ).run()

    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert report.steps_done == 1
    assert report.history[-1].weights == Weights(100, 0)
    stable = canary_cluster.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-stable")
    assert (stable.replicas, stable.ready_replicas) == (10, 10)
    assert replicas(canary_cluster, "web-candidate") == 0
    # Every change grows a side (and waits for it) before it shrinks the other, so the app
    # never has fewer than 10 ready pods: 10% and 50% grow the candidate first, the rollback
    # grows stable first; last, the runner's scale-down of the already empty candidate.
    scales = [
        a.name
        for a in canary_cluster.actions
        if a.verb == "patch" and a.resource.endswith("/scale")
    ]
    assert scales == [
        *("web-candidate", "web-stable") * 2,
        *("web-stable", "web-candidate"),
        "web-candidate",
    ]
    assert [s.deployment for s in report.scaled_down] == ["web-candidate"]


def test_a_candidate_that_cannot_start_rolls_back(
    canary_cluster: FakeCluster, shared: Shared, clock: VirtualClock
) -> None:
    """No room for the candidate's pod: the step never converges, stable keeps all its pods."""
    put_alarm(shared.aws, "web-5xx")
    canary_cluster.set_unschedulable("node-1", True)
    probe = Probe(canary_cluster)

    report = _runner(
        service_spec(CANARY, {"replicas": 10}, deadlines={"converge_seconds": 60}),
        canary_cluster,
        shared,
        clock,
        probe,
    ).run()

    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert report.steps_done == 0
    assert "web-candidate has 0 of 1 pods ready after 60s" in report.reason
    assert replicas(canary_cluster, "web-stable") == 10
    assert replicas(canary_cluster, "web-candidate") == 0


def test_the_replica_split_is_approximate_and_says_so(
    canary_cluster: FakeCluster, shared: Shared
) -> None:
    assert replica_split(Weights(99, 1), 10) == (9, 1)  # a 1% step still reaches a pod
    assert replica_split(Weights(75, 25), 10) == (7, 3)  # 2.5 pods round half up
    assert replica_split(Weights(1, 99), 10) == (1, 9)
    provider = _provider(service_spec(CANARY, {}), canary_cluster, shared)
    assert isinstance(provider, ReplicaRatioProvider)

    assert provider.total() == 10  # both Deployments' replicas when it starts
    change = provider.describe_change(Weights(95, 5))
    assert "--replicas=1" in change
    assert "approximate" in change
    strict = _provider(service_spec(CANARY, {"tolerance_percent": 3}), canary_cluster, shared)
    assert isinstance(strict, ReplicaRatioProvider)
    with pytest.raises(UserError, match="more than tolerance_percent 3"):
        strict.apply(Weights(95, 5))
    assert replicas(canary_cluster, "web-candidate") == 0  # refused before anything moved


def test_a_selector_that_misses_a_side_is_refused(
    blue_green_cluster: FakeCluster, shared: Shared
) -> None:
    provider = _provider(service_spec(CANARY, {"replicas": 10}), blue_green_cluster, shared)
    assert isinstance(provider, ReplicaRatioProvider)

    with pytest.raises(UserError, match="does not select the pods of web-candidate"):
        provider.read()


# refusals and warnings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "traffic", "reason"),
    [
        ({"kind": "shadow"}, BLUE_GREEN_TRAFFIC, "RequestMirror"),
        ({"kind": "ab", "header": "x-beta", "values": ["1"]}, {}, "never sees HTTP headers"),
        (BLUE_GREEN, {}, "give traffic.stable_selector"),
        (CANARY, BLUE_GREEN_TRAFFIC, "are for blue-green"),
        (
            {**CANARY, "steps": [5, 100]},
            {"replicas": 10, "tolerance_percent": 2},
            "step 1 (5%) can only be 1/10",
        ),
    ],
)
def test_pairs_that_cannot_work_on_a_service_are_refused(
    strategy: dict[str, object], traffic: dict[str, object], reason: str
) -> None:
    assert reason in (refusal(service_spec(strategy, traffic)) or "")


def test_a_canary_without_both_deployments_is_refused() -> None:
    spec = service_spec(CANARY, {}, app={"name": "web", "namespace": NAMESPACE})
    assert "name app.stable.deployment" in (refusal(spec) or "")


def test_plan_warnings() -> None:
    (swap,) = warnings_for(service_spec(BLUE_GREEN, BLUE_GREEN_TRAFFIC))
    assert "behind an ALB (target type ip) risks dropped requests" in swap
    (ratio,) = warnings_for(service_spec(CANARY, {"replicas": 10}))
    assert "approximate" in ratio


def test_rollout_plan_prints_the_warning(tmp_path: Path) -> None:
    spec = tmp_path / "blue-green.yaml"
    spec.write_text(
        "app: {name: web, namespace: shop}\n"
        "strategy: {kind: blue-green}\n"
        "traffic: {provider: service, service: web, stable_selector: {track: blue},"
        " candidate_selector: {track: green}}\n"
    )

    result = CliRunner().invoke(app, ["rollout", "plan", str(spec)], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.stderr
    assert "traffic: service" in result.stdout
    assert "risks dropped requests" in result.stdout


def test_rollout_plan_refuses_ab_on_a_service(tmp_path: Path) -> None:
    spec = tmp_path / "ab.yaml"
    spec.write_text(
        "app: {name: web}\n"
        "strategy: {kind: ab, header: x-beta, values: ['1']}\n"
        "traffic: {provider: service, service: web}\n"
    )

    result = CliRunner().invoke(app, ["rollout", "plan", str(spec)], env={"COLUMNS": "200"})

    assert result.exit_code != 0
    assert "never sees HTTP headers" in result.stderr
    assert "Traceback" not in result.stderr
