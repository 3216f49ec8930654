"""Rolling and recreate end to end on the fake cluster (and moto CloudWatch for the gates)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from strategies.gates.kinds import gates_for
from strategies.loop import build_runner
from strategies.rolling import Batch, rolling_batches, rolling_bounds
from strategies.run.report import RolloutReport, RolloutStatus
from strategies.spec import Rolling, RolloutSpec
from tests.strategies.compute_world import (
    FakeProbe,
    RecordedCluster,
    RecordingClock,
    compute_spec,
    unschedulable,
    with_room,
)
from tests.strategies.world import NAMESPACE, deployment, replicas
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.errors import UserError
from upgrader.core.kube import WorkloadKind
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


@pytest.fixture
def clock() -> RecordingClock:
    # Overrides the world's clock: the moto fixtures wait on it too.
    return RecordingClock()


@pytest.fixture
def kube(clock: RecordingClock) -> RecordedCluster:
    """web-stable at `4` Ready pods on two roomy nodes; web-candidate at 0."""
    cluster = RecordedCluster(clock)
    with_room(cluster)
    cluster.add_workload(deployment("web-stable", 4))
    cluster.add_workload(deployment("web-candidate", 0))
    clock.sleep(60)
    assert (
        cluster.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-stable").ready_replicas == 4
    )
    cluster.recording = True
    return cluster


def _run(
    spec: RolloutSpec, aws: Boto3Aws, clock: RecordingClock, kube: FakeCluster
) -> RolloutReport:
    runner = build_runner(spec, load_balancers=aws, dns=aws, metrics=aws, clock=clock, cluster=kube)
    return runner.run()


# the plan --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (3, 1, 0, [(3, 1), (2, 2), (1, 3), (0, 3)]),
        (4, 1, 1, [(3, 2), (1, 4), (0, 4)]),
        (3, 0, 1, [(2, 1), (1, 2), (0, 3)]),
        (2, 2, 0, [(2, 2), (0, 2)]),
    ],
)
def test_rolling_batches_respect_both_bounds(
    replicas: int, surge: int, unavailable: int, expected: list[tuple[int, int]]
) -> None:
    batches = rolling_batches(replicas, surge, unavailable)
    assert batches == [Batch(s, c) for s, c in expected]
    previous = Batch(replicas, 0)
    for batch in batches:
        assert batch.stable + batch.candidate <= replicas + surge
        # Right after stable shrinks, only the previous batch's (Ready) candidates are left.
        assert batch.stable + previous.candidate >= replicas - unavailable
        previous = batch


def test_percentages_resolve_like_a_deployment() -> None:
    strategy = Rolling(kind="rolling", max_surge="25%", max_unavailable="25%")
    assert rolling_bounds(10, strategy) == (3, 2)  # surge rounds up, unavailable down
    # Both resolving to 0 on a tiny Deployment: one pod may be unavailable, as in Kubernetes.
    tiny = Rolling(kind="rolling", max_surge=0, max_unavailable="10%")
    assert rolling_bounds(3, tiny) == (0, 1)


# rolling --------------------------------------------------------------------------------------


def test_rolling_moves_every_pod_within_surge_and_unavailability(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    spec = compute_spec({"kind": "rolling", "max_surge": 1, "max_unavailable": 1})

    report = _run(spec, aws, clock, kube)

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert replicas(kube, "web-stable") == 0
    assert replicas(kube, "web-candidate") == 4
    assert report.steps_done == report.steps_total == 3
    # History: desired replicas (stable, candidate) as each side was scaled.
    assert [(c.weights.stable, c.weights.candidate) for c in report.history] == [
        (4, 0),
        (3, 0),
        (3, 2),
        (1, 2),
        (1, 4),
        (0, 4),
    ]
    assert kube.samples, "nothing recorded"
    assert max(s.desired for s in kube.samples) == 5  # 4 + max_surge, reached, never passed
    assert max(s.running for s in kube.samples) <= 5
    assert min(s.ready for s in kube.samples) == 3  # 4 - max_unavailable, never below
    assert kube.samples[-1].ready == 4


def test_rolling_with_percentages_and_no_unavailability_keeps_every_pod_ready(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    spec = compute_spec({"kind": "rolling", "max_surge": "50%", "max_unavailable": "0%"})

    report = _run(spec, aws, clock, kube)

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert min(s.ready for s in kube.samples) >= 4
    assert max(s.desired for s in kube.samples) == 6


def test_an_unready_stable_pod_is_counted_before_stable_shrinks(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    """One stable pod stops being Ready: only 3 of 4 are, exactly the bound. Scaling stable down
    removes that pod first (as a ReplicaSet does), so the rollout goes on within the bound."""
    sick = kube.list_pods(NAMESPACE, label_selector="app=web-stable")[0].name
    kube.set_pod_ready(NAMESPACE, sick, False)
    spec = compute_spec({"kind": "rolling", "max_surge": 1, "max_unavailable": 1})

    report = _run(spec, aws, clock, kube)

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert min(s.ready for s in kube.samples) == 3
    assert sick not in [p.name for p in kube.list_pods(NAMESPACE) if p.deletion_timestamp is None]


def test_too_few_ready_pods_stop_the_rollout_before_stable_shrinks(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    for pod in kube.list_pods(NAMESPACE, label_selector="app=web-stable")[:2]:
        kube.set_pod_ready(NAMESPACE, pod.name, False)
    kube.clear_actions()
    spec = compute_spec({"kind": "rolling", "max_surge": 1, "max_unavailable": 1})

    report = _run(spec, aws, clock, kube)

    assert "too few to scale stable down" in report.reason
    assert report.steps_done == 0
    # Nothing was scaled: stable kept its 4 replicas, the candidate never started.
    assert not [a for a in kube.actions if a.verb == "patch"]
    # Stable cannot be confirmed at 4 Ready pods: a human must look.
    assert report.status is RolloutStatus.FAILED


def test_every_scale_is_logged_before_it_is_made(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    lines: list[str] = []

    def log(line: str) -> None:
        # Before the call: the Deployment still has its old count.
        name, counts = line.split("Deployment ")[1].split(" ", 1)
        before = int(counts.split(" -> ")[0])
        assert replicas(kube, name.split("/")[1]) == before
        lines.append(line)

    runner = build_runner(
        compute_spec({"kind": "recreate"}),
        metrics=aws,
        load_balancers=aws,
        clock=clock,
        cluster=kube,
        http=None,
        log=log,
    )
    assert runner.run().status is RolloutStatus.SUCCEEDED
    assert lines == [
        "batch 1: scale Deployment shop/web-stable 4 -> 0",
        "batch 2: scale Deployment shop/web-candidate 0 -> 4",
    ]


def test_a_failing_metric_gate_scales_back_to_the_original_counts(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    # 5xx datapoints of the last minutes: the gate fails at the first batch.
    aws.clients.cloudwatch.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {
                "MetricName": "Errors5xx",
                "Dimensions": [{"Name": "App", "Value": "web"}],
                "Timestamp": datetime.fromtimestamp(clock.now() - 30, tz=UTC),
                "Value": 42.0,
            }
        ],
    )
    gate = {
        "kind": "cloudwatch-metric",
        "namespace": "Shop",
        "metric": "Errors5xx",
        "dimensions": {"App": "web"},
        "stat": "Sum",
        "threshold": 5,
        "window_seconds": 600,
    }
    spec = compute_spec({"kind": "rolling", "max_surge": 1, "max_unavailable": 0}, gates=[gate])

    report = _run(spec, aws, clock, kube)

    assert report.status is RolloutStatus.ROLLED_BACK
    assert report.steps_done == 0
    assert report.failed_gate == "cloudwatch-metric Errors5xx Sum"
    assert "worst 42" in report.reason
    assert replicas(kube, "web-stable") == 4
    assert replicas(kube, "web-candidate") == 0
    assert report.history[-1].weights.stable == 4
    assert report.history[-1].weights.candidate == 0
    assert min(s.ready for s in kube.samples) >= 4  # max_unavailable 0, rollback included
    assert [d.deployment for d in report.scaled_down] == ["web-candidate"]


def test_a_candidate_that_never_gets_ready_is_scaled_back_at_the_step_deadline(
    aws: Boto3Aws, clock: RecordingClock
) -> None:
    kube = RecordedCluster(clock)
    with_room(kube)
    kube.add_workload(deployment("web-stable", 3))
    kube.add_workload(unschedulable("web-candidate", 0))
    clock.sleep(60)
    kube.recording = True
    start = clock.now()
    spec = compute_spec({"kind": "rolling", "max_surge": 1, "max_unavailable": 0})

    report = _run(spec, aws, clock, kube)

    assert report.status is RolloutStatus.ROLLED_BACK
    assert "0/1 pods Ready" in report.reason
    assert clock.now() - start == pytest.approx(300, abs=2)  # deadlines.step_seconds
    assert replicas(kube, "web-stable") == 3
    assert replicas(kube, "web-candidate") == 0
    assert min(s.ready for s in kube.samples) == 3


def test_stable_that_does_not_come_back_leaves_the_candidate_and_fails(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    """Batch 1 (stable 3, candidate 2) goes through; then every node is cordoned, so batch 2's
    candidates never start and stable's replacements would not either: the candidate is kept
    (it is what still serves) and a human is asked to look."""
    spec = compute_spec({"kind": "rolling", "max_surge": 1, "max_unavailable": 1})
    candidate_scales: list[Action] = []

    def second_batch_finds_no_room(action: Action) -> None:
        if action.name == "web-candidate":
            candidate_scales.append(action)
            if len(candidate_scales) == 2:
                _fill_nodes(kube)

    kube.add_reactor("patch", "deployments/scale", second_batch_finds_no_room)

    report = _run(spec, aws, clock, kube)

    assert report.status is RolloutStatus.FAILED
    assert report.steps_done == 1
    assert any("stable NOT confirmed" in n for n in report.notes)
    assert replicas(kube, "web-candidate") == 4
    assert replicas(kube, "web-stable") == 4
    assert "web-candidate" not in [d.deployment for d in report.scaled_down]


def _fill_nodes(kube: FakeCluster) -> None:
    """From now on no new pod fits: every node is cordoned."""
    for node in kube.list_nodes():
        kube.set_unschedulable(node.name, True)


# recreate -------------------------------------------------------------------------------------


def test_recreate_reports_the_downtime_it_caused(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    spec = compute_spec({"kind": "recreate"})

    report = _run(spec, aws, clock, kube)

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert replicas(kube, "web-stable") == 0
    assert replicas(kube, "web-candidate") == 4
    # Stable and candidate never run together.
    assert all(s.stable_desired == 0 or s.candidate_desired == 0 for s in kube.samples)
    # What the recorder saw: from the last stable pod leaving Ready to the first candidate's.
    gone = next(s.at for s in kube.samples if s.ready == 0)
    back = next(s.at for s in kube.samples if s.at > gone and s.ready > 0)
    assert report.downtime_seconds is not None
    # Polled once a second: at most a second late.
    assert back - gone <= report.downtime_seconds <= back - gone + 1
    # 30 s grace for the old pods, 5 s start-up for the new ones.
    assert report.downtime_seconds == pytest.approx(35, abs=2)
    assert f"downtime {report.downtime_seconds:.0f}s" in report.summary()


def test_recreate_rolls_back_when_the_candidate_never_gets_ready(
    aws: Boto3Aws, clock: RecordingClock
) -> None:
    kube = RecordedCluster(clock)
    with_room(kube)
    kube.add_workload(deployment("web-stable", 2))
    kube.add_workload(unschedulable("web-candidate", 0))
    clock.sleep(60)

    report = _run(compute_spec({"kind": "recreate"}), aws, clock, kube)

    assert report.status is RolloutStatus.ROLLED_BACK
    assert replicas(kube, "web-stable") == 2
    assert replicas(kube, "web-candidate") == 0
    assert kube.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-stable").ready_replicas == 2
    # Down from stable's scale-down until stable was Ready again, deadline included.
    assert report.downtime_seconds is not None
    assert report.downtime_seconds > 300


# refusals -------------------------------------------------------------------------------------


def test_a_candidate_already_running_is_refused_before_anything_changes(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    kube.scale_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-candidate", 2)
    kube.clear_actions()
    with pytest.raises(UserError, match="already has 2 replicas"):
        _run(compute_spec({"kind": "rolling"}), aws, clock, kube)
    assert not [a for a in kube.actions if a.verb == "patch"]


def test_rolling_needs_a_cluster(aws: Boto3Aws, clock: RecordingClock) -> None:
    with pytest.raises(UserError, match="give a cluster"):
        build_runner(
            compute_spec({"kind": "rolling"}),
            load_balancers=aws,
            dns=aws,
            metrics=aws,
            clock=clock,
        )


def test_gates_for_refuses_a_probe_without_a_client(aws: Boto3Aws, clock: RecordingClock) -> None:
    spec = compute_spec(
        {"kind": "rolling"}, gates=[{"kind": "http-probe", "url": "http://web/healthz"}]
    )
    with pytest.raises(UserError, match="needs an HTTP client"):
        gates_for(spec, metrics=aws, load_balancers=aws, clock=clock)
    (gate,) = gates_for(spec, metrics=aws, load_balancers=aws, clock=clock, http=FakeProbe(200))
    assert gate.name == "http-probe http://web/healthz"
