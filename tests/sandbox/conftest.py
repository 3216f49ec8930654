"""Fixtures for the FakeCluster tests: a fresh cluster on a virtual clock with terse builders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from upgrader.core.kube import (
    NODEGROUP_LABEL,
    IntOrPercent,
    LabelSelector,
    Node,
    NodeAffinity,
    Pod,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Taint,
    Toleration,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.clock import SANDBOX_EPOCH, VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

MI = 2**20
GI = 2**30


class World:
    """A FakeCluster on its own clock, and builders that keep tests to the point."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.cluster = FakeCluster(self.clock)

    @property
    def elapsed(self) -> float:
        return self.clock.now() - SANDBOX_EPOCH

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    def settle(self) -> None:
        self.cluster.settle()

    # nodes

    def node(
        self,
        name: str,
        *,
        cpu: int = 4000,
        memory: int = 16 * GI,
        pods: int = 110,
        group: str = "ng-a",
        labels: Mapping[str, str] | None = None,
        taints: tuple[Taint, ...] = (),
        unschedulable: bool = False,
    ) -> Node:
        return self.cluster.add_node(
            Node(
                name=name,
                labels={NODEGROUP_LABEL: group, **(labels or {})},
                taints=taints,
                unschedulable=unschedulable,
                kubelet_version="v1.29.8-eks-a737599",
                allocatable=Resources(cpu, memory, pods),
            )
        )

    # workloads

    def workload(
        self,
        kind: WorkloadKind,
        name: str,
        replicas: int | None = 1,
        *,
        namespace: str = "default",
        cpu: int = 100,
        memory: int = 128 * MI,
        startup: float = 5.0,
        run: float | None = None,
        grace: int = 30,
        tolerations: tuple[Toleration, ...] = (),
        node_selector: Mapping[str, str] | None = None,
        affinity: NodeAffinity | None = None,
    ) -> Workload:
        spec = PodSpec(
            requests=Resources(cpu, memory),
            tolerations=tolerations,
            node_selector=node_selector or {},
            node_affinity=affinity or NodeAffinity(),
            termination_grace_seconds=grace,
        )
        workload = Workload(
            kind=kind,
            namespace=namespace,
            name=name,
            selector=LabelSelector({"app": name}),
            template=PodTemplate(labels={"app": name}, spec=spec),
            replicas=replicas,
        )
        self.cluster.add_workload(workload, startup_seconds=startup, run_seconds=run)
        return workload

    def deployment(self, name: str, replicas: int, **options: Any) -> Workload:
        return self.workload(WorkloadKind.DEPLOYMENT, name, replicas, **options)

    def bare_pod(
        self, name: str, *, namespace: str = "default", cpu: int = 100, startup: float = 5.0
    ) -> Pod:
        pod = Pod(
            namespace=namespace,
            name=name,
            uid="",
            labels={"app": name},
            spec=PodSpec(requests=Resources(cpu, 128 * MI)),
        )
        return self.cluster.add_pod(pod, startup_seconds=startup)

    def pdb(
        self,
        name: str,
        app: str,
        *,
        min_available: IntOrPercent | None = None,
        max_unavailable: IntOrPercent | None = None,
        policy: str = "IfHealthyBudget",
        namespace: str = "default",
    ) -> None:
        self.cluster.add_pdb(
            PodDisruptionBudget(
                namespace=namespace,
                name=name,
                selector=LabelSelector({"app": app}),
                min_available=min_available,
                max_unavailable=max_unavailable,
                unhealthy_pod_eviction_policy=policy,
            )
        )

    # reading

    def pods(self, app: str, namespace: str = "default") -> list[Pod]:
        return self.cluster.list_pods(namespace=namespace, label_selector=f"app={app}")

    def live(self, app: str) -> list[Pod]:
        return [p for p in self.pods(app) if p.deletion_timestamp is None]

    def ready(self, app: str) -> list[Pod]:
        return [p for p in self.live(app) if p.ready]

    def budget(self, name: str, namespace: str = "default") -> PodDisruptionBudget:
        (found,) = [b for b in self.cluster.list_pdbs(namespace) if b.name == name]
        return found


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def new_world() -> Callable[[], World]:
    """A factory, for hypothesis tests that need a fresh world per example."""
    return World
