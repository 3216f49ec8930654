"""The FakeCluster at a tenth of benchmark scale: 500 nodes and 15,000 pods schedule, become
Ready, and can be drained, in a couple of seconds of wall time."""

from __future__ import annotations

import contextlib

import pytest

from tests.sandbox.conftest import World
from upgrader.core.errors import EvictionBlockedError
from upgrader.core.kube import NODEGROUP_LABEL, WorkloadKind
from upgrader.sandbox.cluster.node_groups import NodeTemplate

NODES = 500
DEPLOYMENTS = 145
REPLICAS = 100  # + one DaemonSet pod per node = 14,500 + 500 pods


@pytest.mark.slow
def test_a_500_node_15000_pod_world_schedules_and_drains_without_loss(world: World) -> None:
    for group in range(5):
        world.cluster.scale_node_group(f"ng-{group}", NODES // 5, NodeTemplate(), 0)
    world.workload(WorkloadKind.DAEMON_SET, "cni", None, namespace="kube-system", cpu=50)
    for index in range(DEPLOYMENTS):
        namespace = f"team-{index % 20}"
        world.deployment(f"app{index}", REPLICAS, namespace=namespace, cpu=50, startup=10.0)
        world.pdb(f"pdb{index}", f"app{index}", max_unavailable="10%", namespace=namespace)
    world.settle()

    pods = world.cluster.list_pods()
    assert len(pods) == DEPLOYMENTS * REPLICAS + NODES == 15_000
    assert all(p.ready and p.node_name for p in pods)
    assert all(b.disruptions_allowed == 10 for b in world.cluster.list_pdbs())

    # Drain one node group through the Eviction API and delete it: nothing is lost.
    blue = world.cluster.list_nodes(label_selector=f"{NODEGROUP_LABEL}=ng-0")
    for node in blue:
        world.cluster.set_unschedulable(node.name, True)
    while pending := [
        p
        for node in blue
        for p in world.cluster.list_pods(node_name=node.name)
        if not p.is_terminating and p.namespace != "kube-system"
    ]:
        for pod in pending:
            with contextlib.suppress(EvictionBlockedError):  # a 429 just means: later
                world.cluster.evict_pod(pod.namespace, pod.name)
        world.sleep(5)
    world.cluster.delete_node_group("ng-0")
    world.settle()

    assert world.cluster.stats.lost_pods == ()
    assert world.cluster.stats.pdb_violations == ()
    assert len(world.cluster.list_pods()) == DEPLOYMENTS * REPLICAS + NODES - NODES // 5
