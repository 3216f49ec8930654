"""The drain's diagnosis against pods in every state the fake now gives them, as Kubernetes does:
Pending with no node (and kube-scheduler's PodScheduled=False/Unschedulable message),
Pending on a node while its containers are created, Running not Ready, Ready
(kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/; pkg/scheduler/schedule_one.go).

A replacement Pending for lack of room is "no room", never a budget to wait out (issue 11); one
still creating its containers is a replacement not yet Ready.
"""

from __future__ import annotations

import pytest

from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    Node,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    PodTemplate,
    Resources,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)
from upgrader.drain.diagnosis import Cause, DrainFacts, diagnose, pending_reasons
from upgrader.drain.drainer import Drain, DrainSettings, DrainTimeoutError
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

MIB = 2**20
TAINT = Taint("eksup.io/upgrade", TaintEffect.NO_SCHEDULE, "blue")


def _world(green_cpu: int) -> tuple[FakeCluster, VirtualClock]:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    for name, group, cpu in (("blue-1", "blue", 8000), ("green-1", "green", green_cpu)):
        kube.add_node(
            Node(
                name=name,
                labels={NODEGROUP_LABEL: group},
                kubelet_version="v1.29.8",
                allocatable=Resources(cpu, 32 * 1024 * MIB, 110),
            )
        )
    return kube, clock


def _app(kube: FakeCluster, name: str, replicas: int, cpu: int, startup: float = 5.0) -> None:
    labels = {"app": name}
    kube.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "default",
            name,
            LabelSelector(labels),
            PodTemplate(labels, spec=PodSpec(requests=Resources(cpu, 64 * MIB, 1))),
            replicas=replicas,
        ),
        startup_seconds=startup,
    )
    kube.add_pdb(PodDisruptionBudget("default", f"{name}-pdb", LabelSelector(labels), 1))


def _on_blue_only(kube: FakeCluster) -> None:
    kube.set_unschedulable("green-1", True)
    kube.settle()
    kube.set_unschedulable("green-1", False)


def _facts(kube: FakeCluster) -> DrainFacts:
    return DrainFacts(kube.list_pods(), frozenset({"blue-1"}), kube.list_nodes())


def test_a_replacement_pending_for_lack_of_room_is_no_room_and_the_scheduler_agrees() -> None:
    kube, clock = _world(green_cpu=500)
    _app(kube, "big", 2, cpu=1000)
    _on_blue_only(kube)
    drain = Drain(
        kube,
        clock,
        lambda: kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=blue"),
        DrainSettings(taint=TAINT, poll_seconds=2.0, timeout_seconds=120.0),
    )
    with pytest.raises(DrainTimeoutError) as stopped:
        drain.run()
    (stuck,) = stopped.value.report.stuck
    assert stuck.cause == Cause.NO_ROOM
    assert "not enough cpu (needs 1000m, 500m free) on green-1" in stuck.reason
    assert "0 disruptions" not in stuck.reason
    assert "longer --drain-timeout will not" in stuck.advice
    # The fake's scheduler says the same of the Pending replacement, in its own words.
    (pending,) = [p for p in kube.list_pods() if p.node_name is None]
    assert pending.phase is PodPhase.PENDING
    assert pending.unschedulable is not None
    assert pending.unschedulable.startswith(
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. "
    )


def test_a_replacement_still_creating_its_containers_is_not_yet_ready_not_no_room() -> None:
    kube, clock = _world(green_cpu=8000)
    _app(kube, "web", 2, cpu=100, startup=60.0)
    _on_blue_only(kube)
    kube.set_unschedulable("blue-1", True)
    first, second = kube.list_pods(namespace="default")
    kube.evict_pod("default", first.name)
    clock.run_due()  # the ReplicaSet replaces it and the scheduler binds the replacement
    (replacement,) = [p for p in kube.list_pods() if p.node_name == "green-1"]
    assert (replacement.phase, replacement.ready) == (PodPhase.PENDING, False)  # creating
    (pdb,) = kube.list_pdbs()
    assert pdb.disruptions_allowed == 0
    found = diagnose(second, [pdb], _facts(kube))
    assert found.cause == Cause.REPLACEMENTS_NOT_READY
    assert replacement.name in found.reason

    clock.sleep(10.0)  # Running, still not Ready: the same cause
    (replacement,) = [p for p in kube.list_pods() if p.node_name == "green-1"]
    assert (replacement.phase, replacement.ready) == (PodPhase.RUNNING, False)
    assert diagnose(second, kube.list_pdbs(), _facts(kube)).cause == Cause.REPLACEMENTS_NOT_READY


def test_when_green_seems_to_have_room_the_schedulers_own_message_is_shown() -> None:
    """eksup's placement model is narrower than kube-scheduler's (pod affinity, ports, ...):
    when it finds room the scheduler did not, the pod's Unschedulable message says why."""
    message = (
        "0/2 nodes are available: 1 node(s) didn't match pod anti-affinity rules, "
        "1 node(s) were unschedulable."
    )
    pod = Pod("default", "web-x", "u1", node_name=None, unschedulable=message)
    green = Node("green-1", allocatable=Resources(8000, 32 * 1024 * MIB, 110))
    facts = DrainFacts([pod], frozenset({"blue-1"}), [green])
    assert pending_reasons([pod], facts) == [f"web-x: {message}"]
