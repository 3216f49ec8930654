"""Checks on nodes and node groups: kubelet skew, AMI availability and health.

The skew rules come from the version data through the catalog, never from constants here:
upstream lets a kubelet trail the API server by two minors (three from 1.28), and AWS adds that
managed node groups and Fargate must be on the control plane's minor before its next upgrade.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from upgrader.core.kube import Node, TaintEffect
from upgrader.core.shell import command
from upgrader.plan.ami_move import CAVEATS
from upgrader.plan.checks._common import hops_of, no_path, plural
from upgrader.plan.checks.context import CheckContext, NodeStrategy
from upgrader.plan.checks.findings import Finding, Severity, fail
from upgrader.plan.checks.ids import (
    AL2_AMI,
    KUBELET_SKEW,
    KUBELET_SKEW_HOPS,
    NODEGROUP_HEALTH,
    NODES_HELD_BY_HAND,
    NODES_NOT_READY,
)
from upgrader.plan.checks.registry import check, denied_finding
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, NodeOwnerKind, Read
from upgrader.versions import KubeVersion, NodeKind

# Taints Kubernetes, EKS or Karpenter put on nodes themselves: not a person's decision.
_SYSTEM_TAINT_PREFIXES = (
    "node.kubernetes.io/",
    "node.cloudprovider.kubernetes.io/",
    "karpenter.sh/",
)
_FARGATE_TAINT = "eks.amazonaws.com/compute-type"

_NODE_KIND = {
    NodeOwnerKind.MANAGED: NodeKind.MANAGED_NODE_GROUP,
    NodeOwnerKind.FARGATE: NodeKind.FARGATE,
    # Karpenter and unknown nodes trail like self-managed ones: nothing in AWS upgrades them.
    NodeOwnerKind.SELF_MANAGED: NodeKind.SELF_MANAGED,
    NodeOwnerKind.KARPENTER: NodeKind.SELF_MANAGED,
    NodeOwnerKind.UNKNOWN: NodeKind.SELF_MANAGED,
}


def _kubelets(snapshot: ClusterSnapshot) -> dict[tuple[NodeOwner, KubeVersion], list[Node]]:
    """Nodes grouped by owner and kubelet minor: skew findings are per group, not per node."""
    grouped: dict[tuple[NodeOwner, KubeVersion], list[Node]] = defaultdict(list)
    for owner, nodes in snapshot.nodes_by_owner.items():
        for node in nodes:
            kubelet = KubeVersion.try_parse(node.kubelet_version)
            if kubelet is not None:
                grouped[(owner, kubelet)].append(node)
    return grouped


def _node_names(nodes: list[Node]) -> list[str]:
    return sorted(f"node/{n.name}" for n in nodes)


@check(
    KUBELET_SKEW,
    severity=Severity.ERROR,
    title="Every kubelet is within skew now and lets the first control-plane upgrade start",
    passes="every kubelet is within the skew the next control-plane upgrade allows",
    reads=(Read.NODES,),
)
def kubelet_skew(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    catalog = context.catalog
    plane = KubeVersion.try_parse(snapshot.cluster.version)
    if plane is None or not catalog.is_known(plane):
        return [no_path(KUBELET_SKEW, Severity.ERROR, context)]
    hops = hops_of(snapshot, context)
    upgrading = bool(hops)
    following = f"before the control plane goes to {plane + 1}"
    findings: list[Finding] = []
    groups_reported = set()
    if Read.NODEGROUPS.value not in snapshot.not_assessed:
        for group in snapshot.nodegroups:
            version = KubeVersion.try_parse(group.version)
            if upgrading and version != plane:
                groups_reported.add(group.name)
                findings.append(
                    fail(
                        KUBELET_SKEW,
                        Severity.ERROR,
                        f"managed node group is on {group.version}, not the control plane's "
                        f"{plane}: EKS refuses the control-plane upgrade until it matches",
                        (f"nodegroup/{group.name}",),
                        remedy=f"upgrade the node group to {plane} first "
                        + "("
                        + command(
                            *("aws", "eks", "update-nodegroup-version"),
                            *("--cluster-name", snapshot.cluster.name),
                            *("--nodegroup-name", group.name, "--kubernetes-version", str(plane)),
                        )
                        + ")",
                    )
                )
    else:
        findings.append(
            denied_finding(KUBELET_SKEW, Severity.ERROR, snapshot.denied(Read.NODEGROUPS))
        )

    for (owner, kubelet), nodes in sorted(_kubelets(snapshot).items(), key=lambda i: str(i[0])):
        kind = _NODE_KIND[owner.kind]
        names = _node_names(nodes)
        where = str(owner)
        if kubelet > plane:
            findings.append(
                fail(
                    KUBELET_SKEW,
                    Severity.ERROR,
                    f"kubelet {kubelet} on {where} is newer than the control plane {plane}",
                    names,
                    remedy="replace these nodes with ones at the control plane's version",
                )
            )
        elif not catalog.kubelet_skew_ok(kubelet, plane):
            limit = catalog.max_kubelet_skew(plane)
            findings.append(
                fail(
                    KUBELET_SKEW,
                    Severity.ERROR,
                    f"kubelet {kubelet} on {where} is {plane - kubelet} minors behind the control "
                    f"plane {plane}, beyond the supported {limit}",
                    names,
                    remedy=f"replace these nodes at {plane} before any control-plane upgrade",
                )
            )
        elif upgrading and not catalog.node_allows_control_plane_upgrade(kind, kubelet, plane):
            if owner.kind is NodeOwnerKind.MANAGED and owner.name in groups_reported:
                continue  # reported once, for the node group, above
            findings.append(
                _blocks_first_hop(
                    snapshot=snapshot,
                    context=context,
                    owner=owner,
                    kubelet=kubelet,
                    nodes=nodes,
                    following=following,
                )
            )
    return findings


def _blocks_first_hop(
    *,
    snapshot: ClusterSnapshot,
    context: CheckContext,
    owner: NodeOwner,
    kubelet: KubeVersion,
    nodes: list[Node],
    following: str,
) -> Finding:
    plane = KubeVersion.parse(snapshot.cluster.version)
    if owner.kind is NodeOwnerKind.FARGATE:
        pods = sorted(p.key for n in nodes for p in snapshot.pods_by_node.get(n.name, ()))
        return fail(
            KUBELET_SKEW,
            Severity.ERROR,
            f"Fargate pods run kubelet {kubelet}, not the control plane's {plane}: AWS requires "
            f"them to match {following}",
            pods or _node_names(nodes),
            remedy="restart their workloads (kubectl rollout restart) so Fargate starts them on "
            f"a {plane} kubelet",
        )
    if owner.kind is NodeOwnerKind.MANAGED:
        return fail(
            KUBELET_SKEW,
            Severity.ERROR,
            f"nodes of managed node group {owner.name} run kubelet {kubelet}, not the control "
            f"plane's {plane}: AWS requires them to match {following}",
            _node_names(nodes),
            remedy=f"finish the node group's update to {plane}",
        )
    limit = context.catalog.max_kubelet_skew(plane + 1)
    return fail(
        KUBELET_SKEW,
        Severity.ERROR,
        f"kubelet {kubelet} on {owner} would be {plane + 1 - kubelet} minors behind "
        f"{plane + 1} after the next control-plane upgrade, beyond the supported {limit}",
        _node_names(nodes),
        remedy=f"replace these nodes at {plane} {following}",
    )


@check(
    KUBELET_SKEW_HOPS,
    severity=Severity.WARNING,
    title="Nodes that trail the control plane stay within skew at every later hop",
    passes="nodes that trail the control plane stay within skew at every hop",
    reads=(Read.NODES,),
)
def kubelet_skew_hops(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    hops = hops_of(snapshot, context)
    if hops is None:
        return [no_path(KUBELET_SKEW_HOPS, Severity.WARNING, context)]
    catalog = context.catalog
    findings = []
    for (owner, kubelet), nodes in sorted(_kubelets(snapshot).items(), key=lambda i: str(i[0])):
        if catalog.must_match_control_plane(_NODE_KIND[owner.kind]):
            continue  # they follow every hop anyway
        # The first hop is kubelet-skew's; from the second on, the control plane leaves
        # `before` for `after` while these nodes still run `kubelet`.
        for before, after in itertools.pairwise(hops):
            if not catalog.kubelet_skew_ok(kubelet, after):
                findings.append(
                    fail(
                        KUBELET_SKEW_HOPS,
                        Severity.WARNING,
                        f"kubelet {kubelet} on {owner} falls outside the supported skew when the "
                        f"control plane goes to {after} (at most "
                        f"{catalog.max_kubelet_skew(after)} minors): it needs an extra "
                        f"replacement at {before}",
                        _node_names(nodes),
                        remedy=f"replace these nodes at {before} before the upgrade to {after} "
                        "(the plan adds that step), or replace them now",
                    )
                )
                break
    return findings


@check(
    AL2_AMI,
    severity=Severity.ERROR,
    title="No managed node group uses an Amazon Linux 2 AMI type past its last version",
    passes="no node group needs an AL2 AMI that does not exist",
    reads=(Read.NODEGROUPS,),
)
def al2_ami(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    hops = hops_of(snapshot, context)
    if hops is None:
        return [no_path(AL2_AMI, Severity.ERROR, context)]
    catalog = context.catalog
    al2 = catalog.data.amis.al2
    groups = sorted(
        f"nodegroup/{g.name}" for g in snapshot.nodegroups if catalog.is_al2_ami_type(g.ami_type)
    )
    al2_images = {
        image for parameter, image in snapshot.ami_ids.items() if _is_al2_parameter(parameter)
    }
    groups += sorted(
        f"asg/{g.name}"
        for g in snapshot.self_managed_groups
        if g.image_id is not None and g.image_id in al2_images
    )
    if not groups:
        return []
    moved: list[str] = []
    if context.ami_family is not None and context.strategy is NodeStrategy.BLUE_GREEN:
        # `--ami-type`: green managed groups leave AL2 at their first replacement.
        moved = [g for g in groups if g.startswith("nodegroup/")]
        groups = [g for g in groups if g not in moved]
    findings = _moved_off_al2(context.ami_family, moved, hops) if moved else []
    if not groups:
        return findings
    missing = next((h for h in hops if not catalog.has_al2_amis(h)), None)
    if missing is not None:
        return [
            fail(
                AL2_AMI,
                Severity.ERROR,
                f"there are no Amazon Linux 2 AMIs for Kubernetes {missing} (the last is "
                f"{al2.last_kubernetes_version}): these node groups cannot follow",
                groups,
                remedy="plan again with `--ami-type al2023` (or bottlerocket): blue/green "
                "replacements give each managed group's green group the AL2023 (Bottlerocket) "
                "type of its architecture; switch bootstrap.sh user data to nodeadm, expect "
                "IMDSv2 with hop limit 1 and cgroup v2. Self-managed groups and launch templates "
                "with their own AMI must move their AMI themselves",
            ),
            *findings,
        ]
    if context.today >= al2.ami_end_of_support:
        return [
            fail(
                AL2_AMI,
                Severity.WARNING,
                f"Amazon Linux 2 AMIs get no fixes since {al2.ami_end_of_support}, on any "
                "Kubernetes version",
                groups,
                remedy="plan a move to AL2023 or Bottlerocket; it becomes mandatory from "
                f"Kubernetes {al2.last_kubernetes_version + 1}",
            )
        ]
    return []


def _moved_off_al2(family: str | None, groups: list[str], hops: list[str]) -> list[Finding]:
    if family is None:
        return []
    first = hops[0] if hops else "their next replacement"
    return [
        fail(
            AL2_AMI,
            Severity.WARNING,
            f"these Amazon Linux 2 node groups get {family} green groups from {first} on "
            "(--ami-type): check their user data before you start",
            groups,
            remedy=f"{CAVEATS[family]}; a launch template that names its own AMI keeps it: "
            "move that AMI yourself",
        )
    ]


def _is_al2_parameter(parameter: str) -> bool:
    # /aws/service/eks/optimized-ami/1.32/amazon-linux-2[-arm64|-gpu]/recommended/image_id
    return "/amazon-linux-2/" in parameter or "/amazon-linux-2-" in parameter


@check(
    NODES_NOT_READY,
    severity=Severity.WARNING,
    title="Every node is Ready",
    passes="every node is Ready",
    reads=(Read.NODES,),
)
def nodes_not_ready(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    names = sorted(f"node/{n.name}" for n in snapshot.nodes if not n.ready)
    if not names:
        return []
    return [
        fail(
            NODES_NOT_READY,
            Severity.WARNING,
            f"{plural(len(names), 'node is', 'nodes are')} NotReady: their pods may not be "
            "running, and capacity estimates count them",
            names,
            remedy="find out why (kubectl describe node) and fix or replace them before upgrading",
        )
    ]


@check(
    NODEGROUP_HEALTH,
    severity=Severity.ERROR,
    title="Managed node groups are ACTIVE without health issues; self-managed instances healthy",
    passes="every node group is healthy",
    reads=(Read.NODEGROUPS,),
)
def nodegroup_health(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    findings = []
    for group in sorted(snapshot.nodegroups, key=lambda g: g.name):
        if group.status == "ACTIVE" and not group.health_issues:
            continue
        issues = f" ({'; '.join(group.health_issues)})" if group.health_issues else ""
        findings.append(
            fail(
                NODEGROUP_HEALTH,
                Severity.ERROR,
                f"managed node group is {group.status}{issues}",
                (f"nodegroup/{group.name}",),
                remedy="resolve the node group's health issues (aws eks describe-nodegroup) "
                "before upgrading: EKS refuses to update a group that is not ACTIVE",
            )
        )
    for smg in sorted(snapshot.self_managed_groups, key=lambda g: g.name):
        sick = [
            i.id
            for i in smg.asg.instances
            if i.health != "Healthy" or i.lifecycle_state != "InService"
        ]
        if sick:
            findings.append(
                fail(
                    NODEGROUP_HEALTH,
                    Severity.WARNING,
                    f"self-managed group {smg.name} has {plural(len(sick), 'instance')} not "
                    "Healthy and InService",
                    (f"asg/{smg.name}",),
                    remedy="let the Auto Scaling group settle (or fix its launch template) "
                    f"before upgrading; unhealthy: {', '.join(sorted(sick))}",
                )
            )
    if Read.SELF_MANAGED_GROUPS.value in snapshot.not_assessed:
        findings.append(
            denied_finding(
                NODEGROUP_HEALTH, Severity.ERROR, snapshot.denied(Read.SELF_MANAGED_GROUPS)
            )
        )
    return findings


def _hand_taints(snapshot: ClusterSnapshot, node: Node) -> list[str]:
    """The node's scheduling taints that neither the system nor its node group's config put
    there, as "key=value:Effect"."""
    configured = {
        (t.key, t.value)
        for group in snapshot.nodegroups
        if group.name == node.nodegroup
        for t in group.taints
    }
    found = []
    for taint in node.taints:
        if taint.effect is TaintEffect.PREFER_NO_SCHEDULE or taint.key == _FARGATE_TAINT:
            continue
        if taint.key.startswith(_SYSTEM_TAINT_PREFIXES) or (taint.key, taint.value) in configured:
            continue
        found.append(
            f"{taint.key}={taint.value}:{taint.effect.value}"
            if taint.value
            else f"{taint.key}:{taint.effect.value}"
        )
    return found


@check(
    NODES_HELD_BY_HAND,
    severity=Severity.WARNING,
    title="No node is cordoned or tainted by hand",
    passes="no node is cordoned or carries a taint its node group does not set",
    reads=(Read.NODES,),
)
def nodes_held_by_hand(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    """A node someone cordoned or tainted (an incident, a debugging session, a run that
    stopped half-way) takes no replacements during the drain, and its replacement will not
    carry the hand-made taint: the plan must say so rather than count it as capacity."""
    cordoned = sorted(n.name for n in snapshot.nodes if n.unschedulable)
    tainted = {n.name: t for n in snapshot.nodes if (t := _hand_taints(snapshot, n))}
    findings = []
    if cordoned:
        findings.append(
            fail(
                NODES_HELD_BY_HAND,
                Severity.WARNING,
                f"{plural(len(cordoned), 'node is', 'nodes are')} cordoned: no pod moves there "
                "during the drain, and its new node will be schedulable",
                [f"node/{n}" for n in cordoned],
                remedy="uncordon them (kubectl uncordon NODE) if the reason has passed, or "
                "accept that the upgrade replaces them like any other node",
            )
        )
    if tainted:
        shown = "; ".join(f"{n}: {', '.join(t)}" for n, t in sorted(tainted.items())[:5])
        findings.append(
            fail(
                NODES_HELD_BY_HAND,
                Severity.WARNING,
                f"{plural(len(tainted), 'node carries', 'nodes carry')} a taint its node group "
                f"does not set ({shown}): pods that do not tolerate it will not move there, and "
                "the new nodes will not have it",
                [f"node/{n}" for n in sorted(tainted)],
                remedy="remove the taint (kubectl taint nodes NODE KEY-) or add it to the node "
                "group's configuration so the new nodes carry it too",
            )
        )
    return findings
