"""Zonal placement: pods that only some zones can take, against green's zones.

`capacity` asks whether one green node takes each pod; two scheduler rules look beyond one
node, and both can leave a drained pod Pending with blue cordoned:
- a pod whose claim is bound to a zonal PersistentVolume (EBS) runs only in that volume's zone
  (upgrader/core/volume_zones.py): green needs a node there;
- a `DoNotSchedule` topology spread constraint counts pods per domain over every node, the
  cordoned blue ones included, so a zone green does not cover, or fewer zones than
  `minDomains`, can stop the replacements (upgrader/core/spread.py).
Green is the node group as it will be made (placement.green_shapes: its subnets' zones, its
labels and taints); the other nodes of the cluster stay where they are, count, and take pods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from upgrader.core.aws import Nodegroup
from upgrader.core.kube import Node, PersistentVolume, Pod
from upgrader.core.placement import NodeShape, green_shapes
from upgrader.core.spread import Placed, hard_spreads, spread_problem
from upgrader.core.volume_zones import bound_volumes, volume_problem
from upgrader.plan.checks._common import plural
from upgrader.plan.checks.capacity import replaced_groups, subnet_zones
from upgrader.plan.checks.context import CheckContext, NodeStrategy
from upgrader.plan.checks.findings import Finding, Severity, fail, passed
from upgrader.plan.checks.ids import ZONAL_PLACEMENT
from upgrader.plan.checks.registry import check, denied_finding
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwner, Read, is_daemon_pod

_ACCEPT = (
    "; or, if those pods may stay Pending until someone acts, accept it by suppressing check "
    f"{ZONAL_PLACEMENT} for them in .eksup.yaml"
)


def moving_pods(pods: Sequence[Pod]) -> list[Pod]:
    """The pods a drain moves that something recreates: not DaemonSet, mirror, bare,
    finished or terminating pods."""
    return [
        p
        for p in pods
        if not (is_daemon_pod(p) or p.is_mirror or p.is_finished or p.is_terminating)
        and p.owner is not None
        and p.owner.controller
    ]


def volume_findings(
    owner: str,
    moving: Sequence[Pod],
    by_claim: dict[str, PersistentVolume],
    shapes: Sequence[NodeShape],
    name_of: Callable[[Pod], str],
) -> list[Finding]:
    """One blocking finding per workload whose volumes pin pods where green makes no node."""
    problems: dict[str, list[str]] = {}
    for pod in moving:
        problem = volume_problem(pod, bound_volumes(pod, by_claim), shapes)
        if problem is not None:
            problems.setdefault(name_of(pod), []).append(problem)
    findings = []
    for workload, found in sorted(problems.items()):
        more = f" (and {plural(len(found) - 1, 'more pod')} alike)" if len(found) > 1 else ""
        findings.append(
            fail(
                ZONAL_PLACEMENT,
                Severity.ERROR,
                f"pods of {workload} on {owner} cannot follow to its green copy: {found[0]}{more}",
                (workload,),
                remedy="give the green group a subnet in the volume's zone (a node group's "
                "subnets decide its zones), or move the data to a zone green covers (snapshot "
                "the EBS volume and restore it there)" + _ACCEPT,
            )
        )
    return findings


def spread_findings(
    owner: str,
    moving: Sequence[Pod],
    nodes: tuple[Sequence[Placed], Sequence[Placed]],
    shapes: Sequence[NodeShape],
    name_of: Callable[[Pod], str],
) -> list[Finding]:
    """One blocking finding per workload whose DoNotSchedule spread stops its replacements."""
    groups: dict[tuple[str, object], list[Pod]] = {}
    for pod in moving:
        if hard_spreads(pod):
            groups.setdefault((name_of(pod), pod.spec.topology_spread), []).append(pod)
    findings = []
    blue, others = nodes
    for (workload, _), pods in sorted(groups.items(), key=lambda item: item[0][0]):
        problem = spread_problem(pods, blue, others, shapes)
        if problem is None:
            continue
        findings.append(
            fail(
                ZONAL_PLACEMENT,
                Severity.ERROR,
                f"pods of {workload} on {owner} cannot all move to its green copy: {problem}",
                (workload,),
                remedy="give green nodes in every zone blue has (the group's subnets), or, "
                "for the upgrade, raise maxSkew, lower minDomains or set whenUnsatisfiable: "
                "ScheduleAnyway on the workload" + _ACCEPT,
            )
        )
    return findings


def _green_zones(
    snapshot: ClusterSnapshot, owner: NodeOwner, group: Nodegroup | None
) -> tuple[str, ...]:
    """The zones green's nodes land in: a managed group's subnets' (cloned), a self-managed
    group's Auto Scaling group's subnets' now (its new instances launch there, wherever the
    old ones did). Empty when unknown: each blue node's own zone then stands for green."""
    if group is not None:
        return subnet_zones(snapshot, group)
    smg = next((g for g in snapshot.self_managed_groups if g.name == owner.name), None)
    if smg is None:
        return ()
    known = [snapshot.subnet_by_id[s] for s in smg.asg.subnets if s in snapshot.subnet_by_id]
    return tuple(sorted({s.availability_zone for s in known}))


def _placed(snapshot: ClusterSnapshot, nodes: Sequence[Node], *, blue: bool) -> list[Placed]:
    return [
        Placed(
            NodeShape.of(n),
            snapshot.pods_by_node.get(n.name, ()),
            takes_pods=not blue and n.ready and not n.unschedulable,
        )
        for n in nodes
    ]


@check(
    ZONAL_PLACEMENT,
    severity=Severity.ERROR,
    title="Pods bound to a zone (EBS volumes, DoNotSchedule topology spread) can land on green",
    passes="every pod with a zonal volume or a DoNotSchedule spread can move to its green group",
    reads=(Read.NODES, Read.PODS),
)
def zonal_placement(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    if context.strategy is not NodeStrategy.BLUE_GREEN:
        return [
            passed(
                ZONAL_PLACEMENT,
                Severity.ERROR,
                "in-place updates replace nodes in the group's own subnets: zones do not change",
            )
        ]
    by_claim = {pv.claim: pv for pv in snapshot.persistent_volumes if pv.claim}
    findings: list[Finding] = []
    for owner, group, blue in replaced_groups(snapshot):
        moving = moving_pods([p for n in blue for p in snapshot.pods_by_node.get(n.name, ())])
        claims = bool(by_claim) and any(v.persistent_claim for p in moving for v in p.spec.volumes)
        spreads = any(hard_spreads(p) for p in moving)
        if not (claims or spreads):
            continue  # the common case at scale: nothing ties these pods to a zone
        shapes = green_shapes(group, blue, _green_zones(snapshot, owner, group))
        name_of = snapshot.workload_name
        if claims:
            findings.extend(volume_findings(str(owner), moving, by_claim, shapes, name_of))
        if spreads:
            names = {n.name for n in blue}
            others = [n for n in snapshot.nodes if n.name not in names]
            nodes = (_placed(snapshot, blue, blue=True), _placed(snapshot, others, blue=False))
            findings.extend(spread_findings(str(owner), moving, nodes, shapes, name_of))
    denied = snapshot.denied(Read.PERSISTENT_VOLUMES)
    if denied:
        findings.append(denied_finding(ZONAL_PLACEMENT, Severity.ERROR, denied))
    return findings
