"""The rolling/recreate dry run and the run go by one plan (`ComputeRunner.plan`): the batches
it lists from the live Deployments are the ones the run then makes, and planning scales nothing."""

from __future__ import annotations

from typing import Any

import pytest

from strategies.run.pods import build_compute_runner
from strategies.run.weights import RolloutStatus
from tests.strategies.compute_world import RecordedCluster, RecordingClock, compute_spec, with_room
from tests.strategies.world import NAMESPACE, deployment
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.kube import WorkloadKind

WRITES = {"create", "update", "patch", "delete"}


@pytest.fixture
def clock() -> RecordingClock:
    return RecordingClock()


@pytest.fixture
def kube(clock: RecordingClock) -> RecordedCluster:
    cluster = RecordedCluster(clock)
    with_room(cluster)
    cluster.add_workload(deployment("web-stable", 5))
    cluster.add_workload(deployment("web-candidate", 0))
    clock.sleep(60)
    return cluster


@pytest.mark.parametrize(
    "strategy",
    [
        {"kind": "rolling", "max_surge": "25%", "max_unavailable": "25%"},
        {"kind": "rolling", "max_surge": 0, "max_unavailable": 2},
        {"kind": "recreate"},
    ],
)
def test_the_planned_batches_are_the_ones_the_run_makes(
    strategy: dict[str, Any], aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    runner = build_compute_runner(
        compute_spec(strategy),
        metrics=aws,
        load_balancers=aws,
        clock=clock,
        cluster=kube,
        http=None,
    )
    kube.clear_actions()

    plan = runner.plan()

    assert plan.refusal is None
    assert plan.original == 5
    assert not [a for a in kube.actions if a.verb in WRITES]

    report = runner.run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert report.steps_total == len(plan.batches)
    # The desired replicas after each batch, as the run recorded them.
    after_batch = {c.step: (c.weights.stable, c.weights.candidate) for c in report.history}
    assert [after_batch[n] for n in range(1, len(plan.batches) + 1)] == [
        (b.stable, b.candidate) for b in plan.batches
    ]


def test_the_plan_refuses_what_the_run_refuses(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    kube.scale_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-candidate", 1)
    runner = build_compute_runner(
        compute_spec({"kind": "rolling"}),
        metrics=aws,
        load_balancers=aws,
        clock=clock,
        cluster=kube,
        http=None,
    )

    plan = runner.plan()

    assert plan.batches == ()
    assert plan.refusal is not None
    assert "already has 1 replicas; scale it to 0 first" in plan.refusal
