"""The cluster snapshot: one typed, immutable picture of a cluster, taken once per plan.

Discovery fills it (one list call per kind); the pre-flight checks and the planner only read it.
Deciding from a single picture means every check sees the same cluster, a plan can be
fingerprinted against it, and checks stay pure functions that tests feed with hand-built values.

Reads that were denied do not make discovery fail: the read is left empty and recorded in
`not_assessed` with the missing permission, so every check that depends on it says "not
assessed" instead of passing on an empty list.

The derived indexes at the bottom are computed on first use and cached on the instance: checks
on a 150,000-pod cluster must look pods up by node, namespace or label, never scan them all per
node or per PodDisruptionBudget.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from upgrader.core.aws import (
    Addon,
    AddonVersion,
    AutoScalingGroup,
    EksCluster,
    FargateProfile,
    Insight,
    LaunchTemplateVersion,
    Nodegroup,
    Subnet,
)
from upgrader.core.kube import (
    FARGATE_COMPUTE_LABEL,
    KARPENTER_NODEPOOL_LABEL,
    NODEGROUP_LABEL,
    Node,
    NodeClass,
    NodePool,
    OwnerKind,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    Service,
    Workload,
    WorkloadKind,
)

# Karpenter before v1 (v1alpha5) labelled its nodes with the provisioner instead of the pool.
KARPENTER_PROVISIONER_LABEL = "karpenter.sh/provisioner-name"
_POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
# Plain strings: enum attribute access costs too much 150,000 times over.
_REPLICA_SET = OwnerKind.REPLICA_SET.value
_DAEMON_SET = OwnerKind.DAEMON_SET.value
_DEPLOYMENT = WorkloadKind.DEPLOYMENT.value


class Read(StrEnum):
    """The reads discovery makes; the keys of `ClusterSnapshot.not_assessed`."""

    NODEGROUPS = "nodegroups"  # eks:ListNodegroups, eks:DescribeNodegroup
    SELF_MANAGED_GROUPS = "self-managed-groups"  # autoscaling:DescribeAutoScalingGroups
    LAUNCH_TEMPLATES = "launch-templates"  # ec2:DescribeLaunchTemplateVersions
    FARGATE_PROFILES = "fargate-profiles"  # eks:ListFargateProfiles, DescribeFargateProfile
    ADDONS = "addons"  # eks:ListAddons, eks:DescribeAddon
    ADDON_VERSIONS = "addon-versions"  # eks:DescribeAddonVersions
    INSIGHTS = "insights"  # eks:ListInsights
    SUBNETS = "subnets"  # ec2:DescribeSubnets
    INSTANCE_TYPES = "instance-types"  # ec2:DescribeInstanceTypes
    AMI_IDS = "ami-ids"  # ssm:GetParameter
    VCPU_QUOTA = "vcpu-quota"  # servicequotas:GetServiceQuota
    NODES = "nodes"  # list nodes
    PODS = "pods"  # list pods, all namespaces
    WORKLOADS = "workloads"  # list deployments, statefulsets, daemonsets, replicasets, jobs
    PDBS = "pdbs"  # list poddisruptionbudgets
    PERSISTENT_VOLUMES = "persistent-volumes"  # list persistentvolumes
    NODE_POOLS = "node-pools"  # list nodepools.karpenter.sh
    NODE_CLASSES = "node-classes"  # list ec2nodeclasses.karpenter.k8s.aws
    SERVICES = "services"  # list services
    DEPRECATED_API_METRICS = "deprecated-api-metrics"  # get /metrics on the API server
    HELM_RELEASES = "helm-releases"  # list secrets with label owner=helm


class UsageSource(StrEnum):
    """Where a use of a (possibly removed) API version was seen."""

    API_SERVER = "api-server"  # the apiserver_requested_deprecated_apis metric
    MANIFEST = "manifest"  # a file under --manifests
    HELM = "helm"  # the manifest of a deployed Helm release


@dataclass(frozen=True)
class ApiUsage:
    """One use of `group_version` + `kind`.

    `kind` is the Kind ("PodDisruptionBudget"); the API-server metric only knows the resource
    ("poddisruptionbudgets"), and discovery may pass it as is: checks match both spellings.
    `object` says what uses it, in the source's terms: "deploy/app.yaml:12 Deployment web",
    "monitoring/prometheus (revision 7) PodSecurityPolicy psp", or the metric's label set.
    """

    group_version: str
    kind: str
    source: UsageSource
    object: str
    detail: str = ""  # e.g. the request count the metric gave


@dataclass(frozen=True)
class SelfManagedGroup:
    """An Auto Scaling group of nodes that EKS does not manage, with its launch template."""

    asg: AutoScalingGroup
    launch_template: LaunchTemplateVersion | None = None

    @property
    def name(self) -> str:
        return self.asg.name

    @property
    def tags(self) -> Mapping[str, str]:
        return self.asg.tags

    @property
    def instance_type(self) -> str | None:
        return self.launch_template.instance_type if self.launch_template else None

    @property
    def image_id(self) -> str | None:
        return self.launch_template.image_id if self.launch_template else None


@dataclass(frozen=True)
class InstanceTypeInfo:
    """What EC2 says about an instance type, for surge and quota arithmetic."""

    name: str
    vcpus: int
    memory_mib: int = 0


class NodeOwnerKind(StrEnum):
    MANAGED = "managed"  # an EKS managed node group
    SELF_MANAGED = "self-managed"  # an Auto Scaling group eksup found by its cluster tag
    FARGATE = "fargate"
    KARPENTER = "karpenter"
    UNKNOWN = "unknown"  # joined by hand, or by a tool eksup does not know


@dataclass(frozen=True)
class NodeOwner:
    kind: NodeOwnerKind
    name: str  # node group, ASG or Karpenter node pool; "" for Fargate and unknown

    def __str__(self) -> str:
        """How a message names the group: "managed node group ng-a", "Fargate", ..."""
        return {
            NodeOwnerKind.MANAGED: f"managed node group {self.name}",
            NodeOwnerKind.SELF_MANAGED: f"self-managed group {self.name}",
            NodeOwnerKind.FARGATE: "Fargate",
            NodeOwnerKind.KARPENTER: f"Karpenter node pool {self.name}",
            NodeOwnerKind.UNKNOWN: "nodes of no known group",
        }[self.kind]


@dataclass(frozen=True, eq=False)
class ClusterSnapshot:
    """Everything the checks and the planner know about one cluster, at one instant."""

    cluster: EksCluster
    taken_at: float = 0.0  # seconds since the epoch
    server_version: str = ""  # the API server's gitVersion, "v1.29.8-eks-a737599"
    kube_context: str = ""  # the kubeconfig context used
    kube_endpoint: str | None = None  # that context's server URL; None when unknown
    subnets: tuple[Subnet, ...] = ()  # the cluster's and every node group's subnets
    nodegroups: tuple[Nodegroup, ...] = ()
    self_managed_groups: tuple[SelfManagedGroup, ...] = ()  # excludes managed groups' ASGs
    fargate_profiles: tuple[FargateProfile, ...] = ()
    addons: tuple[Addon, ...] = ()
    # Kubernetes minor ("1.30") -> the add-on versions DescribeAddonVersions lists for it, for
    # the current version and every hop. A missing minor means it was not read.
    addon_versions: Mapping[str, tuple[AddonVersion, ...]] = field(default_factory=dict)
    insights: tuple[Insight, ...] = ()
    nodes: tuple[Node, ...] = ()
    pods: tuple[Pod, ...] = ()
    workloads: tuple[Workload, ...] = ()
    pdbs: tuple[PodDisruptionBudget, ...] = ()
    services: tuple[Service, ...] = ()
    persistent_volumes: tuple[PersistentVolume, ...] = ()
    node_pools: tuple[NodePool, ...] = ()  # Karpenter v1 NodePools, with their templates
    node_classes: tuple[NodeClass, ...] = ()  # their EC2NodeClasses (read when pools exist)
    api_usage: tuple[ApiUsage, ...] = ()  # from the metric, --manifests and Helm releases
    # The sources discovery actually read: an empty `api_usage` proves nothing about a source
    # that was never looked at, so removed-apis reports the metric and Helm as not assessed
    # unless they are here. (--manifests is optional: not passing it is no gap.)
    api_usage_sources: frozenset[UsageSource] = frozenset()
    manifest_errors: tuple[str, ...] = ()  # "path:line: problem" for files that could not be read
    ami_ids: Mapping[str, str] = field(default_factory=dict)  # SSM parameter name -> AMI id
    instance_types: Mapping[str, InstanceTypeInfo] = field(default_factory=dict)
    vcpu_quota: int | None = None  # Running On-Demand Standard instances (L-1216C47A), vCPUs
    vcpus_in_use: int | None = None  # account-wide usage against that quota, when known
    not_assessed: Mapping[str, str] = field(default_factory=dict)  # Read -> missing permission
    # Where the support calendar came from ("aws": DescribeClusterVersions, "file": the data
    # file) and what the cross-check of the two found (see upgrader.plan.version_facts).
    version_facts_source: str = ""
    version_facts: tuple[str, ...] = ()

    # -- what the checks ask most often, computed once -------------------------------------

    @property
    def version(self) -> str:
        """The control plane's minor version, "1.29"."""
        return minor_of(self.cluster.version)

    def denied(self, *reads: Read) -> dict[str, str]:
        """The given reads that were denied, with the permission each one lacked."""
        return {r.value: self.not_assessed[r.value] for r in reads if r.value in self.not_assessed}

    @cached_property
    def subnet_by_id(self) -> Mapping[str, Subnet]:
        return {s.id: s for s in self.subnets}

    @cached_property
    def node_by_name(self) -> Mapping[str, Node]:
        return {n.name: n for n in self.nodes}

    @cached_property
    def nodegroup_by_name(self) -> Mapping[str, Nodegroup]:
        return {g.name: g for g in self.nodegroups}

    @cached_property
    def pods_by_node(self) -> Mapping[str, tuple[Pod, ...]]:
        grouped: dict[str, list[Pod]] = defaultdict(list)
        for pod in self.pods:
            if pod.node_name:
                grouped[pod.node_name].append(pod)
        return {name: tuple(pods) for name, pods in grouped.items()}

    @cached_property
    def pdb_keys_by_pod(self) -> Mapping[str, tuple[str, ...]]:
        """Pod key -> the keys of the budgets that select it (the inverse of `pods_by_pdb`)."""
        index: dict[str, list[str]] = defaultdict(list)
        for pdb_key, pods in self.pods_by_pdb.items():
            for pod in pods:
                index[pod.key].append(pdb_key)
        return {key: tuple(keys) for key, keys in index.items()}

    @cached_property
    def pods_by_namespace(self) -> Mapping[str, tuple[Pod, ...]]:
        grouped: dict[str, list[Pod]] = defaultdict(list)
        for pod in self.pods:
            grouped[pod.namespace].append(pod)
        return {ns: tuple(pods) for ns, pods in grouped.items()}

    @cached_property
    def workload_by_key(self) -> Mapping[tuple[str, str, str], Workload]:
        """(kind, namespace, name) -> workload; kind is the WorkloadKind value."""
        return {(w.kind.value, w.namespace, w.name): w for w in self.workloads}

    @cached_property
    def _self_managed_by_instance(self) -> Mapping[str, str]:
        managed_asgs = {asg for g in self.nodegroups for asg in g.auto_scaling_groups}
        return {
            instance.id: group.name
            for group in self.self_managed_groups
            if group.name not in managed_asgs
            for instance in group.asg.instances
        }

    def owner_of(self, node: Node) -> NodeOwner:
        """Who brings this node up, and so who must replace it."""
        labels = node.labels
        if labels.get(FARGATE_COMPUTE_LABEL) == "fargate":
            return NodeOwner(NodeOwnerKind.FARGATE, "")
        if NODEGROUP_LABEL in labels:
            return NodeOwner(NodeOwnerKind.MANAGED, labels[NODEGROUP_LABEL])
        pool = labels.get(KARPENTER_NODEPOOL_LABEL) or labels.get(KARPENTER_PROVISIONER_LABEL)
        if pool:
            return NodeOwner(NodeOwnerKind.KARPENTER, pool)
        group = self._self_managed_by_instance.get(instance_id(node.provider_id))
        if group:
            return NodeOwner(NodeOwnerKind.SELF_MANAGED, group)
        return NodeOwner(NodeOwnerKind.UNKNOWN, "")

    @cached_property
    def nodes_by_owner(self) -> Mapping[NodeOwner, tuple[Node, ...]]:
        grouped: dict[NodeOwner, list[Node]] = defaultdict(list)
        for node in self.nodes:
            grouped[self.owner_of(node)].append(node)
        return {owner: tuple(nodes) for owner, nodes in grouped.items()}

    def controller_of(self, pod: Pod) -> tuple[str, str] | None:
        """The pod's top-level controller as (kind, name) in the pod's namespace; None for a
        bare pod.

        A ReplicaSet is reported as its Deployment, found through the ReplicaSet's owner when
        discovery listed ReplicaSets, or else by stripping the pod-template-hash suffix.
        """
        owner = pod.owner
        if owner is None or not owner.controller:
            return None
        if owner.kind == OwnerKind.REPLICA_SET.value:
            rs = self.workload_by_key.get(
                (WorkloadKind.REPLICA_SET.value, pod.namespace, owner.name)
            )
            if rs is not None and rs.owner is not None:
                return rs.owner.kind, rs.owner.name
            suffix = pod.labels.get(_POD_TEMPLATE_HASH_LABEL)
            if rs is None and suffix and owner.name.endswith(f"-{suffix}"):
                return _DEPLOYMENT, owner.name[: -len(suffix) - 1]
        return owner.kind, owner.name

    def workload_name(self, pod: Pod) -> str:
        """ "ns/name" of the pod's top-level controller, or of the pod itself when bare: how
        pod-level findings name what a human would change."""
        controller = self.controller_of(pod)
        return f"{pod.namespace}/{controller[1]}" if controller else pod.key

    @cached_property
    def pods_by_pdb(self) -> Mapping[str, tuple[Pod, ...]]:
        """PodDisruptionBudget key ("ns/name") -> the unfinished pods its selector matches.

        Pods are indexed by label within each namespace, so a budget only tests the pods that
        carry the rarest of its matchLabels: matching stays near-linear in pods even with
        thousands of budgets in one namespace. An empty selector matches every pod of the
        namespace (policy/v1 semantics).
        """
        by_namespace: dict[str, list[PodDisruptionBudget]] = defaultdict(list)
        for pdb in self.pdbs:
            by_namespace[pdb.namespace].append(pdb)
        result: dict[str, tuple[Pod, ...]] = {}
        for namespace, pdbs in by_namespace.items():
            pods = [p for p in self.pods_by_namespace.get(namespace, ()) if not p.is_finished]
            postings: dict[tuple[str, str], list[Pod]] = defaultdict(list)
            if any(p.selector.match_labels for p in pdbs):
                for pod in pods:
                    for item in pod.labels.items():
                        postings[item].append(pod)
            for pdb in pdbs:
                selector = pdb.selector
                candidates: list[Pod] = pods
                if selector.match_labels:
                    candidates = min(
                        (postings.get(item, []) for item in selector.match_labels.items()),
                        key=len,
                    )
                result[pdb.key] = tuple(p for p in candidates if selector.matches(p.labels))
        return result


def minor_of(version: str) -> str:
    """ "1.29" from "1.29", "v1.29.3-eks-ae9a62a" or "1.29.3"; "" when it is not a version."""
    match = re.match(r"v?(\d+)\.(\d+)", version.strip())
    return f"{match.group(1)}.{match.group(2)}" if match else ""


def instance_id(provider_id: str) -> str:
    """ "i-0abc" from the node's providerID "aws:///us-east-1a/i-0abc"."""
    return provider_id.rstrip("/").rsplit("/", 1)[-1] if provider_id else ""


def is_daemon_pod(pod: Pod) -> bool:
    return pod.owner is not None and pod.owner.kind == _DAEMON_SET
