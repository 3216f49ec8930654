"""The fake's scheduler and kubelet for issue 11's placement cases: a bound PersistentVolume's
zone, and pods bound to a node whose containers never start.

- VolumeBinding (kubernetes pkg/scheduler/framework/plugins/volumebinding/binder.go,
  `checkBoundClaims`): a node a bound volume's node affinity does not match is refused; the pod
  stays Pending until a node in the volume's zone exists.
- A bound pod is Pending until its containers start (PodPhase docs: "Pending: the Pod has been
  accepted ... but one or more of the containers has not been set up and made ready to run",
  kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/); the Eviction API deletes a
  Pending pod without its budget (pkg/registry/core/pod/storage/eviction.go, `canIgnorePDB`).
"""

from __future__ import annotations

from tests.sandbox.conftest import World
from upgrader.core.kube import (
    LabelSelector,
    NodeAffinity,
    PersistentVolume,
    Pod,
    PodPhase,
    PodSpec,
    PodTemplate,
    Resources,
    SelectorRequirement,
    Volume,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.apiserver.tables import pod_status_text

ZONE = "topology.kubernetes.io/zone"


def _ledger() -> Workload:
    spec = PodSpec(
        requests=Resources(100, 2**27), volumes=(Volume("data", persistent_claim="data"),)
    )
    labels = {"app": "ledger"}
    return Workload(
        WorkloadKind.DEPLOYMENT,
        "default",
        "ledger",
        LabelSelector(labels),
        PodTemplate(labels, spec=spec),
        1,
    )


def test_a_pod_waits_for_a_node_in_its_volumes_zone(world: World) -> None:
    world.node("n-a", labels={ZONE: "us-east-1a"})
    affinity = NodeAffinity(((SelectorRequirement(ZONE, "In", ("us-east-1b",)),),))
    world.cluster.add_persistent_volume(PersistentVolume("pv-1", "default/data", affinity))
    world.cluster.add_workload(_ledger())
    world.settle()
    (pod,) = world.pods("ledger")
    assert pod.node_name is None  # n-a is in the wrong zone
    world.node("n-b", labels={ZONE: "us-east-1b"})
    world.settle()
    (pod,) = world.pods("ledger")
    assert pod.node_name == "n-b"
    assert pod.ready


def test_an_unbound_or_released_volume_does_not_pin(world: World) -> None:
    world.node("n-a", labels={ZONE: "us-east-1a"})
    affinity = NodeAffinity(((SelectorRequirement(ZONE, "In", ("us-east-1b",)),),))
    world.cluster.add_persistent_volume(
        PersistentVolume("pv-1", "default/data", affinity, phase="Released")
    )
    world.cluster.add_workload(_ledger())
    world.settle()
    assert world.pods("ledger")[0].node_name == "n-a"


def test_a_pod_that_never_starts_stays_pending_on_its_node_and_goes_without_its_budget(
    world: World,
) -> None:
    world.node("n1")
    world.cluster.add_pod(
        Pod("default", "stuck", "", labels={"app": "stuck"}, node_name="n1"), starts=False
    )
    world.settle()
    (stuck,) = world.pods("stuck")
    assert (stuck.phase, stuck.node_name, stuck.ready) == (PodPhase.PENDING, "n1", False)
    assert pod_status_text(stuck) == "ContainerCreating"
    world.pdb("stuck-pdb", "stuck", min_available=1)
    (budget,) = [b for b in world.cluster.list_pdbs() if b.name == "stuck-pdb"]
    assert budget.disruptions_allowed == 0
    world.cluster.evict_pod("default", "stuck")  # canIgnorePDB: no 429
    world.settle()
    assert world.pods("stuck") == []


def test_a_workload_whose_pods_never_start(world: World) -> None:
    world.node("n1")
    labels = {"app": "bad"}
    world.cluster.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "default",
            "bad",
            LabelSelector(labels),
            PodTemplate(labels, spec=PodSpec(requests=Resources(100, 2**27))),
            2,
        ),
        starts=False,
    )
    world.settle()
    pods = world.pods("bad")
    assert len(pods) == 2
    assert all(p.phase is PodPhase.PENDING and p.node_name == "n1" for p in pods)
    (workload,) = [w for w in world.cluster.list_workloads() if w.name == "bad"]
    assert workload.ready_replicas == 0
