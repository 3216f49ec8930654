"""`kubectl drain` and eksup's drain agree on which pods go and which block.

Two identical worlds are built (the FakeCluster is deterministic, so pod names match): kubectl
drains node-1 of one through the sandbox API server; eksup's `Drain` drains node-1 of the other
through the `Cluster` port. node-1 holds two replicas of `web` (PDB minAvailable 1, so one
eviction is refused until the other's replacement is Ready), `cache` (emptyDir), a DaemonSet
pod, a bare pod and a mirror pod. With every combination of --force and
--delete-emptydir-data, both drains must refuse the same pods or evict the same pods, leave the
DaemonSet and mirror pods where they are, and never break the PDB.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sandbox.apiserver.test_kubectl import COMMAND_TIMEOUT, KUBECTL, TICKER_RATE
from upgrader.core.kube import (
    MIRROR_POD_ANNOTATION,
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
from upgrader.drain.drainer import Drain, DrainRefusedError, DrainSettings
from upgrader.drain.rules import DrainOptions
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

GI = 2**30
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary")


@dataclass
class World:
    clock: VirtualClock
    cluster: FakeCluster


def _node(cluster: FakeCluster, name: str) -> None:
    cluster.add_node(
        Node(
            name=name,
            labels={NODEGROUP_LABEL: "ng-a", "kubernetes.io/hostname": name},
            kubelet_version="v1.29.8-eks-a737599",
            allocatable=Resources(4000, 16 * GI, 110),
        )
    )


def _deployment(cluster: FakeCluster, name: str, replicas: int, spec: PodSpec) -> None:
    cluster.add_workload(
        Workload(
            kind=WorkloadKind.DEPLOYMENT,
            namespace="default",
            name=name,
            selector=LabelSelector({"app": name}),
            template=PodTemplate(labels={"app": name}, spec=spec),
            replicas=replicas,
        ),
        startup_seconds=5.0,
    )


def build_world() -> World:
    clock = VirtualClock()
    cluster = FakeCluster(clock)
    _node(cluster, "node-1")
    small = PodSpec(requests=Resources(100, 128 * 2**20), termination_grace_seconds=10)
    _deployment(cluster, "web", 2, small)
    scratch = (Volume("scratch", empty_dir=True),)
    _deployment(cluster, "cache", 1, PodSpec(requests=small.requests, volumes=scratch))
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
    cluster.add_pod(Pod("default", "bare", "", labels={"run": "bare"}, node_name="node-1"))
    cluster.add_pod(
        Pod(
            "kube-system",
            "static-proxy-node-1",
            "",
            labels={"tier": "node"},
            annotations={MIRROR_POD_ANNOTATION: "static"},
            node_name="node-1",
        )
    )
    cluster.settle()
    _node(cluster, "node-2")
    _node(cluster, "node-3")
    cluster.settle()
    return World(clock, cluster)


@dataclass(frozen=True)
class Outcome:
    evicted: frozenset[str]  # namespace/name
    refused: frozenset[str]
    left_on_node: frozenset[str]


def kubectl_drain(world: World, tmp_path: Path, flags: list[str]) -> tuple[Outcome, str]:
    assert KUBECTL is not None
    before = {p.name: p.key for p in world.cluster.list_pods(node_name="node-1")}
    with KubeServer(world.cluster, world.clock) as server:
        server.start_ticker(TICKER_RATE)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        command = [KUBECTL, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "c")]
        done = subprocess.run(
            [*command, "drain", "node-1", "--ignore-daemonsets", "--timeout=60s", *flags],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    evicted = {before[m] for m in re.findall(r"^pod/(\S+) evicted$", done.stdout, re.MULTILINE)}
    refused: set[str] = set()
    for listed in re.findall(r"cannot delete [^:]+: ((?:[\w.-]+/[\w.-]+(?:, )?)+)", done.stderr):
        refused.update(key.strip() for key in listed.split(",") if key.strip())
    left = {p.key for p in world.cluster.list_pods(node_name="node-1") if not p.is_terminating}
    return Outcome(frozenset(evicted), frozenset(refused), frozenset(left)), done.stderr


def eksup_drain(world: World, options: DrainOptions) -> Outcome:
    drain = Drain(
        world.cluster,
        world.clock,
        lambda: [world.cluster.get_node("node-1")],
        DrainSettings(timeout_seconds=600, options=options),
    )
    evicted: set[str] = set()
    refused: set[str] = set()
    try:
        evicted = set(drain.run().evicted)
    except DrainRefusedError as e:
        refused = {d.pod.key for d in e.decisions}
    left = {p.key for p in world.cluster.list_pods(node_name="node-1") if not p.is_terminating}
    return Outcome(frozenset(evicted), frozenset(refused), frozenset(left))


@pytest.mark.parametrize(
    ("force", "delete_emptydir_data"),
    [(False, False), (True, False), (False, True), (True, True)],
)
def test_kubectl_and_eksup_drain_the_same_pods(
    tmp_path: Path, force: bool, delete_emptydir_data: bool
) -> None:
    by_kubectl, by_eksup = build_world(), build_world()
    on_node = sorted(p.key for p in by_kubectl.cluster.list_pods(node_name="node-1"))
    assert on_node == sorted(p.key for p in by_eksup.cluster.list_pods(node_name="node-1"))
    flags = ["--force"] * force + ["--delete-emptydir-data"] * delete_emptydir_data

    kubectl, stderr = kubectl_drain(by_kubectl, tmp_path, flags)
    options = DrainOptions(delete_emptydir_data=delete_emptydir_data, force=force)
    eksup = eksup_drain(by_eksup, options)

    assert kubectl == eksup, stderr
    cache = next(k for k in on_node if k.startswith("default/cache-"))
    expected_refused = set()
    if not force:
        expected_refused.add("default/bare")
    if not delete_emptydir_data:
        expected_refused.add(cache)
    assert eksup.refused == expected_refused
    daemon = next(k for k in on_node if k.startswith("kube-system/node-agent-"))
    stays = {daemon, "kube-system/static-proxy-node-1"}
    if expected_refused:
        assert eksup.evicted == frozenset()
        assert eksup.left_on_node == frozenset(on_node)
    else:
        assert eksup.evicted == frozenset(on_node) - stays
        assert eksup.left_on_node == stays
        # The PDB let one web pod go at a time: kubectl was refused (429) and retried.
        assert "Cannot evict pod as it would violate the pod's disruption budget" in stderr
        assert by_kubectl.cluster.stats.evictions_refused_by_pdb["default/web-pdb"] >= 1
    for world in (by_kubectl, by_eksup):
        assert world.cluster.stats.pdb_violations == ()
