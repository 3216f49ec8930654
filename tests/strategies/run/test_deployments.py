"""The rolling/recreate dry run and the run go by one read (`Deployments.plan`) and one sizing
(the strategy's typed steps): the batches are the ones the run then makes, and planning scales
nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest

from strategies.loop import build_runner
from strategies.run.deployments import Deployments
from strategies.run.report import RolloutStatus
from strategies.steps import Scale
from tests.strategies.compute_world import RecordedCluster, RecordingClock, compute_spec, with_room
from tests.strategies.world import NAMESPACE, deployment
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.errors import UserError
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
    runner = build_runner(
        compute_spec(strategy),
        metrics=aws,
        load_balancers=aws,
        dns=aws,
        clock=clock,
        cluster=kube,
        http=None,
    )
    kube.clear_actions()

    plan = Deployments(runner.spec, kube, clock).plan()
    # The desired replicas after each batch, as the loop's typed steps size them.
    desired = {"stable": plan.original, "candidate": 0}
    planned: dict[int, tuple[int, int]] = {}
    for step in runner.plan:
        if isinstance(step, Scale) and step.replicas is not None:
            desired[step.side] = step.replicas
            planned[step.number] = (desired["stable"], desired["candidate"])

    assert plan.refusal is None
    assert plan.original == 5
    assert not [a for a in kube.actions if a.verb in WRITES]

    report = runner.run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert report.steps_total == len(planned)
    after_batch = {c.step: (c.weights.stable, c.weights.candidate) for c in report.history}
    assert [after_batch[n] for n in range(1, len(planned) + 1)] == [
        planned[n] for n in range(1, len(planned) + 1)
    ]


def test_the_plan_refuses_what_the_run_refuses(
    aws: Boto3Aws, clock: RecordingClock, kube: RecordedCluster
) -> None:
    kube.scale_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-candidate", 1)
    spec = compute_spec({"kind": "rolling"})
    runner = build_runner(
        spec, metrics=aws, load_balancers=aws, dns=aws, clock=clock, cluster=kube, http=None
    )

    plan = Deployments(spec, kube, clock).plan()

    assert plan.refusal is not None
    assert "already has 1 replicas; scale it to 0 first" in plan.refusal
    with pytest.raises(UserError, match=re.escape(plan.refusal)):
        runner.run()
