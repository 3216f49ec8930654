"""Test doubles around the ports: a recording proxy that counts and can deny calls, and a static
Kubernetes cluster for scale tests.

The proxy wraps a real port implementation (the sandbox's boto3-on-moto, or the FakeCluster)
rather than replacing it, so a test still runs the real reads and only adds what it observes:
how many calls of each method discovery made, and a PermissionDeniedError where a test says a
permission is missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from upgrader.core.aws import (
    Addon,
    AddonVersion,
    AutoScalingGroup,
    EksCluster,
    EksVersionFacts,
    FargateProfile,
    Insight,
    LaunchTemplateVersion,
    Nodegroup,
    Subnet,
)
from upgrader.core.errors import NotFoundError, PermissionDeniedError
from upgrader.core.kube import (
    DeprecatedApiRequest,
    HelmRelease,
    Node,
    NodePool,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    Service,
    Workload,
)
from upgrader.plan.snapshot import ClusterSnapshot


class Recording:
    """Forwards every call to `target`, counting it; a method in `deny` raises instead."""

    def __init__(self, target: object, deny: Mapping[str, str] | None = None) -> None:
        self._target = target
        self._deny = dict(deny or {})
        self.calls: Counter[str] = Counter()
        self.arguments: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute
        return self._wrap(name, attribute)

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            self.arguments.setdefault(name, []).append((args, kwargs))
            if name in self._deny:
                raise PermissionDeniedError(f"{self._deny[name]} denied", self._deny[name])
            return method(*args, **kwargs)

        return call


class StaticCluster:
    """The read side of the `Cluster` port over fixed lists: enough for discovery at scale
    without simulating 150,000 pods' lives."""

    def __init__(
        self,
        nodes: list[Node],
        pods: list[Pod],
        workloads: list[Workload] | None = None,
        pdbs: list[PodDisruptionBudget] | None = None,
        version: str = "v1.29.8-eks-a737599",
    ) -> None:
        self.nodes, self.pods = nodes, pods
        self.workloads, self.pdbs = workloads or [], pdbs or []
        self.version = version

    def server_version(self) -> str:
        return self.version

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        return list(self.nodes)

    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        return list(self.pods)

    def list_workloads(self, kind: object = None, namespace: str | None = None) -> list[Workload]:
        return list(self.workloads)

    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        return list(self.pdbs)

    def list_services(self, namespace: str | None = None) -> list[Service]:
        return []

    def list_persistent_volumes(self) -> list[PersistentVolume]:
        return []

    def list_node_pools(self) -> list[NodePool]:
        return []

    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        return []

    def helm_releases(self) -> list[HelmRelease]:
        return []


class StaticAws:
    """The read side of `ControlPlane` and `Compute` over a snapshot's AWS facts: for scale
    tests, where moto's per-request cost would be measured instead of eksup's."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot

    def describe_cluster(self, name: str) -> EksCluster:
        return self.snapshot.cluster

    def list_nodegroups(self, cluster: str) -> list[str]:
        return [g.name for g in self.snapshot.nodegroups]

    def describe_nodegroup(self, cluster: str, name: str) -> Nodegroup:
        return self.snapshot.nodegroup_by_name[name]

    def list_fargate_profiles(self, cluster: str) -> list[FargateProfile]:
        return list(self.snapshot.fargate_profiles)

    def list_addons(self, cluster: str) -> list[str]:
        return [a.name for a in self.snapshot.addons]

    def describe_addon(self, cluster: str, name: str) -> Addon:
        return next(a for a in self.snapshot.addons if a.name == name)

    def describe_addon_versions(
        self, kubernetes_version: str, addon_name: str | None = None
    ) -> list[AddonVersion]:
        return list(self.snapshot.addon_versions.get(kubernetes_version, ()))

    def list_insights(self, cluster: str) -> list[Insight]:
        return list(self.snapshot.insights)

    def describe_cluster_versions(self) -> list[EksVersionFacts]:
        return []  # a replayed snapshot has no AWS calendar: plans fall back to the file

    def list_cluster_auto_scaling_groups(self, cluster: str) -> list[AutoScalingGroup]:
        return [g.asg for g in self.snapshot.self_managed_groups]

    def describe_launch_template_version(
        self, template_id: str, version: str
    ) -> LaunchTemplateVersion:
        for group in self.snapshot.self_managed_groups:
            if group.launch_template and group.launch_template.template_id == template_id:
                return group.launch_template
        raise NotFoundError(f"no launch template {template_id}")

    def describe_subnets(self, subnet_ids: Sequence[str]) -> list[Subnet]:
        return [s for s in self.snapshot.subnets if s.id in subnet_ids]

    def get_parameter(self, name: str) -> str:
        try:
            return self.snapshot.ami_ids[name]
        except KeyError:
            raise NotFoundError(f"parameter {name} not found") from None


class FixedClock:
    def __init__(self, now: float = 1_767_225_600.0) -> None:
        self._now = now

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += seconds
