"""The real Kubernetes adapter against the sandbox API server, for what placement reads (issue 11,
item 1): PersistentVolumes (claimRef, node affinity, CSI driver), a pod's full
topologySpreadConstraints, and a pod bound to its node that never started (Pending, nodeName
set). Both the paged list path and single reads (whole objects), decoded by wire.py, must give
back what the FakeCluster holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.kube import (
    LabelSelector,
    NodeAffinity,
    PersistentVolume,
    Pod,
    PodPhase,
    PodSpec,
    Resources,
    SelectorRequirement,
    TopologySpread,
    Volume,
)

ZONE = "topology.kubernetes.io/zone"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture
def kube(served: Served) -> KubernetesCluster:
    return KubernetesCluster.from_kubeconfig(str(served.kubeconfig), clock=served.clock)


def test_persistent_volumes_read_as_the_fake_has_them(
    served: Served, kube: KubernetesCluster
) -> None:
    ebs = NodeAffinity(
        ((SelectorRequirement("topology.ebs.csi.aws.com/zone", "In", ("us-east-1c",)),),)
    )
    bound = PersistentVolume("pv-a", "default/data-db-0", ebs, "ebs.csi.aws.com")
    released = PersistentVolume("pv-b", None, NodeAffinity(), "", "Released")
    served.cluster.add_persistent_volume(bound)
    served.cluster.add_persistent_volume(released)
    assert kube.list_persistent_volumes() == [bound, released]
    assert served.cluster.list_persistent_volumes() == [bound, released]


def test_spread_constraints_and_a_pending_bound_pod_survive_the_trip(
    served: Served, kube: KubernetesCluster
) -> None:
    spreads = (
        TopologySpread(
            ZONE,
            2,
            "DoNotSchedule",
            label_selector=LabelSelector({"app": "db"}),
            min_domains=3,
            node_affinity_policy="Ignore",
            node_taints_policy="Honor",
            match_label_keys=("pod-template-hash",),
        ),
        TopologySpread("kubernetes.io/hostname", 1, "ScheduleAnyway"),  # null selector
    )
    spec = PodSpec(
        requests=Resources(100, 2**27, 1),
        volumes=(Volume("data", persistent_claim="data-db-0"),),
        topology_spread=spreads,
    )
    served.cluster.add_pod(
        Pod("default", "db-0", "", labels={"app": "db"}, node_name="node-2", spec=spec),
        starts=False,
    )
    served.cluster.settle(600)  # long past any start-up: it still has not started
    (fake,) = served.cluster.list_pods("default", label_selector="app=db")
    assert fake.phase is PodPhase.PENDING
    assert fake.node_name == "node-2"
    for read in (
        kube.list_pods("default", label_selector="app=db")[0],
        kube.get_pod("default", "db-0"),
    ):
        assert read.phase is PodPhase.PENDING
        assert read.node_name == "node-2"
        assert not read.ready
        assert read.spec.topology_spread == spreads
        assert read.spec.volumes == spec.volumes
