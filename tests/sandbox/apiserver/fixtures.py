"""A small FakeCluster served by the sandbox API server, shared by the kube_server tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    Node,
    Pod,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Toleration,
    Volume,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

GI = 2**30


@dataclass
class Served:
    clock: VirtualClock
    cluster: FakeCluster
    server: KubeServer
    kubeconfig: Path


def add_node(cluster: FakeCluster, name: str) -> None:
    cluster.add_node(
        Node(
            name=name,
            labels={NODEGROUP_LABEL: "ng-a", "kubernetes.io/hostname": name},
            kubelet_version="v1.29.8-eks-a737599",
            allocatable=Resources(4000, 16 * GI, 110),
        )
    )


def build_world(clock: VirtualClock) -> FakeCluster:
    """node-1: two `web` pods (Deployment, PDB minAvailable 1, emptyDir) and a DaemonSet pod.
    node-2 and node-3 join afterwards; node-3 holds the bare pod `bare`."""
    cluster = FakeCluster(clock)
    add_node(cluster, "node-1")
    spec = PodSpec(
        requests=Resources(100, 128 * 2**20),
        volumes=(Volume("scratch", empty_dir=True),),
        termination_grace_seconds=10,
    )
    cluster.add_workload(
        Workload(
            kind=WorkloadKind.DEPLOYMENT,
            namespace="default",
            name="web",
            selector=LabelSelector({"app": "web"}),
            template=PodTemplate(labels={"app": "web"}, spec=spec),
            replicas=2,
        ),
        startup_seconds=5.0,
    )
    cluster.add_workload(
        Workload(
            kind=WorkloadKind.DAEMON_SET,
            namespace="kube-system",
            name="node-agent",
            selector=LabelSelector({"app": "node-agent"}),
            template=PodTemplate(
                labels={"app": "node-agent"},
                spec=PodSpec(tolerations=(Toleration(operator="Exists"),)),
            ),
        )
    )
    cluster.add_pdb(
        PodDisruptionBudget(
            namespace="default",
            name="web-pdb",
            selector=LabelSelector({"app": "web"}),
            min_available=1,
        )
    )
    cluster.settle()
    add_node(cluster, "node-2")
    add_node(cluster, "node-3")
    cluster.add_pod(
        Pod(namespace="default", name="bare", uid="", labels={"app": "bare"}, node_name="node-3")
    )
    cluster.settle()
    return cluster


def serve(tmp_path: Path) -> Iterator[Served]:
    clock = VirtualClock()
    cluster = build_world(clock)
    with KubeServer(cluster, clock) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        yield Served(clock, cluster, server, kubeconfig)
