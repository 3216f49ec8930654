"""The Fargate restart step: each listed workload restarted once, and waited on."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from tests.execute.worlds import CLUSTER, CrashingReporter, Delegate, Runner, hand_plan, step
from upgrader.execute.engine import RunStatus, StepOutcome
from upgrader.execute.steps.fargate import RESTARTED_AT_ANNOTATION
from upgrader.plan.document import Plan, StepKind
from upgrader.sandbox.world import Sandbox

WORKLOADS = ["Deployment/shop/web", "StatefulSet/payments/ledger"]


class CountingCluster(Delegate):
    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.restarts: Counter[str] = Counter()

    def restart_workload(self, kind: Any, namespace: str, name: str) -> Any:
        self.restarts[f"{kind.value}/{namespace}/{name}"] += 1
        return self.inner.restart_workload(kind, namespace, name)


def plan(workloads: list[str] | None = None) -> Plan:
    return hand_plan(
        [
            step(
                StepKind.FARGATE_RESTART,
                "fargate-1.29",
                "1.29",
                version="1.29",
                workloads=WORKLOADS if workloads is None else workloads,
            )
        ]
    )


def _restarted(world: Sandbox, namespace: str, app: str) -> bool:
    pods = world.kube(CLUSTER).list_pods(namespace=namespace, label_selector=f"app={app}")
    return bool(pods) and all(
        RESTARTED_AT_ANNOTATION in p.annotations and p.ready and not p.is_terminating for p in pods
    )


def test_each_listed_workload_is_restarted_once_and_ready(runner: Runner) -> None:
    cluster = CountingCluster(runner.world.kube(CLUSTER))
    result = runner.run(plan(), ports=runner.ports(cluster=cluster))
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    assert cluster.restarts == Counter(WORKLOADS)
    assert _restarted(runner.world, "shop", "web")
    assert _restarted(runner.world, "payments", "ledger")
    assert not _restarted(runner.world, "shop", "api")  # not listed, not touched
    stats = runner.world.kube(CLUSTER).stats
    assert stats.lost_pods == ()
    assert stats.pdb_violations == ()


def test_a_resumed_run_restarts_only_what_was_not_restarted(runner: Runner) -> None:
    cluster = CountingCluster(runner.world.kube(CLUSTER))
    ports = runner.ports(cluster=cluster)
    crash = CrashingReporter(runner, ("action", "rollout restart StatefulSet"))
    with pytest.raises(BaseException, match="crash at action"):
        runner.run(plan(), ports=ports, reporter=crash)
    assert cluster.restarts == Counter(WORKLOADS[:1])
    result = runner.run(plan(), ports=ports, resume=True)
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    assert cluster.restarts == Counter(WORKLOADS)
    assert _restarted(runner.world, "payments", "ledger")


def test_no_workloads_is_already_done(runner: Runner) -> None:
    result = runner.run(plan([]))
    assert result.steps[0].outcome is StepOutcome.ALREADY_DONE


def test_a_bad_workload_parameter_never_makes_a_plan() -> None:
    # A plan file with it is refused when read (tests/plan/test_step_params.py).
    with pytest.raises(ValidationError, match=r"workloads\.0: String should match"):
        plan(["DaemonSet/kube-system/aws-node"])
