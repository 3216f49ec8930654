"""The in-place strategy: EKS replaces the nodes itself (the sandbox plays it node by node)."""

from __future__ import annotations

import pytest

from tests.engine.worlds import (
    CLUSTER,
    CountingControlPlane,
    Crash,
    Runner,
    addons,
    control_plane,
    hand_plan,
    in_place,
    ready_workloads,
    step,
)
from upgrader.engine import RunStatus, StepOutcome
from upgrader.kube import LabelSelector, PodDisruptionBudget, WorkloadKind
from upgrader.plan import Plan, StepKind
from upgrader.sandbox.world import Sandbox

from .worlds import _app


def _in_place_plan() -> Plan:
    steps = [step(StepKind.PAUSE_AUTOSCALER, "pause-autoscaler")]
    for hop, previous in (("1.29", "1.28"), ("1.30", "1.29")):
        steps += [control_plane(hop, previous), addons(hop)]
        steps += [in_place("batch", hop), in_place("general", hop)]
    steps += [
        step(StepKind.RESUME_AUTOSCALER, "resume-autoscaler"),
        step(StepKind.VERIFY, "verify", version="1.30"),
    ]
    return hand_plan(steps)


def test_an_in_place_upgrade_moves_every_node(world: Sandbox, runner: Runner) -> None:
    before = ready_workloads(world)
    counting = CountingControlPlane(world.aws)

    result = runner.run(_in_place_plan(), ports=runner.ports(control_plane=counting))

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    kube = world.kube(CLUSTER)
    assert {n.minor_version for n in kube.list_nodes()} == {"1.30"}
    assert sorted(world.aws.list_nodegroups(CLUSTER)) == ["batch", "general"]
    assert world.aws.describe_nodegroup(CLUSTER, "general").version == "1.30"
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()
    assert ready_workloads(world) == before
    assert counting.calls["update_nodegroup_version"] == 4
    assert counting.calls["create_nodegroup"] == 0


def test_a_crash_after_the_update_was_accepted_waits_on_it(world: Sandbox, runner: Runner) -> None:
    counting = CountingControlPlane(world.aws)
    counting.crash_after["update_nodegroup_version"] = 1
    ports = runner.ports(control_plane=counting)
    plan = _in_place_plan()
    with pytest.raises(Crash):
        runner.run(plan, ports=ports)
    counting.crash_after.clear()

    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert counting.calls["update_nodegroup_version"] == 4
    assert len(world.aws.list_updates(CLUSTER, nodegroup="batch")) == 2


def test_a_blocked_eviction_fails_the_update_with_eks_error(world: Sandbox, runner: Runner) -> None:
    kube = world.kube(CLUSTER)
    kube.add_workload(_app(WorkloadKind.DEPLOYMENT, "shop", "frozen", 2), startup_seconds=5)
    kube.add_pdb(
        PodDisruptionBudget("shop", "frozen-pdb", LabelSelector({"app": "frozen"}), min_available=2)
    )
    world.settle(60)
    plan = hand_plan([control_plane("1.29", "1.28"), in_place("general", "1.29")], target="1.29")

    result = runner.run(plan)

    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "ended Failed: PodEvictionFailure" in result.error
    assert [s.outcome for s in result.steps] == [StepOutcome.DONE, StepOutcome.FAILED]
    assert kube.stats.pdb_violations == ()
    assert kube.stats.lost_pods == ()
