"""Discovery, checks and planning on a fifth of the 5,000-node / 150,000-pod target cluster.

This checks the answers at size; the time and memory budget (10 s, 1 GiB) is measured by
`make bench` (benchmarks/plan_at_scale.py), which prints figures.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from tests.plan.builders import addon_catalogue, eks_cluster, installed_addons, nodegroup
from tests.plan.fakes import FixedClock, StaticAws, StaticCluster
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    Node,
    OwnerRef,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.core.ports import Cluster, Compute, ControlPlane
from upgrader.plan.checks import CheckContext
from upgrader.plan.discovery import discover
from upgrader.plan.document import StepKind
from upgrader.plan.planner import plan_cluster
from upgrader.plan.snapshot import ClusterSnapshot
from upgrader.versions import default_catalog

NODES, PODS, REPLICAS, GROUPS, NAMESPACES = 1_000, 30_000, 29, 10, 100


def _kubernetes() -> StaticCluster:
    spec = PodSpec(requests=Resources(100, 128 * 2**20, 1))
    nodes = [
        Node(
            name=f"n{i}",
            labels={NODEGROUP_LABEL: f"ng-{i % GROUPS}"},
            kubelet_version="v1.29.3-eks-abc",
            allocatable=Resources(8000, 32 * 2**30, 110),
        )
        for i in range(NODES)
    ]
    pods = [
        Pod(
            "kube-system",
            f"aws-node-{i}",
            f"d{i}",
            owner=OwnerRef("DaemonSet", "aws-node"),
            node_name=f"n{i}",
            phase=PodPhase.RUNNING,
            ready=True,
        )
        for i in range(NODES)
    ]
    workloads, pdbs = [], []
    for app in range((PODS - NODES) // REPLICAS):
        namespace, name = f"ns{app % NAMESPACES}", f"app{app}"
        selector = LabelSelector({"app": name})
        workloads.append(
            Workload(
                WorkloadKind.DEPLOYMENT,
                namespace,
                name,
                selector,
                PodTemplate(labels={"app": name}, spec=spec),
                replicas=REPLICAS,
                ready_replicas=REPLICAS,
            )
        )
        pdbs.append(
            PodDisruptionBudget(namespace, name, selector, max_unavailable=1, disruptions_allowed=1)
        )
        labels = {"app": name, "pod-template-hash": "h"}
        pods.extend(
            Pod(
                namespace,
                f"{name}-h-{r}",
                f"u{app}-{r}",
                labels=labels,
                owner=OwnerRef("ReplicaSet", f"{name}-h"),
                node_name=f"n{(app * REPLICAS + r) % NODES}",
                phase=PodPhase.RUNNING,
                ready=True,
                spec=spec,
            )
            for r in range(REPLICAS)
        )
    return StaticCluster(nodes, pods, workloads, pdbs)


def _aws() -> StaticAws:
    return StaticAws(
        ClusterSnapshot(
            cluster=eks_cluster("1.29"),
            nodegroups=tuple(
                nodegroup(f"ng-{g}", "1.29", size=NODES // GROUPS) for g in range(GROUPS)
            ),
            addons=installed_addons("1.29"),
            addon_versions=addon_catalogue(["1.29", "1.30", "1.31"]),
        )
    )


def test_discovery_checks_and_planning_on_a_large_cluster() -> None:
    kube, aws = _kubernetes(), _aws()
    snap = discover(
        "prod",
        cast(ControlPlane, aws),
        cast(Compute, aws),
        cast(Cluster, kube),
        FixedClock(),
        target_version="1.31",
    )
    context = CheckContext(target="1.31", catalog=default_catalog(), today=dt.date(2025, 3, 1))
    plan = plan_cluster(snap, context, region="eu-west-1")
    assert len(snap.pods) >= PODS - REPLICAS
    assert sum(1 for s in plan.steps if s.kind is StepKind.NODEGROUP_BLUE_GREEN) == 2 * GROUPS
