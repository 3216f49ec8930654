from __future__ import annotations

from upgrader.core.kube import (
    LabelSelector,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.cluster.node_groups import NodeTemplate


def test_a_pod_reports_when_it_became_ready_so_its_startup_time_is_known() -> None:
    cluster = FakeCluster(VirtualClock())
    cluster.scale_node_group("ng", 1, NodeTemplate(), 0)
    cluster.settle()
    labels = {"app": "slow"}
    cluster.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "default",
            "slow",
            LabelSelector(labels),
            PodTemplate(labels=labels, spec=PodSpec(Resources(100, 2**20, 1))),
            replicas=1,
        ),
        startup_seconds=42.0,
    )
    cluster.settle()
    (pod,) = cluster.list_pods(namespace="default")
    assert pod.ready
    assert pod.startup_seconds == 42.0
