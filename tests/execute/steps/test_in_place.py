"""The in-place strategy: EKS replaces the nodes itself (the sandbox plays it node by node)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.execute.worlds import (
    CLUSTER,
    CountingControlPlane,
    Crash,
    Runner,
    _app,
    addons,
    control_plane,
    hand_plan,
    in_place,
    ready_workloads,
    step,
)
from upgrader.core.kube import LabelSelector, PodDisruptionBudget, WorkloadKind
from upgrader.execute.engine import RunStatus, StepOutcome
from upgrader.plan.document import Plan, StepKind
from upgrader.sandbox.world import Sandbox


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


def _most_cordoned_at_once(world: Sandbox, group: str) -> list[int]:
    """Samples, every 5 virtual seconds, how many of the group's nodes are cordoned."""
    kube = world.kube(CLUSTER)
    most = [0]

    def sample() -> None:
        nodes = kube.list_nodes(label_selector=f"eks.amazonaws.com/nodegroup={group}")
        most[0] = max(most[0], sum(1 for n in nodes if n.unschedulable))
        world.clock.call_later(5.0, sample)

    world.clock.call_later(0.0, sample)
    return most


def test_the_plans_max_unavailable_is_set_for_the_update_and_put_back(
    world: Sandbox, runner: Runner
) -> None:
    assert world.aws.describe_nodegroup(CLUSTER, "general").update_config.max_unavailable == 1
    most = _most_cordoned_at_once(world, "general")
    update = step(
        StepKind.NODEGROUP_IN_PLACE,
        "nodegroup-general-1.29",
        "1.29",
        nodegroup="general",
        version="1.29",
        max_unavailable="2",
    )
    plan = hand_plan([control_plane("1.29", "1.28"), update], target="1.29")
    result = runner.run(plan)
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert most[0] == 2  # EKS's roll took two nodes at a time, not the group's one
    group = world.aws.describe_nodegroup(CLUSTER, "general")
    assert group.version == "1.29"
    assert group.update_config.max_unavailable == 1  # put back
    log = runner.out.getvalue()
    set_at = log.index("eks:UpdateNodegroupConfig cluster=prod nodegroup=general maxUnavailable=2")
    version_at = log.index("eks:UpdateNodegroupVersion cluster=prod nodegroup=general", set_at)
    assert "(EKS replaces its nodes, 2 at a time)" in log
    assert log.index("maxUnavailable=1 (back to the group's own)", version_at)
    assert world.kube(CLUSTER).stats.pdb_violations == ()


def test_a_crash_before_putting_it_back_is_mended_by_resume(world: Sandbox, runner: Runner) -> None:
    counting = CountingControlPlane(world.aws)
    counting.crash_after["update_nodegroup_version"] = 1
    update = step(
        StepKind.NODEGROUP_IN_PLACE,
        "nodegroup-general-1.29",
        "1.29",
        nodegroup="general",
        version="1.29",
        max_unavailable="50%",
    )
    plan = hand_plan([control_plane("1.29", "1.28"), update], target="1.29")
    with pytest.raises(Crash):
        runner.run(plan, ports=runner.ports(control_plane=counting))
    config = world.aws.describe_nodegroup(CLUSTER, "general").update_config
    assert config.max_unavailable_percentage == 50
    result = runner.run(plan, resume=True)
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    config = world.aws.describe_nodegroup(CLUSTER, "general").update_config
    assert (config.max_unavailable, config.max_unavailable_percentage) == (1, None)


def test_a_bad_max_unavailable_is_refused_naming_the_parameter(
    world: Sandbox, runner: Runner
) -> None:
    with pytest.raises(ValidationError, match='max_unavailable: Value error, must be a count "1"'):
        step(
            StepKind.NODEGROUP_IN_PLACE,
            "nodegroup-general-1.29",
            "1.29",
            nodegroup="general",
            version="1.29",
            max_unavailable="0",
        )
    assert world.aws.describe_nodegroup(CLUSTER, "general").version == "1.28"
