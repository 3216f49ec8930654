"""Who else changes this cluster's nodes: infrastructure-as-code and autoscalers.

A node group that eksctl, CloudFormation or Terraform owns will drift when eksup replaces or
updates it, and the next `terraform apply` may try to put the old group back. eksup cannot
change the code, so it says what to change there instead. Cluster Autoscaler and Karpenter act
on nodes while eksup does: the plan pauses the first and has to coordinate with the second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from upgrader.core.kube import Workload, WorkloadKind
from upgrader.plan.checks._common import plural
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, fail
from upgrader.plan.checks.ids import CLUSTER_AUTOSCALER, IAC_DRIFT, KARPENTER
from upgrader.plan.checks.registry import check, denied_finding
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwnerKind, Read

_MANAGED_BY_KEYS = frozenset({"managedby", "managed-by", "managed_by", "provisioner", "createdby"})


@dataclass(frozen=True)
class IacOwner:
    tool: str  # eksctl, CloudFormation, Terraform, Pulumi
    detail: str = ""  # the stack or the tag that gave it away


def iac_owner(tags: Mapping[str, str]) -> IacOwner | None:
    """Which infrastructure-as-code tool owns a resource, judged by the tags it leaves."""
    stack = tags.get("aws:cloudformation:stack-name", "")
    if any(
        k.startswith(("alpha.eksctl.io/", "eksctl.cluster.k8s.io/", "eksctl.io/")) for k in tags
    ):
        return IacOwner("eksctl", stack)
    if stack:
        return IacOwner("CloudFormation", stack)
    for key, value in tags.items():
        lowered_key, lowered_value = key.lower(), value.lower()
        managed_by = lowered_key.replace(":", "").replace(" ", "") in _MANAGED_BY_KEYS
        for tool in ("terraform", "opentofu", "pulumi"):
            if lowered_key.startswith(tool) or (managed_by and tool in lowered_value):
                name = "Pulumi" if tool == "pulumi" else "Terraform"
                return IacOwner(name, f"{key}={value}")
    return None


_REMEDIES = {
    "eksctl": "change the ClusterConfig instead: set metadata.version to {target} and run "
    "`eksctl upgrade cluster`, then add new node groups at {target} and `eksctl delete "
    "nodegroup --drain` the old ones (or `eksctl upgrade nodegroup --kubernetes-version "
    "{target}`); changes eksup makes leave the eksctl stacks out of date",
    "CloudFormation": "change the stack instead: Version on AWS::EKS::Cluster and Version / "
    "ReleaseVersion (or the launch template) on AWS::EKS::Nodegroup, one minor per stack "
    "update; a group eksup replaces is drift the next stack update reverts",
    "Terraform": "change the code instead: bump cluster_version (terraform-aws-modules/eks) or "
    "version on aws_eks_cluster, and version / release_version / ami_type on "
    "aws_eks_node_group, then plan and apply; a group eksup replaces is unknown to the state "
    "and the next apply recreates the old one",
    "Pulumi": "change the program instead: the cluster's version and the node groups' version "
    "/ releaseVersion, then `pulumi up`; eksup's changes would be reverted as drift",
}


@check(
    IAC_DRIFT,
    severity=Severity.WARNING,
    title="Node groups and the cluster are not owned by infrastructure-as-code",
    passes="no node group or cluster tag points at an infrastructure-as-code owner",
    reads=(Read.NODEGROUPS,),
)
def iac_drift(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    owned: dict[str, list[str]] = defaultdict(list)
    details: dict[str, set[str]] = defaultdict(set)
    cluster = snapshot.cluster
    resources = [(f"cluster/{cluster.name}", cluster.tags)]
    resources += [(f"nodegroup/{g.name}", g.tags) for g in snapshot.nodegroups]
    resources += [(f"asg/{g.name}", g.tags) for g in snapshot.self_managed_groups]
    for name, tags in resources:
        owner = iac_owner(tags)
        if owner is not None:
            owned[owner.tool].append(name)
            if owner.detail:
                details[owner.tool].add(owner.detail)
    findings = []
    for tool, names in sorted(owned.items()):
        seen = f"; {', '.join(sorted(details[tool]))}" if details[tool] else ""
        findings.append(
            fail(
                IAC_DRIFT,
                Severity.WARNING,
                f"managed by {tool} (by their tags{seen}): eksup's changes will drift from "
                "the code",
                sorted(names),
                remedy=_REMEDIES[tool].format(target=context.target),
            )
        )
    if Read.SELF_MANAGED_GROUPS.value in snapshot.not_assessed:
        findings.append(
            denied_finding(IAC_DRIFT, Severity.WARNING, snapshot.denied(Read.SELF_MANAGED_GROUPS))
        )
    return findings


def _is_named(workload: Workload, names: tuple[str, ...]) -> bool:
    labels = workload.labels
    tagged = {
        labels.get("app.kubernetes.io/name", ""),
        labels.get("app", ""),
        labels.get("k8s-app", ""),
    }
    return any(name in tagged for name in names) or workload.name.startswith(names)


def find_cluster_autoscaler(snapshot: ClusterSnapshot) -> list[Workload]:
    """Cluster Autoscaler Deployments (by name or the labels its charts set)."""
    names = ("cluster-autoscaler", "aws-cluster-autoscaler")
    return [
        w for w in snapshot.workloads if w.kind == WorkloadKind.DEPLOYMENT and _is_named(w, names)
    ]


def find_karpenter(snapshot: ClusterSnapshot) -> list[Workload]:
    return [
        w
        for w in snapshot.workloads
        if w.kind == WorkloadKind.DEPLOYMENT and _is_named(w, ("karpenter",))
    ]


@check(
    CLUSTER_AUTOSCALER,
    severity=Severity.INFO,
    title="Cluster Autoscaler is detected (the plan pauses it)",
    passes="no Cluster Autoscaler found",
    reads=(Read.WORKLOADS,),
)
def cluster_autoscaler(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    found = find_cluster_autoscaler(snapshot)
    if not found:
        return []
    return [
        fail(
            CLUSTER_AUTOSCALER,
            Severity.INFO,
            "Cluster Autoscaler runs: the plan scales it to 0 while node groups are replaced (it "
            "would remove green nodes or add blue ones) and restores it afterwards",
            sorted(f"{w.namespace}/{w.name}" for w in found),
            remedy=f"after the upgrade, move Cluster Autoscaler to the release for {context.target}"
            " (its minor should match the cluster's)",
        )
    ]


@check(
    KARPENTER,
    severity=Severity.WARNING,
    title="Karpenter is detected (its nodes follow its own drift, not eksup)",
    passes="no Karpenter controller or Karpenter nodes found",
    reads=(Read.WORKLOADS, Read.NODES),
)
def karpenter(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    controllers = find_karpenter(snapshot)
    pools: dict[str, int] = defaultdict(int)
    for owner, nodes in snapshot.nodes_by_owner.items():
        if owner.kind is NodeOwnerKind.KARPENTER:
            pools[owner.name] += len(nodes)
    if not controllers and not pools:
        return []
    count = sum(pools.values())
    return [
        fail(
            KARPENTER,
            Severity.WARNING,
            f"Karpenter manages {plural(count, 'node')} in "
            f"{plural(len(pools), 'node pool')}: eksup does not drain them; Karpenter "
            "replaces them by drift once their AMI selection resolves to the new version (the "
            "plan's karpenter-drift step pins an AMI id to the new version's, then watches)",
            sorted(
                [f"{w.namespace}/{w.name}" for w in controllers] + [f"nodepool/{p}" for p in pools]
            ),
            remedy=f"upgrade Karpenter (v1 API) to a release that supports {context.target} "
            "first; check that NodePool disruption budgets and PDBs let drift proceed",
        )
    ]
