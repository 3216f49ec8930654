"""Karpenter placement: can the pods on Karpenter's nodes run on the nodes drift replaces them with?

Every Karpenter node behind the target is replaced during the upgrade: the karpenter-drift step
points a pinned EC2NodeClass at the hop's AMI, and an `alias` class drifts as soon as the
control plane moves. The replacement is made from the NodePool's template as it is now
(upgrader/core/nodepool_shapes.py), not copied from the live node, so a label someone put on
the live nodes by hand, or a taint the template adds, leaves the pods that rely on them with
nowhere to go: Karpenter's disruption simulation then keeps the node (drift stalls until the
step's timeout) or, if the pods are evicted anyway, they stay Pending. The same placement rules
as a node group's green copy (upgrader/core/placement.py); the karpenter-drift step re-checks
against the NodePools as read when it runs, before it changes anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import partial

from upgrader.core.kube import Node, NodePool, Pod, Resources
from upgrader.core.nodepool_room import (
    MIB,
    instance_sizes,
    limits_problem,
    spare_outside,
    too_big_problems,
)
from upgrader.core.nodepool_shapes import drift_problems, moves_on_drift, nodepool_shape
from upgrader.core.nodepool_zones import drift_spread_problems, drift_volume_problems, live_zones
from upgrader.core.shell import command
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, fail, not_assessed
from upgrader.plan.checks.ids import KARPENTER_PLACEMENT
from upgrader.plan.checks.registry import check, denied_finding
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwnerKind, Read
from upgrader.versions import KubeVersion

_ACCEPT = (
    "; or, if those pods may stay Pending until someone acts, accept it by suppressing check "
    f"{KARPENTER_PLACEMENT} for them in .eksup.yaml"
)


@check(
    KARPENTER_PLACEMENT,
    severity=Severity.ERROR,
    title="Pods on Karpenter nodes can run on the nodes their NodePool will create",
    passes="every pod on a Karpenter node can run on the nodes its NodePool creates now",
    reads=(Read.NODES, Read.PODS),
)
def karpenter_placement(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    target = context.target_version
    owned = sorted(
        (
            (owner.name, nodes)
            for owner, nodes in snapshot.nodes_by_owner.items()
            if owner.kind is NodeOwnerKind.KARPENTER and _replaced(nodes, target)
        ),
        key=lambda item: item[0],
    )
    if not owned:
        return []
    denied = snapshot.denied(Read.NODE_POOLS)
    if denied:
        # Never a silent pass: without the templates nothing says where the pods can go.
        return [denied_finding(KARPENTER_PLACEMENT, Severity.ERROR, denied)]
    pools = {p.name: p for p in snapshot.node_pools}
    findings = []
    for name, nodes in owned:
        pool = pools.get(name)
        if pool is None:
            findings.append(
                not_assessed(
                    KARPENTER_PLACEMENT,
                    Severity.WARNING,
                    f"{len(nodes)} node(s) carry karpenter.sh/nodepool={name} but there is no "
                    f"karpenter.sh/v1 NodePool {name}: what their replacements will carry is "
                    "unknown",
                    (f"nodepool/{name}",),
                    remedy="upgrade Karpenter to the v1 API (or restore the NodePool) and plan "
                    "again",
                )
            )
            continue
        moving = [
            pod
            for node in nodes
            for pod in snapshot.pods_by_node.get(node.name, ())
            if moves_on_drift(pod)
        ]
        live = nodes_labels(nodes)
        findings += _blocked(
            pool,
            drift_problems(pool, snapshot.node_pools, nodes, moving, snapshot.workload_name),
            f"{_PODS_ON}{name}'s nodes cannot run on the nodes it will create when they drift "
            "(nor on any other NodePool's)",
            partial(placement_remedy, pool=pool, live=live),
        )
        findings.extend(zonal_findings(snapshot, pool, nodes, moving))
        findings.extend(room_findings(snapshot, pool, nodes, moving))
    denied = snapshot.denied(Read.PERSISTENT_VOLUMES)
    if denied and _volumes_matter(snapshot, owned):
        # Without the volumes nothing says which zone those pods are tied to.
        findings.append(denied_finding(KARPENTER_PLACEMENT, Severity.ERROR, denied))
    return findings


_PODS_ON = "pods on Karpenter NodePool "


def _blocked(
    pool: NodePool,
    problems: Mapping[str, Collection[str]],
    lead: str,
    remedy: str | Callable[[str], str],
) -> list[Finding]:
    """One blocking finding per problem (`lead: problem`), naming the workloads it leaves with
    nowhere to go and the NodePool to change, with the remedy (the same for every problem, or
    one per problem)."""
    return [
        _finding(
            pool,
            f"{lead}: {problem}",
            workloads,
            remedy if isinstance(remedy, str) else remedy(problem),
        )
        for problem, workloads in sorted(problems.items())
    ]


def _finding(pool: NodePool, message: str, workloads: Iterable[str], remedy: str) -> Finding:
    return fail(
        KARPENTER_PLACEMENT,
        Severity.ERROR,
        message,
        (*sorted(workloads), f"nodepool/{pool.name}"),
        remedy=remedy,
    )


def _volumes_matter(snapshot: ClusterSnapshot, owned: Sequence[tuple[str, Sequence[Node]]]) -> bool:
    """Does a pod that drift moves use a claim (so a denied PV read leaves a gap)?"""
    return any(
        v.persistent_claim
        for _, nodes in owned
        for node in nodes
        for pod in snapshot.pods_by_node.get(node.name, ())
        for v in pod.spec.volumes
    )


def zonal_findings(
    snapshot: ClusterSnapshot, pool: NodePool, nodes: Sequence[Node], moving: Sequence[Pod]
) -> list[Finding]:
    """EBS volumes and DoNotSchedule spread against the zones the NodePools may use
    (upgrader/core/nodepool_zones.py)."""
    name_of = snapshot.workload_name
    by_claim = {pv.claim: pv for pv in snapshot.persistent_volumes if pv.claim}
    known = live_zones(snapshot.nodes)
    pools = snapshot.node_pools
    # Where each EC2NodeClass may launch (its subnets' zones), when read and reported.
    launchable = {c.name: c.zones for c in snapshot.node_classes if c.zones}
    volumes = drift_volume_problems(
        pool,
        pools,
        nodes,
        moving,
        by_claim=by_claim,
        name=name_of,
        known=known,
        class_zones=launchable,
    )
    volume_remedy = (
        f"allow the volume's zone in NodePool {pool.name} (its "
        "topology.kubernetes.io/zone requirement, and a subnet there in its "
        "EC2NodeClass's subnetSelectorTerms), or move the data to a zone the pool "
        "allows (snapshot the EBS volume and restore it there)" + _ACCEPT
    )
    spread = drift_spread_problems(
        pool,
        pools,
        nodes,
        moving,
        cluster=(snapshot.nodes, snapshot.pods_by_node),
        name=name_of,
        class_zones=launchable,
    )
    spread_remedy = (
        f"allow NodePool {pool.name} every zone the workload spreads over (its "
        "topology.kubernetes.io/zone requirement), or, for the upgrade, raise "
        "maxSkew, lower minDomains or set whenUnsatisfiable: ScheduleAnyway on the "
        "workload" + _ACCEPT
    )
    return _blocked(
        pool,
        volumes,
        f"{_PODS_ON}{pool.name}'s nodes cannot follow their EBS volume when the nodes drift",
        volume_remedy,
    ) + _blocked(
        pool,
        spread,
        f"{_PODS_ON}{pool.name}'s nodes cannot all move to the nodes it creates when they "
        "drift (blue: its drifting nodes, which count until deleted)",
        spread_remedy,
    )


def _replaced(nodes: Sequence[Node], target: KubeVersion | None) -> bool:
    """Will the upgrade replace these nodes? Every node behind the target is (the planner's
    node_units: a trailing pool moves at the target at the latest); with no valid target,
    take it that they are."""
    if target is None:
        return True
    versions = [KubeVersion.try_parse(n.kubelet_version) for n in nodes]
    return any(v is None or v < target for v in versions)


def nodes_labels(nodes: Sequence[Node]) -> dict[str, set[str]]:
    """key -> the values the live nodes carry for it."""
    found: dict[str, set[str]] = {}
    for node in nodes:
        for key, value in node.labels.items():
            found.setdefault(key, set()).add(value)
    return found


def placement_remedy(problem: str, pool: NodePool, live: dict[str, set[str]]) -> str:
    """What to change in the NodePool (or the workload) for `problem`, or how to accept it."""
    shape = nodepool_shape(pool)
    hand = sorted(
        (key, value)
        for key, values in live.items()
        for value in values
        if f"nodeSelector {key}={value} " in problem
        and key not in shape.labels
        and key not in shape.ranges
    )
    if hand:
        key, value = hand[0]
        patch = json.dumps({"spec": {"template": {"metadata": {"labels": {key: value}}}}})
        kubectl = command("kubectl", "patch", "nodepool", pool.name, "--type", "merge", "-p", patch)
        return (
            f"{key}={value} is on NodePool {pool.name}'s live nodes but not in its "
            "spec.template.metadata.labels (added by hand?), so the nodes it creates will "
            f"not have it: add it to the NodePool ({kubectl}, or in the code that manages it; "
            "the change itself drifts the pool's nodes), or change the workload's selector"
            + _ACCEPT
        )
    if "taint " in problem:
        return (
            f"NodePool {pool.name}'s spec.template.spec.taints has a taint those pods do not "
            "tolerate: add the toleration to the workloads, or remove the taint from the "
            "NodePool (a taint only needed while a node starts belongs in startupTaints)" + _ACCEPT
        )
    return (
        f"let NodePool {pool.name} create nodes those pods accept (its "
        "spec.template.metadata.labels, or requirements with In/Exists on the label they "
        "select), or change the workloads' constraints" + _ACCEPT
    )


def room_findings(
    snapshot: ClusterSnapshot, pool: NodePool, nodes: Sequence[Node], moving: Sequence[Pod]
) -> list[Finding]:
    """Requests against the largest node the NodePools may launch, and the pool's spec.limits
    against what its drift must add while the old nodes stand (upgrader/core/nodepool_room.py)."""
    capacity = {
        name: Resources(info.vcpus * 1000, info.memory_mib * MIB)
        for name, info in snapshot.instance_types.items()
    }
    types = instance_sizes(snapshot.nodes, capacity)
    name_of = snapshot.workload_name
    big_remedy = (
        f"allow NodePool {pool.name} an instance type large enough (its "
        "karpenter.k8s.aws/instance-cpu, instance-memory or instance-type "
        "requirements), or lower the workload's requests" + _ACCEPT
    )
    findings = _blocked(
        pool,
        too_big_problems(pool, snapshot.node_pools, moving, name_of, types),
        f"{_PODS_ON}{pool.name}'s nodes cannot run on the nodes it will create when they drift",
        big_remedy,
    )
    spare = spare_outside(snapshot.nodes, snapshot.pods_by_node, (n.name for n in nodes))
    found = limits_problem(pool, snapshot.node_pools, nodes, moving, spare)
    if found is not None:
        problem, pods = found
        findings.append(
            _finding(
                pool,
                f"{_PODS_ON}{pool.name}'s nodes cannot be replaced when they drift: {problem}",
                {name_of(p) for p in pods},
                f"raise NodePool {pool.name}'s spec.limits for the upgrade by at least "
                "one replacement node (Karpenter launches each replacement before it deletes "
                "the old node), or free room on other nodes" + _ACCEPT,
            )
        )
    return findings
