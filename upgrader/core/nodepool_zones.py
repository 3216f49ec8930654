"""Zonal placement for a drifting Karpenter NodePool: EBS volumes and DoNotSchedule spread.

When Karpenter replaces a drifted node, the pods on it land on nodes its NodePools create now
(upgrader/core/nodepool_shapes.py). Two scheduler rules look beyond one node's labels:
- a pod whose claim is bound to a zonal PersistentVolume (EBS) runs only in the volume's zone
  (upgrader/core/volume_zones.py). Karpenter honours it when it picks the new node's zone
  (aws/karpenter-provider-aws website/content/en/docs/concepts/scheduling.md, "Persistent
  Volume Topology": it "automatically detects storage scheduling requirements and includes
  them in node launch decisions"), but only within the zones the NodePool's
  `topology.kubernetes.io/zone` requirement allows: a volume outside them leaves the pod with
  nowhere to go, and Karpenter's disruption simulation keeps the node (drift stalls);
- a `DoNotSchedule` topology spread counts pods per zone over every node, the drifting ones
  included until they are deleted (upgrader/core/spread.py, the one replay of that rule).

A NodePool's new nodes are expanded into one shape per zone they may be in: the values of its
zone requirement's `In`, or else its EC2NodeClass's subnets' zones (`status.subnets`), or,
when those are not known, the zones the cluster's nodes are in now; minus what `NotIn`
excludes, and only where the EC2NodeClass has a subnet when that is known (Karpenter launches
into the node class's subnets: nodeclasses.md, "spec.subnetSelectorTerms"). Per-hostname spread is
not replayed: Karpenter launches as many nodes as the pods need, each its own hostname domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from upgrader.core.kube import KARPENTER_DISRUPTED_TAINT, Node, NodePool, PersistentVolume, Pod
from upgrader.core.nodepool_shapes import nodepool_shape
from upgrader.core.placement import ZONE_LABELS, LabelRange, NodeShape, constraint_misses
from upgrader.core.spread import Placed, hard_spreads, spread_problem
from upgrader.core.volume_zones import bound_volumes, volume_problem

ZONE_KEY = ZONE_LABELS[0]


def live_zones(nodes: Iterable[Node]) -> list[str]:
    """The zones the cluster's nodes are in now: where a pool with no zone `In` may launch,
    as far as eksup knows."""
    return sorted({n.labels[ZONE_KEY] for n in nodes if n.labels.get(ZONE_KEY)})


def allowed_zones(
    shape: NodeShape, known: Iterable[str], launchable: Sequence[str] = ()
) -> list[str]:
    """The zones a node of `shape` may be in: its zone label, else its range's `In` values,
    else the `launchable` zones (its EC2NodeClass's subnets'), else the `known` ones; each as
    the range allows, and among `launchable` when that is known."""
    allowed = shape.ranges.get(ZONE_KEY, LabelRange())
    if ZONE_KEY in shape.labels:
        candidates = {shape.labels[ZONE_KEY]}
    else:
        named = {v for r in allowed.requirements if r.operator == "In" for v in r.values}
        candidates = named or set(launchable) or set(known)
    return sorted(
        z
        for z in candidates
        if (ZONE_KEY in shape.labels or allowed.allows(z)) and (not launchable or z in launchable)
    )


def in_zones(
    shape: NodeShape, known: Iterable[str], launchable: Sequence[str] = ()
) -> list[NodeShape]:
    """`shape` once per zone it may be in, every zone label (and alias) set to that zone."""
    made = []
    for zone in allowed_zones(shape, known, launchable):
        labels = {**shape.labels, **dict.fromkeys(ZONE_LABELS, zone)}
        ranges = {k: v for k, v in shape.ranges.items() if k not in ZONE_LABELS}
        made.append(NodeShape(f"{shape.name} in {zone}", labels, shape.taints, ranges=ranges))
    return made


def pool_zone_shapes(
    pool: NodePool,
    pools: Sequence[NodePool],
    live: Sequence[Node],
    known: Iterable[str],
    class_zones: Mapping[str, Sequence[str]],
) -> tuple[list[NodeShape], list[NodeShape]]:
    """(`pool`'s new nodes, every other NodePool's), one shape per zone. `class_zones`:
    EC2NodeClass name -> its subnets' zones, where known."""
    zones = list(known)
    own = in_zones(nodepool_shape(pool, live), zones, class_zones.get(pool.node_class, ()))
    others = [
        s
        for p in pools
        if p.name != pool.name
        for s in in_zones(nodepool_shape(p), zones, class_zones.get(p.node_class, ()))
    ]
    return own, others


def describe_zones(
    pool: NodePool, known: Iterable[str], class_zones: Mapping[str, Sequence[str]]
) -> str:
    """What `pool`'s zone requirement (and its EC2NodeClass's subnets) allow, in words."""
    shape = nodepool_shape(pool)
    launchable = class_zones.get(pool.node_class, ())
    zones = allowed_zones(shape, known, launchable)
    restricted = ZONE_KEY in shape.labels or bool(
        shape.ranges.get(ZONE_KEY, LabelRange()).requirements
    )
    listed = ", ".join(zones) or "none"
    subnets = (
        f"; its EC2NodeClass {pool.node_class}'s subnets are in {', '.join(launchable)}"
        if launchable
        else ""
    )
    if restricted:
        return f"NodePool {pool.name} allows {ZONE_KEY} {listed}{subnets}"
    if launchable:
        return f"NodePool {pool.name} has no {ZONE_KEY} requirement{subnets}"
    return (
        f"NodePool {pool.name} has no {ZONE_KEY} requirement (its EC2NodeClass's subnets "
        f"decide, not read; the cluster's nodes are in {listed})"
    )


def drift_volume_problems(
    pool: NodePool,
    pools: Sequence[NodePool],
    live: Sequence[Node],
    moving: Iterable[Pod],
    *,
    by_claim: Mapping[str, PersistentVolume],
    name: Callable[[Pod], str],
    known: Iterable[str],
    class_zones: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, set[str]]:
    """For the pods leaving `pool`'s drifting nodes: which bound volume pins each to a zone no
    NodePool's new nodes that take the pod may be in (the problem -> the workloads). A pod no
    NodePool takes at all is drift_problems' finding, not this one's."""
    zones = list(known)
    launchable = class_zones or {}
    own, others = pool_zone_shapes(pool, pools, live, zones, launchable)
    allowed = describe_zones(pool, zones, launchable)
    problems: dict[str, set[str]] = {}
    for pod in moving:
        volumes = bound_volumes(pod, by_claim)
        if not volumes:
            continue
        takers = "the new nodes that can take this pod"
        if not any(not constraint_misses(pod.spec, s) for s in others):
            takers = f"the nodes NodePool {pool.name} may create for this pod"
        problem = volume_problem(pod, volumes, [*own, *others], takers)
        if problem is not None:
            problems.setdefault(f"{problem} ({allowed})", set()).add(name(pod))
    return problems


def drift_spread_problems(
    pool: NodePool,
    pools: Sequence[NodePool],
    live: Sequence[Node],
    moving: Iterable[Pod],
    *,
    cluster: tuple[Sequence[Node], Mapping[str, Sequence[Pod]]],
    name: Callable[[Pod], str],
    class_zones: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, set[str]]:
    """For the pods leaving `pool`'s drifting nodes, per workload: the DoNotSchedule spread
    that stops their replacements, replayed with the drifting nodes still counting (they stand
    until drained) and every other node of the cluster as it is (`cluster`: all nodes, and the
    pods on each)."""
    groups: dict[tuple[str, object], list[Pod]] = {}
    for pod in moving:
        if hard_spreads(pod):
            groups.setdefault((name(pod), pod.spec.topology_spread), []).append(pod)
    if not groups:
        return {}
    nodes, pods_on = cluster
    own, others = pool_zone_shapes(pool, pools, live, live_zones(nodes), class_zones or {})
    leaving = {n.name for n in live}
    blue = [Placed(NodeShape.of(n), tuple(pods_on.get(n.name, ())), takes_pods=False) for n in live]
    standing = [
        Placed(
            NodeShape.of(n),
            tuple(pods_on.get(n.name, ())),
            takes_pods=n.ready
            and not n.unschedulable
            and KARPENTER_DISRUPTED_TAINT not in n.taints,
        )
        for n in nodes
        if n.name not in leaving
    ]
    problems: dict[str, set[str]] = {}
    for (workload, _), pods in sorted(groups.items(), key=lambda item: item[0][0]):
        problem = spread_problem(pods, blue, standing, [*own, *others])
        if problem is not None:
            problems.setdefault(problem, set()).add(workload)
    return problems
