"""Room for the pods a drifting Karpenter NodePool moves: its `spec.limits`, and the largest node
its requirements let it launch.

Karpenter's rules (aws/karpenter-provider-aws website/content/en/docs/concepts/):
- nodepools.md, "spec.limits": the limits bound what the pool's nodes may add up to (its
  `status.resources`, the sum of its nodes' capacity); "if a limit has been exceeded, nodes
  provisioning is prevented until some nodes have been terminated", and `limits.nodes`
  "constrains the maximum number of nodes during scaling operations or drift replacement";
- disruption.md, "Disruption Controller": a drifted node is replaced by *pre-spinning* its
  replacement and waiting for it to be ready before the old node is deleted, so old and new
  nodes coexist and both count against the limits. When the simulation needs a new node and
  the limits leave no room for it, the old node stays (the drift stalls) unless its pods fit
  on nodes that already exist;
- scheduling.md, "Well-Known Labels": `karpenter.k8s.aws/instance-cpu` (vCPUs) and
  `karpenter.k8s.aws/instance-memory` (MiB) describe the instance, so a requirement on them (or
  an `In` list of instance types) bounds the largest node the pool launches. A pod that
  requests more than that fits no node of the pool ("instance type selection math only uses
  requests").

A pod is only short of room when no NodePool whose nodes accept it has room: Karpenter's
simulation may place it on any pool's nodes. What an instance type offers is taken from a live
node of that type (its allocatable) or, failing that, from EC2's facts (vCPUs, memory); an
instance type eksup knows nothing of leaves the bound unknown (no finding).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from upgrader.core.kube import Node, NodePool, Pod, PoolResources, Resources, SelectorRequirement
from upgrader.core.nodepool_shapes import nodepool_shape
from upgrader.core.placement import INSTANCE_TYPE_LABELS, constraint_misses

INSTANCE_CPU = "karpenter.k8s.aws/instance-cpu"  # vCPUs
INSTANCE_MEMORY = "karpenter.k8s.aws/instance-memory"  # MiB
MIB = 2**20


@dataclass(frozen=True)
class Largest:
    """The most one node of a pool may offer, per resource (None: no bound known), and what
    says so."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    why: str = ""

    def lacks(self, requests: Resources) -> list[str]:
        """What `requests` exceed, in words; empty when they fit (or no bound is known)."""
        misses = []
        if self.cpu_millis is not None and requests.cpu_millis > self.cpu_millis:
            misses.append(f"cpu {requests.cpu_millis}m > {self.cpu_millis}m")
        if self.memory_bytes is not None and requests.memory_bytes > self.memory_bytes:
            misses.append(f"memory {requests.memory_bytes // MIB}Mi > {self.memory_bytes // MIB}Mi")
        return misses


def _upper(requirements: Iterable[SelectorRequirement], key: str) -> int | None:
    """The highest integer value `requirements` allow for `key` (In, Lt, Lte), or None."""
    bound: int | None = None
    for r in requirements:
        if r.key != key:
            continue
        numbers = [int(v) for v in r.values if v.strip().isdigit()]
        if r.operator == "In" and numbers:
            found = max(numbers)
        elif r.operator == "Lt" and numbers:
            found = numbers[0] - 1
        elif r.operator == "Lte" and numbers:
            found = numbers[0]
        else:
            continue
        bound = found if bound is None else min(bound, found)
    return bound


def largest_node(pool: NodePool, types: Mapping[str, Resources]) -> Largest:
    """The most one node of `pool` may offer: from its instance-cpu / instance-memory
    requirements and an `In` list of instance types whose sizes are all in `types`."""
    cpu_vcpus = _upper(pool.requirements, INSTANCE_CPU)
    memory_mib = _upper(pool.requirements, INSTANCE_MEMORY)
    cpu = None if cpu_vcpus is None else cpu_vcpus * 1000
    memory = None if memory_mib is None else memory_mib * MIB
    why = [
        f"{r.key} {r.operator} {','.join(r.values)}"
        for r in pool.requirements
        if r.key in (INSTANCE_CPU, INSTANCE_MEMORY) and r.operator in ("In", "Lt", "Lte")
    ]
    listed = {
        v
        for r in pool.requirements
        if r.key in INSTANCE_TYPE_LABELS and r.operator == "In"
        for v in r.values
    }
    if listed and listed <= set(types):
        biggest_cpu = max(types[t].cpu_millis for t in listed)
        biggest_memory = max(types[t].memory_bytes for t in listed)
        cpu = biggest_cpu if cpu is None else min(cpu, biggest_cpu)
        memory = biggest_memory if memory is None else min(memory, biggest_memory)
        why.append(f"instance types {', '.join(sorted(listed))}")
    return Largest(cpu, memory, "; ".join(why))


def instance_sizes(
    nodes: Iterable[Node], capacity: Mapping[str, Resources] | None = None
) -> dict[str, Resources]:
    """Instance type -> what a node of it offers: a live node's allocatable (the most seen),
    else `capacity` (EC2's vCPUs and memory)."""
    sizes = dict(capacity or {})
    seen: dict[str, Resources] = {}
    for node in nodes:
        itype = next((node.labels[k] for k in INSTANCE_TYPE_LABELS if k in node.labels), "")
        if itype and node.allocatable.cpu_millis:
            best = seen.get(itype)
            if best is None or node.allocatable.cpu_millis > best.cpu_millis:
                seen[itype] = node.allocatable
    sizes.update(seen)
    return sizes


def too_big_problems(
    pool: NodePool,
    pools: Sequence[NodePool],
    moving: Iterable[Pod],
    name: Callable[[Pod], str],
    types: Mapping[str, Resources],
) -> dict[str, set[str]]:
    """Pods leaving `pool`'s nodes whose requests exceed the largest node of every NodePool
    that accepts them (the problem -> the workloads)."""
    everyone = [pool, *(p for p in pools if p.name != pool.name)]
    largest = {p.name: largest_node(p, types) for p in everyone}
    huge = Resources(10**12, 10**18)
    if not any(bound.lacks(huge) for bound in largest.values()):
        return {}  # the common case: nothing bounds the pools' instance sizes
    shapes = {p.name: nodepool_shape(p) for p in everyone}
    problems: dict[str, set[str]] = {}
    for pod in moving:
        if not any(bound.lacks(pod.spec.requests) for bound in largest.values()):
            continue  # every pool's nodes are large enough
        takers = [p for p in everyone if not constraint_misses(pod.spec, shapes[p.name])]
        if not takers:
            continue  # no pool takes it at all: drift_problems' finding
        misses = [
            f"NodePool {t.name}'s largest node offers less "
            f"({', '.join(largest[t.name].lacks(pod.spec.requests))}; {largest[t.name].why})"
            for t in takers
        ]
        if all(largest[t.name].lacks(pod.spec.requests) for t in takers):
            problems.setdefault(
                f"a pod's requests fit no node its NodePools may launch: {'; '.join(misses)}",
                set(),
            ).add(name(pod))
    return problems


def _sum(values: Iterable[Resources]) -> Resources:
    total = Resources()
    for value in values:
        total += value
    return total


def spare_outside(
    nodes: Sequence[Node], pods_on: Mapping[str, Sequence[Pod]], leaving: Iterable[str]
) -> Resources:
    """Free requests on the Ready, schedulable nodes not in `leaving`, added up: an upper bound
    of what existing nodes can take without a new one."""
    gone = set(leaving)
    spare = Resources()
    for node in nodes:
        if node.name in gone or not node.ready or node.unschedulable:
            continue
        used = _sum(p.spec.requests for p in pods_on.get(node.name, ()) if not p.is_finished)
        free = node.allocatable - used
        spare += Resources(max(free.cpu_millis, 0), max(free.memory_bytes, 0), 0)
    return spare


def _room(limits: PoolResources, usage: PoolResources) -> PoolResources:
    def left(limit: int | None, used: int | None) -> int | None:
        return None if limit is None else limit - (used or 0)

    return PoolResources(
        left(limits.cpu_millis, usage.cpu_millis),
        left(limits.memory_bytes, usage.memory_bytes),
        left(limits.nodes, usage.nodes),
    )


def _fits(need: Resources, room: PoolResources) -> bool:
    return (
        (room.cpu_millis is None or need.cpu_millis <= room.cpu_millis)
        and (room.memory_bytes is None or need.memory_bytes <= room.memory_bytes)
        and (room.nodes is None or room.nodes >= 1)
    )


def _describe(resources: PoolResources) -> str:
    parts = []
    if resources.cpu_millis is not None:
        parts.append(f"cpu {resources.cpu_millis}m")
    if resources.memory_bytes is not None:
        parts.append(f"memory {resources.memory_bytes // MIB}Mi")
    if resources.nodes is not None:
        parts.append(f"nodes {resources.nodes}")
    return ", ".join(parts) or "nothing"


def limits_problem(
    pool: NodePool,
    pools: Sequence[NodePool],
    live: Sequence[Node],
    moving: Sequence[Pod],
    spare: Resources,
) -> tuple[str, list[Pod]] | None:
    """When `pool`'s spec.limits leave room for the replacement of none of its drifting nodes
    (their pods fit neither the room left nor the existing nodes' `spare`, nor another
    NodePool that takes them all and has room): the problem, and the pods of the node that
    needs least."""
    if pool.limits.empty or not moving:
        return None
    usage = pool.usage
    counted = "status.resources"
    if usage.empty:
        # Not reported: the live nodes' allocatable, a lower bound of their capacity.
        usage = PoolResources(
            sum(n.allocatable.cpu_millis for n in live),
            sum(n.allocatable.memory_bytes for n in live),
            len(live),
        )
        counted = "their allocatable, at least"
    room = _room(pool.limits, usage)
    by_node: dict[str, list[Pod]] = {}
    for pod in moving:
        by_node.setdefault(pod.node_name or "", []).append(pod)
    others = [(p, nodepool_shape(p)) for p in pools if p.name != pool.name]
    needs = []
    for pods in by_node.values():
        need = _sum(p.spec.requests for p in pods)
        if _fits(need, room) or need.fits_in(
            Resources(spare.cpu_millis, spare.memory_bytes, need.pods)
        ):
            return None
        for other, shape in others:
            takes_all = all(not constraint_misses(p.spec, shape) for p in pods)
            if takes_all and _fits(need, _room(other.limits, other.usage)):
                return None
        needs.append((need.cpu_millis, need.memory_bytes, pods))
    cpu, memory, pods = min(needs, key=lambda item: (item[0], item[1]))
    return (
        f"NodePool {pool.name}'s spec.limits ({_describe(pool.limits)}) leave room for no "
        f"replacement node while its drifting nodes stand (they count "
        f"{_describe(usage)}, from {counted}; room {_describe(room)}): the pods of its "
        f"least loaded node need cpu {cpu}m, memory {memory // MIB}Mi, more than the room and "
        f"than the other nodes have free (cpu {spare.cpu_millis}m, memory "
        f"{spare.memory_bytes // MIB}Mi)",
        pods,
    )
