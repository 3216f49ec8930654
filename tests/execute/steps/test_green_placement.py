"""Issue 11's outage: a Deployment selects a label someone added by hand to the blue nodes.

Green is made from the node group's configuration, which does not carry that label, so the
pods would be evicted into Pending and blue left cordoned. The plan must be NOT READY with a
finding naming the workload and the label; execute (when the plan is forced through) must
refuse before the first cordon, naming it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.execute.worlds import CLUSTER, Runner, blue_green, build_world, control_plane, hand_plan
from tests.plan.checks.factories import context
from upgrader.core.errors import RefusedError
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.execute.engine import RunStatus
from upgrader.plan.discovery import discover
from upgrader.plan.document import Verdict
from upgrader.plan.planner import plan_cluster
from upgrader.sandbox.world import Sandbox

MIB = 2**20


def _hand_labelled_world(world: Sandbox) -> None:
    build_world(world, batch=0, autoscaler=False, network=True)
    kube = world.kube(CLUSTER)
    for node in kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general"):
        kube.label_node(node.name, {"team": "payments"})  # by hand, not in the node group
    labels = {"app": "pay"}
    kube.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "shop",
            "pay",
            LabelSelector(labels),
            PodTemplate(
                labels,
                spec=PodSpec(
                    requests=Resources(100, 64 * MIB, 1), node_selector={"team": "payments"}
                ),
            ),
            replicas=2,
        ),
        startup_seconds=5.0,
    )
    world.settle(120)


def test_the_plan_is_not_ready_and_names_the_workload_and_the_label(tmp_path: Path) -> None:
    with Sandbox() as world:
        _hand_labelled_world(world)
        kube = world.kube(CLUSTER)
        snapshot = discover(CLUSTER, world.aws, world.aws, kube, world.clock, target_version="1.29")
        plan = plan_cluster(snapshot, context("1.29"), region="us-east-1")
    assert plan.verdict is Verdict.NOT_READY
    found = [f for f in plan.findings if f.check_id == "capacity" and "team=payments" in f.message]
    assert found, [f.message for f in plan.findings]
    assert "shop/pay" in found[0].message
    assert "nodeSelector team=payments (the node has no team label)" in found[0].message
    assert "not in node group general's labels" in found[0].remedy


def test_execute_refuses_before_the_first_cordon(tmp_path: Path) -> None:
    with Sandbox() as world:
        _hand_labelled_world(world)
        kube = world.kube(CLUSTER)
        plan = hand_plan(
            [control_plane("1.29", "1.28"), blue_green("general", "general-1-29", "1.29")],
            target="1.29",
        )
        kube.clear_actions()
        result = Runner(world, tmp_path).run(plan)
        assert result.status is RunStatus.FAILED, result.summary()
        assert "refused before cordoning general" in (result.error or "")
        assert "shop/pay: nodeSelector team=payments" in (result.error or "")
        blue = kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general")
        assert blue
        assert not any(n.unschedulable for n in blue)
        assert not [a for a in kube.actions if a.resource == "pods/eviction"]
        pay = kube.list_pods(namespace="shop", label_selector="app=pay")
        assert len(pay) == 2
        assert all(p.ready for p in pay)


def test_disable_eviction_is_asked_for_in_the_confirmation(tmp_path: Path) -> None:
    """--disable-eviction deletes past budgets: only with the person's explicit word."""
    with Sandbox() as world:
        build_world(world, batch=0, autoscaler=False)
        runner = Runner(world, tmp_path)
        runner.answer = False
        plan = hand_plan([control_plane("1.29", "1.28")], target="1.29")
        with pytest.raises(RefusedError):
            runner.run(plan, yes=False, disable_eviction=True)
        (question,) = runner.questions
        assert "DELETING drained pods without the Eviction API" in question
        assert "PodDisruptionBudgets are NOT honoured" in question
