"""Hand-built snapshots for the planner's tests: each test states only the facts it plans from.

Add-on catalogues are synthetic but shaped like EKS's: kube-proxy has one build per minor,
coredns and vpc-cni one release that is the default for a minor and runs on its neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from upgrader.core.aws import (
    Addon,
    AddonCompatibility,
    AddonVersion,
    AsgInstance,
    AutoScalingGroup,
    EksCluster,
    LaunchTemplateRef,
    LaunchTemplateVersion,
    Nodegroup,
    ScalingConfig,
)
from upgrader.core.kube import (
    FARGATE_COMPUTE_LABEL,
    KARPENTER_NODEPOOL_LABEL,
    NODEGROUP_LABEL,
    LabelSelector,
    Node,
    OwnerRef,
    Pod,
    PodPhase,
    PodTemplate,
    Workload,
    WorkloadKind,
)
from upgrader.plan.document import Plan, StepKind
from upgrader.plan.snapshot import ClusterSnapshot, SelfManagedGroup
from upgrader.versions import KubeVersion

CLUSTER = "prod"
REGION = "eu-west-1"


def eks_cluster(version: str, name: str = CLUSTER, platform: str = "eks.7") -> EksCluster:
    return EksCluster(
        name=name,
        arn=f"arn:aws:eks:{REGION}:123456789012:cluster/{name}",
        version=version,
        platform_version=platform,
        status="ACTIVE",
        endpoint=f"https://{name}.example.eks.amazonaws.com",
        subnet_ids=("subnet-a", "subnet-b"),
    )


def nodegroup(
    name: str, version: str, *, ami_type: str = "AL2023_x86_64_STANDARD", size: int = 2
) -> Nodegroup:
    return Nodegroup(
        cluster=CLUSTER,
        name=name,
        arn=f"arn:aws:eks:{REGION}:123456789012:nodegroup/{CLUSTER}/{name}/x",
        status="ACTIVE",
        version=version,
        release_version=f"{version}.3-20250101",
        ami_type=ami_type,
        capacity_type="ON_DEMAND",
        instance_types=("m5.large",),
        subnets=("subnet-a", "subnet-b"),
        scaling=ScalingConfig(size, size * 2, size),
        node_role="arn:aws:iam::123456789012:role/node",
        auto_scaling_groups=(f"eks-{name}-x",),
    )


def node(
    name: str, version: str, labels: Mapping[str, str] | None = None, instance: str = ""
) -> Node:
    return Node(
        name=name,
        labels=dict(labels or {}),
        kubelet_version=f"v{version}.4-eks-abc1234",
        provider_id=f"aws:///eu-west-1a/{instance}" if instance else "",
    )


def managed_nodes(group: Nodegroup, count: int = 2) -> list[Node]:
    return [
        node(f"{group.name}-{i}", group.version, {NODEGROUP_LABEL: group.name})
        for i in range(count)
    ]


def self_managed(name: str, version: str, count: int = 2) -> tuple[SelfManagedGroup, list[Node]]:
    instances = tuple(
        AsgInstance(f"i-{name}-{i}", "ami-old", "InService", "Healthy") for i in range(count)
    )
    group = SelfManagedGroup(
        asg=AutoScalingGroup(
            name=name,
            min_size=count,
            max_size=count * 2,
            desired_capacity=count,
            launch_template=LaunchTemplateRef(id=f"lt-{name}", version="3"),
            instances=instances,
            tags={f"kubernetes.io/cluster/{CLUSTER}": "owned"},
        ),
        launch_template=LaunchTemplateVersion(f"lt-{name}", name, "3", "ami-old", "m5.large"),
    )
    nodes = [node(f"{name}-{i}", version, instance=inst.id) for i, inst in enumerate(instances)]
    return group, nodes


def karpenter_nodes(pool: str, version: str, count: int = 2) -> list[Node]:
    return [node(f"{pool}-{i}", version, {KARPENTER_NODEPOOL_LABEL: pool}) for i in range(count)]


def fargate_nodes(version: str, count: int = 1) -> list[Node]:
    return [
        node(f"fargate-ip-10-0-0-{i}", version, {FARGATE_COMPUTE_LABEL: "fargate"})
        for i in range(count)
    ]


def _minor(version: str) -> int:
    return KubeVersion.parse(version).minor


def addon_catalogue(versions: Iterable[str]) -> dict[str, tuple[AddonVersion, ...]]:
    """What describe-addon-versions lists per Kubernetes minor for three common add-ons."""
    catalogue = {}
    for version in versions:
        m = _minor(version)
        builds = [
            _build("kube-proxy", f"v1.{m}.0-eksbuild.1", version, default=True),
            _build("coredns", f"v1.{m - 15}.0-eksbuild.1", version, default=True),
            _build("coredns", f"v1.{m - 16}.0-eksbuild.1", version, default=False),
        ]
        # vpc-cni: the default for 1.m is v1.(m-12); every build runs on two minors either side.
        builds += [
            _build("vpc-cni", f"v1.{c}.0-eksbuild.1", version, default=c == m - 12)
            for c in range(m - 14, m - 9)
        ]
        catalogue[version] = tuple(builds)
    return catalogue


def _build(name: str, build: str, version: str, *, default: bool) -> AddonVersion:
    return AddonVersion(name, build, (AddonCompatibility(version, default),))


def installed_addons(version: str) -> tuple[Addon, ...]:
    m = _minor(version)
    return (
        Addon("coredns", f"v1.{m - 15}.0-eksbuild.1", "ACTIVE"),
        Addon("kube-proxy", f"v1.{m}.0-eksbuild.1", "ACTIVE"),
        Addon("vpc-cni", f"v1.{m - 12}.0-eksbuild.1", "ACTIVE"),
    )


def autoscaler(namespace: str = "kube-system", replicas: int = 1) -> Workload:
    return Workload(
        kind=WorkloadKind.DEPLOYMENT,
        namespace=namespace,
        name="cluster-autoscaler",
        selector=LabelSelector({"app": "cluster-autoscaler"}),
        template=PodTemplate(labels={"app": "cluster-autoscaler"}),
        replicas=replicas,
    )


def pod(name: str, node_name: str, namespace: str = "shop", owner: str = "web-abc") -> Pod:
    return Pod(
        namespace=namespace,
        name=name,
        uid=f"uid-{namespace}-{name}",
        owner=OwnerRef("ReplicaSet", owner),
        labels={"pod-template-hash": owner.rsplit("-", 1)[-1]},
        node_name=node_name,
        phase=PodPhase.RUNNING,
        ready=True,
    )


def snapshot(
    version: str,
    *,
    target: str | None = None,
    groups: Sequence[tuple[str, str]] = (("general", ""),),
    self_managed_groups: Sequence[tuple[str, str]] = (),
    karpenter: Sequence[tuple[str, str]] = (),
    fargate: str | None = None,
    addons: bool = True,
    with_autoscaler: bool = False,
    extra_nodes: Sequence[Node] = (),
    pods: Sequence[Pod] = (),
) -> ClusterSnapshot:
    """A cluster on `version`; a group version of "" means "on the control plane's version"."""
    goal = target or version
    nodegroups = [nodegroup(name, v or version) for name, v in groups]
    nodes = [n for g in nodegroups for n in managed_nodes(g)]
    own = []
    for name, v in self_managed_groups:
        group, group_nodes = self_managed(name, v or version)
        own.append(group)
        nodes += group_nodes
    for pool, v in karpenter:
        nodes += karpenter_nodes(pool, v or version)
    if fargate is not None:
        nodes += fargate_nodes(fargate or version)
    first, last = _minor(version), _minor(goal)
    minors = [f"1.{m}" for m in range(min(first, last), max(first, last) + 1)]
    return ClusterSnapshot(
        cluster=eks_cluster(version),
        nodegroups=tuple(nodegroups),
        self_managed_groups=tuple(own),
        addons=installed_addons(version) if addons else (),
        addon_versions=addon_catalogue(minors) if addons else {},
        nodes=(*nodes, *extra_nodes),
        pods=tuple(pods),
        workloads=(autoscaler(),) if with_autoscaler else (),
    )


def upgraded(before: ClusterSnapshot, plan: Plan) -> ClusterSnapshot:
    """The cluster as it would be once every step of `plan` has run: what re-planning sees."""
    target = plan.target_version
    if not plan.steps:
        return before
    renamed = {
        s.params.original_nodegroup: getattr(s.params, "green_nodegroup", None)
        or s.params.nodegroup
        for s in plan.steps
        if s.kind in (StepKind.NODEGROUP_BLUE_GREEN, StepKind.NODEGROUP_IN_PLACE)
    }
    groups = tuple(
        replace(g, name=str(renamed.get(g.name, g.name)), version=target) for g in before.nodegroups
    )
    nodes = tuple(_upgraded_node(n, target, renamed) for n in before.nodes)
    addons = tuple(
        replace(a, version=str(_final_addon(plan, a.name) or a.version)) for a in before.addons
    )
    return replace(
        before,
        cluster=replace(before.cluster, version=target),
        nodegroups=groups,
        nodes=nodes,
        addons=addons,
    )


def _upgraded_node(n: Node, target: str, renamed: Mapping[object, object]) -> Node:
    labels = dict(n.labels)
    if NODEGROUP_LABEL in labels:
        labels[NODEGROUP_LABEL] = str(renamed.get(labels[NODEGROUP_LABEL], labels[NODEGROUP_LABEL]))
    return replace(n, labels=labels, kubelet_version=f"v{target}.1-eks-abc1234")


def _final_addon(plan: Plan, name: str) -> str | None:
    final = None
    for step in plan.steps:
        for update in step.addon_updates:
            if update.name == name and update.target:
                final = update.target
    return final
