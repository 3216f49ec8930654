"""The drain executor on a bare FakeCluster: refusals before any change, late nodes, two PDBs."""

from __future__ import annotations

import pytest

from upgrader.core.errors import PermanentError
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    Node,
    Pod,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)
from upgrader.drain.drainer import Drain, DrainRefusedError, DrainSettings
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

TAINT = Taint("eksup.io/upgrade", TaintEffect.NO_SCHEDULE, "blue")
MIB = 2**20


def _cluster() -> tuple[FakeCluster, VirtualClock]:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    for name, group in (("blue-1", "blue"), ("blue-2", "blue"), ("green-1", "green")):
        _node(kube, name, group)
    return kube, clock


def _node(kube: FakeCluster, name: str, group: str) -> None:
    kube.add_node(
        Node(
            name=name,
            labels={NODEGROUP_LABEL: group},
            kubelet_version="v1.29.8",
            allocatable=Resources(8000, 32 * 1024 * MIB, 110),
        )
    )


def _deployment(kube: FakeCluster, name: str, replicas: int) -> None:
    labels = {"app": name}
    kube.add_workload(
        Workload(
            kind=WorkloadKind.DEPLOYMENT,
            namespace="default",
            name=name,
            selector=LabelSelector(labels),
            template=PodTemplate(labels, spec=PodSpec(requests=Resources(100, 64 * MIB, 1))),
            replicas=replicas,
        )
    )


def _drain(kube: FakeCluster, clock: VirtualClock, **settings: object) -> Drain:
    return Drain(
        kube,
        clock,
        lambda: kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=blue"),
        DrainSettings(taint=TAINT, **settings),  # type: ignore[arg-type]
    )


def test_a_refused_drain_changes_no_node() -> None:
    kube, clock = _cluster()
    kube.add_pod(Pod("default", "bare", "", node_name="blue-2", spec=PodSpec()))
    clock.sleep(10)
    kube.clear_actions()
    with pytest.raises(DrainRefusedError, match="default/bare on blue-2"):
        _drain(kube, clock).run()
    assert [a for a in kube.actions if a.verb not in ("get", "list")] == []


def test_a_node_that_joins_blue_mid_drain_is_drained_too() -> None:
    kube, clock = _cluster()
    _deployment(kube, "web", 6)
    clock.sleep(30)
    clock.call_later(5, lambda: _node(kube, "blue-3", "blue"))
    report = _drain(kube, clock).run()
    assert "blue-3" in report.nodes
    late = kube.get_node("blue-3")
    assert late.unschedulable
    assert TAINT in late.taints
    assert {p.node_name for p in kube.list_pods(label_selector="app=web")} == {"green-1"}


def test_a_pod_under_two_pdbs_stops_the_drain_naming_both() -> None:
    kube, clock = _cluster()
    _deployment(kube, "web", 2)
    for name in ("web-a", "web-b"):
        kube.add_pdb(
            PodDisruptionBudget("default", name, LabelSelector({"app": "web"}), max_unavailable=1)
        )
    clock.sleep(30)
    with pytest.raises(
        PermanentError, match=r"more than one PodDisruptionBudget \(default/web-a, default/web-b\)"
    ):
        _drain(kube, clock).run()
