"""Small builders for cluster snapshots: each test states only what matters to it.

Defaults describe a healthy cluster on 1.33 heading to 1.34, judged on 2026-07-01 (both
versions in standard support by the packaged version data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from upgrader.core.aws import (
    Addon,
    AddonCompatibility,
    AddonVersion,
    AsgInstance,
    AutoScalingGroup,
    EksCluster,
    Insight,
    LaunchTemplateRef,
    LaunchTemplateVersion,
    Nodegroup,
    ScalingConfig,
    Subnet,
)
from upgrader.core.kube import (
    FARGATE_COMPUTE_LABEL,
    KARPENTER_NODEPOOL_LABEL,
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
    Taint,
    Toleration,
    Volume,
    Workload,
    WorkloadKind,
    parse_cpu,
    parse_memory,
)
from upgrader.plan.checks import CheckContext, Finding, get_check
from upgrader.plan.snapshot import ClusterSnapshot, SelfManagedGroup, UsageSource
from upgrader.versions import default_catalog

TODAY = dt.date(2026, 7, 1)
ENDPOINT = "https://ABC123.gr7.us-east-1.eks.amazonaws.com"


def cluster(version: str = "1.33", **fields: Any) -> EksCluster:
    values: dict[str, Any] = {
        "name": "prod",
        "arn": "arn:aws:eks:us-east-1:111122223333:cluster/prod",
        "version": version,
        "platform_version": "eks.5",
        "status": "ACTIVE",
        "endpoint": ENDPOINT,
        "subnet_ids": ("subnet-a", "subnet-b"),
    }
    values.update(fields)
    return EksCluster(**values)


def snapshot(version: str = "1.33", **fields: Any) -> ClusterSnapshot:
    fields.setdefault("cluster", cluster(version))
    fields.setdefault("kube_endpoint", ENDPOINT)
    fields.setdefault("kube_context", "prod")
    fields.setdefault("subnets", (subnet("subnet-a", free=200), subnet("subnet-b", free=200)))
    fields.setdefault("api_usage_sources", frozenset(UsageSource))
    return ClusterSnapshot(**fields)


def context(target: str = "1.34", **fields: Any) -> CheckContext:
    fields.setdefault("catalog", default_catalog())
    fields.setdefault("today", TODAY)
    return CheckContext(target=target, **fields)


def run(check_id: str, snap: ClusterSnapshot, ctx: CheckContext | None = None) -> list[Finding]:
    return get_check(check_id).run(snap, ctx or context())


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [str(f) for f in findings]
    return findings[0]


# --- AWS ----------------------------------------------------------------------------------


def subnet(subnet_id: str, *, free: int = 200, az: str = "us-east-1a") -> Subnet:
    return Subnet(subnet_id, az, "10.0.0.0/24", free)


def nodegroup(
    name: str = "ng-a",
    *,
    version: str = "1.33",
    ami_type: str = "AL2023_x86_64_STANDARD",
    status: str = "ACTIVE",
    instance_type: str = "m5.xlarge",
    desired: int = 3,
    subnets: tuple[str, ...] = ("subnet-a", "subnet-b"),
    tags: Mapping[str, str] | None = None,
    health_issues: tuple[str, ...] = (),
) -> Nodegroup:
    return Nodegroup(
        cluster="prod",
        name=name,
        arn=f"arn:aws:eks:us-east-1:111122223333:nodegroup/prod/{name}/x",
        status=status,
        version=version,
        release_version=f"{version}.0-20260601",
        ami_type=ami_type,
        capacity_type="ON_DEMAND",
        instance_types=(instance_type,),
        subnets=subnets,
        scaling=ScalingConfig(min_size=1, max_size=desired * 2, desired_size=desired),
        node_role="arn:aws:iam::111122223333:role/node",
        tags=dict(tags or {}),
        health_issues=health_issues,
        auto_scaling_groups=(f"eks-{name}-asg",),
    )


def self_managed(
    name: str = "smg-a",
    *,
    instances: Iterable[str] = ("i-1",),
    image_id: str = "ami-123",
    instance_type: str = "m5.xlarge",
    tags: Mapping[str, str] | None = None,
    unhealthy: Iterable[str] = (),
    subnets: tuple[str, ...] = ("subnet-a",),
) -> SelfManagedGroup:
    sick = set(unhealthy)
    ids = list(instances)
    return SelfManagedGroup(
        asg=AutoScalingGroup(
            name=name,
            min_size=1,
            max_size=len(ids) * 2,
            desired_capacity=len(ids),
            launch_template=LaunchTemplateRef(id="lt-1", version="1"),
            instances=tuple(
                AsgInstance(i, image_id, "InService", "Unhealthy" if i in sick else "Healthy")
                for i in ids
            ),
            tags=dict(tags or {}),
            subnets=subnets,
        ),
        launch_template=LaunchTemplateVersion("lt-1", "smg", "1", image_id, instance_type),
    )


def addon(name: str, version: str, status: str = "ACTIVE") -> Addon:
    return Addon(name, version, status)


def addon_version(name: str, version: str, *kube: str, default: bool = False) -> AddonVersion:
    return AddonVersion(name, version, tuple(AddonCompatibility(k, default) for k in kube))


def insight(
    name: str, status: str, version: str = "1.34", category: str = "UPGRADE_READINESS"
) -> Insight:
    return Insight(
        id=f"id-{name.lower().replace(' ', '-')}",
        name=name,
        category=category,
        status=status,
        kubernetes_version=version,
        description=f"{name} description",
        recommendation=f"fix {name}",
    )


# --- Kubernetes ----------------------------------------------------------------------------


def node(
    name: str,
    *,
    group: str | None = "ng-a",
    kubelet: str = "v1.33.1-eks-1",
    cpu: str = "4",
    memory: str = "16Gi",
    pods: int = 58,
    labels: Mapping[str, str] | None = None,
    taints: tuple[Taint, ...] = (),
    ready: bool = True,
    fargate: bool = False,
    karpenter_pool: str | None = None,
    instance: str | None = None,
) -> Node:
    all_labels = {"kubernetes.io/hostname": name, **(labels or {})}
    if fargate:
        all_labels[FARGATE_COMPUTE_LABEL] = "fargate"
    elif karpenter_pool:
        all_labels[KARPENTER_NODEPOOL_LABEL] = karpenter_pool
    elif group:
        all_labels[NODEGROUP_LABEL] = group
    return Node(
        name=name,
        labels=all_labels,
        taints=taints,
        ready=ready,
        kubelet_version=kubelet,
        allocatable=Resources(parse_cpu(cpu), parse_memory(memory), pods),
        provider_id=f"aws:///us-east-1a/{instance or 'i-' + name}",
    )


def requests(cpu: str = "100m", memory: str = "128Mi") -> Resources:
    return Resources(parse_cpu(cpu), parse_memory(memory))


def pod(
    name: str,
    namespace: str = "default",
    *,
    node: str | None = "n1",
    owner: tuple[str, str] | None = ("ReplicaSet", "web-5d9f"),
    labels: Mapping[str, str] | None = None,
    cpu: str = "100m",
    memory: str = "128Mi",
    volumes: tuple[Volume, ...] = (),
    grace: int = 30,
    tolerations: tuple[Toleration, ...] = (),
    node_selector: Mapping[str, str] | None = None,
    phase: PodPhase = PodPhase.RUNNING,
) -> Pod:
    return Pod(
        namespace=namespace,
        name=name,
        uid=f"uid-{namespace}-{name}",
        labels=dict(labels or {"app": "web"}),
        owner=OwnerRef(*owner) if owner else None,
        node_name=node,
        phase=phase,
        ready=phase is PodPhase.RUNNING,
        spec=PodSpec(
            requests=requests(cpu, memory),
            tolerations=tolerations,
            node_selector=dict(node_selector or {}),
            volumes=volumes,
            termination_grace_seconds=grace,
        ),
    )


def daemon_pod(name: str, node_name: str, *, cpu: str = "500m", memory: str = "1Gi") -> Pod:
    return pod(
        name,
        "kube-system",
        node=node_name,
        owner=("DaemonSet", "aws-node"),
        labels={"k8s-app": "aws-node"},
        cpu=cpu,
        memory=memory,
        tolerations=(Toleration(operator="Exists"),),
    )


def workload(
    name: str,
    namespace: str = "default",
    *,
    kind: WorkloadKind = WorkloadKind.DEPLOYMENT,
    replicas: int | None = 3,
    readiness: bool = True,
    labels: Mapping[str, str] | None = None,
) -> Workload:
    return Workload(
        kind=kind,
        namespace=namespace,
        name=name,
        selector=LabelSelector({"app": name}),
        template=PodTemplate(labels={"app": name}, spec=PodSpec(has_readiness_probe=readiness)),
        replicas=replicas,
        labels=dict(labels or {}),
    )


def pdb(
    name: str,
    namespace: str = "default",
    *,
    match: Mapping[str, str] | None = None,
    min_available: int | str | None = None,
    max_unavailable: int | str | None = 1,
    expected: int = 0,
    allowed: int = 0,
) -> PodDisruptionBudget:
    return PodDisruptionBudget(
        namespace=namespace,
        name=name,
        selector=LabelSelector(dict(match if match is not None else {"app": "web"})),
        min_available=min_available,
        max_unavailable=None if min_available is not None else max_unavailable,
        expected_pods=expected,
        current_healthy=expected,
        desired_healthy=max(expected - allowed, 0),
        disruptions_allowed=allowed,
    )
