"""A pod's way from creation to Ready in the fake, as Kubernetes walks it.

- Created Pending with no node; "Pending ... includes time a Pod spends waiting to be scheduled
  as well as the time spent downloading container images", "Running: the Pod has been bound to a
  node, and all of the containers have been created" (kubernetes.io/docs/concepts/workloads/pods/
  pod-lifecycle/, "Pod phase").
- kube-scheduler binds it, or writes PodScheduled=False, reason Unschedulable, with its FitError
  as the message (pkg/scheduler/schedule_one.go handleSchedulingFailure; the message format is
  FitError.Error in pkg/scheduler/framework/types.go; the reasons are the filter plugins' own,
  pkg/scheduler/framework/plugins/{nodeunschedulable,tainttoleration,nodeaffinity,noderesources};
  preemption's part is pkg/scheduler/framework/preemption/preemption.go).
- The kubelet starts its containers (waiting reason ContainerCreating until then,
  pkg/kubelet/kubelet_pods.go), then the readiness probe makes it Ready.

`kubectl get pods` shows what the served sandbox's Table says: Pending, ContainerCreating,
Running 0/1, Running 1/1 (kubectl's printPod, pkg/printers/internalversion/printers.go: the
waiting reason of a container replaces the phase).
"""

from __future__ import annotations

import json
from typing import Any

from tests.sandbox.conftest import GI, MI, World
from upgrader.adapters.kubernetes import wire
from upgrader.core.kube import (
    Node,
    Pod,
    PodPhase,
    PodSpec,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
)
from upgrader.sandbox.apiserver import objects
from upgrader.sandbox.apiserver.api import KubeApi, Request
from upgrader.sandbox.cluster.pods import CONTAINER_START_SECONDS, UNSCHEDULABLE_RETRY_SECONDS

_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _get_pods(world: World) -> dict[str, tuple[str, str]]:
    """`kubectl get pods`: NAME -> (READY, STATUS), as the served sandbox answers it."""
    api = KubeApi(world.cluster, world.clock.now)
    response = api.handle(
        Request.parse("GET", "/api/v1/namespaces/default/pods", {"Accept": _TABLE})
    )
    assert response.code == 200
    table: Any = json.loads(response.body)
    return {row["cells"][0]: (row["cells"][1], row["cells"][2]) for row in table["rows"]}


def _only(world: World, app: str) -> Pod:
    (pod,) = world.pods(app)
    return pod


def test_a_pod_goes_pending_then_container_creating_then_running_then_ready(
    world: World,
) -> None:
    world.node("n1")
    world.deployment("web", 1, startup=20.0)

    pod = _only(world, "web")  # created; the scheduler has not run yet
    assert (pod.phase, pod.node_name, pod.ready) == (PodPhase.PENDING, None, False)
    assert _get_pods(world) == {pod.name: ("0/1", "Pending")}
    assert objects.pod(pod)["status"]["conditions"] == []  # no attempt yet: no condition

    world.clock.run_due()  # the scheduler binds at once
    pod = _only(world, "web")
    assert (pod.phase, pod.node_name, pod.ready) == (PodPhase.PENDING, "n1", False)
    assert _get_pods(world) == {pod.name: ("0/1", "ContainerCreating")}
    (container,) = objects.pod(pod)["status"]["containerStatuses"]
    assert container["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert container["started"] is False

    world.sleep(CONTAINER_START_SECONDS)
    pod = _only(world, "web")
    assert (pod.phase, pod.ready, pod.started_at) == (PodPhase.RUNNING, False, world.clock.now())
    assert _get_pods(world) == {pod.name: ("0/1", "Running")}
    (container,) = objects.pod(pod)["status"]["containerStatuses"]
    assert set(container["state"]) == {"running"}

    world.sleep(20.0 - CONTAINER_START_SECONDS - 0.1)
    assert world.ready("web") == []
    world.sleep(0.2)
    pod = _only(world, "web")
    assert pod.ready
    assert _get_pods(world) == {pod.name: ("1/1", "Running")}
    conditions = {c["type"]: c["status"] for c in objects.pod(pod)["status"]["conditions"]}
    assert conditions["PodScheduled"] == conditions["Ready"] == conditions["ContainersReady"]


def test_the_start_up_delay_still_runs_from_binding_to_ready(world: World) -> None:
    """One delay model: the workload's start-up delay is binding to Ready; the containers
    start within it (at its end when it is shorter than the kubelet's share)."""
    world.node("n1")
    world.deployment("quick", 1, startup=1.0)
    world.clock.run_due()
    world.sleep(1.0)
    pod = _only(world, "quick")
    assert (pod.phase, pod.ready, pod.startup_seconds) == (PodPhase.RUNNING, True, 1.0)


def test_a_pod_no_node_takes_carries_the_schedulers_message(world: World) -> None:
    tier = {"tier": "web"}
    world.node("cordoned", labels=tier, unschedulable=True)
    world.node("gpu", labels=tier, taints=(Taint("dedicated", TaintEffect.NO_SCHEDULE, "gpu"),))
    world.node("small", labels=tier, cpu=200)
    world.node("batch", labels={"tier": "batch"})
    world.deployment("api", 1, cpu=500, node_selector=tier)
    world.settle()

    pod = _only(world, "api")
    assert pod.node_name is None
    assert pod.unschedulable == (
        "0/4 nodes are available: 1 Insufficient cpu, "
        "1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. "
        "preemption: 0/4 nodes are available: 1 No preemption victims found for incoming pod, "
        "3 Preemption is not helpful for scheduling."
    )
    (condition,) = objects.pod(pod)["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "PodScheduled",
        "False",
        "Unschedulable",
    )
    assert condition["message"] == pod.unschedulable
    # The adapter reads it back from the wire.
    assert wire.pod(objects.pod(pod)).unschedulable == pod.unschedulable
    assert _get_pods(world) == {pod.name: ("0/1", "Pending")}

    # Room appears: it is bound, and the condition turns True.
    world.cluster.set_unschedulable("cordoned", False)
    world.settle()
    pod = _only(world, "api")
    assert (pod.node_name, pod.unschedulable, pod.ready) == ("cordoned", None, True)
    assert wire.pod(objects.pod(pod)).unschedulable is None


def test_every_failing_resource_of_a_node_is_counted(world: World) -> None:
    world.node("full", memory=GI, pods=1)
    world.bare_pod("first")
    world.settle()
    world.deployment("big", 1, memory=2 * GI)
    world.settle()
    assert _only(world, "big").unschedulable == (
        "0/1 nodes are available: 1 Insufficient memory, 1 Too many pods. "
        "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )


def test_a_not_ready_node_is_named_by_its_taint_and_a_toleration_lets_the_pod_past(
    world: World,
) -> None:
    world.node("n1", unschedulable=True)
    world.cluster.add_node(Node("sick", ready=False, allocatable=Resources(4000, 16 * GI, 110)))
    world.deployment("web", 1)
    world.deployment(
        "agent",
        1,
        tolerations=(Toleration("node.kubernetes.io/not-ready", "Exists"),),
    )
    world.settle()
    assert _only(world, "agent").node_name == "sick"
    assert _only(world, "web").unschedulable == (
        "0/2 nodes are available: "
        "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
        "1 node(s) were unschedulable. preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling."
    )


def test_with_no_node_at_all_the_scheduler_says_so(world: World) -> None:
    world.deployment("web", 1)
    world.settle()
    assert _only(world, "web").unschedulable == "no nodes available to schedule pods"


def test_a_pod_whose_containers_never_start_stays_container_creating(world: World) -> None:
    world.node("n1")
    world.cluster.add_pod(Pod("default", "stuck", "", labels={"app": "stuck"}), starts=False)
    world.settle()
    pod = _only(world, "stuck")
    assert (pod.phase, pod.node_name, pod.started_at) == (PodPhase.PENDING, "n1", None)
    assert _get_pods(world) == {"stuck": ("0/1", "ContainerCreating")}


def test_a_node_event_rewrites_the_message_at_once_pod_churn_after_the_back_off(
    world: World,
) -> None:
    """kube-scheduler requeues an unschedulable pod at once on a node event and retries it no
    more often than its back-off (podMaxBackoffSeconds, 10 s) otherwise."""
    world.node("n1", cpu=1000, memory=GI)
    filler = Pod("default", "filler", "", spec=PodSpec(requests=Resources(0, 768 * MI)))
    world.cluster.add_pod(filler)
    world.deployment("huge", 1, cpu=2000, memory=512 * MI)
    world.settle()
    both = "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
    assert _only(world, "huge").unschedulable.startswith(both)  # type: ignore[union-attr]

    world.cluster.delete_pod("default", "filler", 0)  # room, but not enough
    world.clock.run_due()
    assert _only(world, "huge").unschedulable.startswith(both)  # type: ignore[union-attr]
    world.sleep(UNSCHEDULABLE_RETRY_SECONDS)
    world.bare_pod("churn", cpu=0)
    world.cluster.delete_pod("default", "churn", 0)
    world.clock.run_due()
    assert _only(world, "huge").unschedulable.startswith(  # type: ignore[union-attr]
        "0/1 nodes are available: 1 Insufficient cpu. "
    )

    world.node("n2", cpu=1000)
    world.clock.run_due()
    assert _only(world, "huge").unschedulable.startswith(  # type: ignore[union-attr]
        "0/2 nodes are available: 2 Insufficient cpu. "
    )
