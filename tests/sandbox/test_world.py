"""The Sandbox joins moto and the FakeCluster: what EKS says happens to nodes happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from upgrader.core.kube import NODEGROUP_LABEL, OwnerRef, Pod, PodSpec, Resources
from upgrader.sandbox.world import Sandbox


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        subnets = sandbox.create_network()
        sandbox.create_cluster("c1", "1.29", subnets)
        sandbox.create_nodegroup(
            "c1",
            "blue",
            instance_type_name="m5.large",
            size=3,
            subnets=subnets,
            labels={"team": "a"},
            taints=[{"key": "dedicated", "value": "a", "effect": "NO_SCHEDULE"}],
        )
        yield sandbox


def test_a_created_nodegroup_becomes_ready_nodes_after_its_delay(world: Sandbox) -> None:
    kube = world.kube("c1")
    assert kube.list_nodes() == []
    world.settle(600)
    nodes = kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=blue")
    assert len(nodes) == 3
    assert all(n.ready and n.minor_version == "1.29" for n in nodes)
    assert all(n.labels["team"] == "a" for n in nodes)
    assert all(str(t) == "dedicated=a:NoSchedule" for n in nodes for t in n.taints)
    assert nodes[0].allocatable.pods == 29  # m5.large's VPC CNI limit
    assert world.aws.describe_nodegroup("c1", "blue").status == "ACTIVE"


def test_scaling_a_nodegroup_adds_nodes(world: Sandbox) -> None:
    world.settle(600)
    world.aws.update_nodegroup_scaling("c1", "blue", 1, 10, 5)
    world.settle(600)
    assert len(world.kube("c1").node_group_nodes("blue")) == 5


def test_a_control_plane_update_moves_the_api_server_when_it_succeeds(world: Sandbox) -> None:
    world.settle(600)
    kube = world.kube("c1")
    update = world.aws.update_cluster_version("c1", "1.30")
    world.settle(60)
    assert kube.server_version().startswith("v1.29.")
    assert world.aws.describe_update("c1", update.id).status == "InProgress"
    world.settle(3600)
    assert world.aws.describe_update("c1", update.id).status == "Successful"
    assert kube.server_version().startswith("v1.30.")
    assert world.aws.describe_cluster("c1").version == "1.30"


def test_deleting_a_nodegroup_loses_the_pods_still_on_it(world: Sandbox) -> None:
    world.settle(600)
    kube = world.kube("c1")
    node = kube.node_group_nodes("blue")[0]
    kube.add_pod(
        Pod(
            namespace="default",
            name="stranded",
            uid="stranded",
            owner=OwnerRef("ReplicaSet", "gone", controller=False),
            node_name=node,
            spec=PodSpec(requests=Resources(100, 2**20, 1)),
        )
    )
    world.settle(60)
    world.aws.delete_nodegroup("c1", "blue")
    world.settle(3600)
    assert kube.list_nodes() == []
    assert list(kube.stats.lost_pods) == ["default/stranded"]
