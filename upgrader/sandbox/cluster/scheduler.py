"""Where a pod may run: kube-scheduler's filters, fast enough for a 5,000-node world.

The filters are those that decide an upgrade's outcome: `spec.unschedulable` (a cordon), taints
against tolerations, nodeSelector, required node affinity, and CPU, memory and pod-count room
(allocatable minus the requests of the pods bound there). Scoring is reduced to spreading: round
robin inside a pool of alike nodes, least-allocated between pools.

Checking every pod against every node would make a 150,000-pod world take minutes, so nodes
that share a scheduling signature (their labels other than per-node identity labels, and their
effective taints) form a pool, and whether a pod's constraints admit a pool is decided once per
(constraints, pool) pair. Only pods that select on an identity label (kubernetes.io/hostname)
take the slow node-by-node path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from upgrader.core.kube import (
    Node,
    NodeAffinity,
    PodSpec,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
)

# The node lifecycle controller taints cordoned and not-ready nodes; the scheduler's
# NodeUnschedulable filter lets a pod through when it tolerates the cordon taint, which is how
# DaemonSet pods land on cordoned nodes.
UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", TaintEffect.NO_SCHEDULE)
NOT_READY_TAINT = Taint("node.kubernetes.io/not-ready", TaintEffect.NO_SCHEDULE)

# Labels that are unique per node: kept out of pool signatures, or every node is its own pool.
IDENTITY_LABELS = frozenset({"kubernetes.io/hostname"})

# A pod always takes one of the node's pod slots, whatever its requests say.
_ONE_POD = 1
# How many feasible pools a pod's placement compares before it picks the least allocated.
_CANDIDATES = 4
# How many failed request sizes a pool remembers; a handful of pod shapes is the common case.
_EXHAUSTED_MEMORY = 16

_Constraints = tuple[tuple[Toleration, ...], frozenset[tuple[str, str]], NodeAffinity]
_Signature = tuple[frozenset[tuple[str, str]], frozenset[Taint]]


def effective_taints(node: Node) -> tuple[Taint, ...]:
    """The node's taints plus the ones Kubernetes derives from its cordon and readiness."""
    extra: list[Taint] = []
    if node.unschedulable:
        extra.append(UNSCHEDULABLE_TAINT)
    if not node.ready:
        extra.append(NOT_READY_TAINT)
    return node.taints + tuple(extra)


def _tolerated(tolerations: tuple[Toleration, ...], taints: Iterable[Taint]) -> bool:
    return all(
        taint.effect is TaintEffect.PREFER_NO_SCHEDULE
        or any(t.tolerates(taint) for t in tolerations)
        for taint in taints
    )


def _selects(spec: PodSpec, labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in spec.node_selector.items()) and (
        spec.node_affinity.matches(labels)
    )


def node_admits(spec: PodSpec, node: Node) -> bool:
    """Every filter but resources: cordon, taints, nodeSelector and required node affinity."""
    return _tolerated(spec.tolerations, effective_taints(node)) and _selects(spec, node.labels)


def _uses_identity_labels(spec: PodSpec) -> bool:
    keys = set(spec.node_selector)
    for term in spec.node_affinity.terms:
        keys.update(r.key for r in term)
    return not keys.isdisjoint(IDENTITY_LABELS)


@dataclass(frozen=True)
class NodeUsage:
    """What is left on a node for new pods."""

    free: Resources
    pods: int


class _Slot:
    """One node's scheduling state: the node as last seen and what its pods already request."""

    __slots__ = ("cpu_free", "mem_free", "node", "pods", "pods_free", "pool")

    def __init__(self, node: Node, pool: _Pool) -> None:
        self.node = node
        self.pool = pool
        self.cpu_free = node.allocatable.cpu_millis
        self.mem_free = node.allocatable.memory_bytes
        self.pods_free = node.allocatable.pods
        self.pods = 0

    def has_room(self, requests: Resources) -> bool:
        return (
            self.pods_free >= _ONE_POD
            and requests.cpu_millis <= self.cpu_free
            and requests.memory_bytes <= self.mem_free
        )

    def free_share(self) -> float:
        """Least-allocated score: the mean free fraction of CPU, memory and pod slots (the last
        so that pods without requests spread too)."""
        alloc = self.node.allocatable
        cpu = self.cpu_free / alloc.cpu_millis if alloc.cpu_millis else 0.0
        mem = self.mem_free / alloc.memory_bytes if alloc.memory_bytes else 0.0
        pods = self.pods_free / alloc.pods if alloc.pods else 0.0
        return (cpu + mem + pods) / 3


class _Pool:
    """Nodes alike for scheduling. `exhausted` remembers requests a full scan found no room for,
    until something in the pool frees up, so a backlog of unschedulable pods costs O(1) each."""

    __slots__ = ("cursor", "exhausted", "labels", "names", "signature", "taints")

    def __init__(self, signature: _Signature) -> None:
        self.signature = signature
        self.labels: Mapping[str, str] = dict(signature[0])
        self.taints = tuple(signature[1])
        self.names: list[str] = []
        self.cursor = 0
        self.exhausted: list[tuple[int, int]] = []

    def known_full_for(self, requests: Resources) -> bool:
        return bool(self.exhausted) and any(
            requests.cpu_millis >= cpu and requests.memory_bytes >= mem
            for cpu, mem in self.exhausted
        )


class Scheduler:
    """The node index and resource book-keeping the fake cluster schedules against."""

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self._pools: dict[_Signature, _Pool] = {}
        self._admitted: dict[_Constraints, list[_Pool]] = {}
        self._turn = 0

    # nodes

    def add_node(self, node: Node) -> None:
        pool = self._pool_for(node)
        self._slots[node.name] = _Slot(node, pool)
        pool.names.append(node.name)
        pool.exhausted.clear()

    def update_node(self, node: Node) -> None:
        """Labels, taints, cordon or readiness changed; what its pods request is unchanged."""
        slot = self._slots[node.name]
        slot.node = node
        pool = self._pool_for(node)
        if pool is not slot.pool:
            self._leave_pool(slot)
            slot.pool = pool
            pool.names.append(node.name)
        pool.exhausted.clear()

    def remove_node(self, name: str) -> None:
        slot = self._slots.pop(name, None)
        if slot is not None:
            self._leave_pool(slot)

    def usage(self, name: str) -> NodeUsage:
        slot = self._slots[name]
        return NodeUsage(Resources(slot.cpu_free, slot.mem_free, slot.pods_free), slot.pods)

    def rooms(self) -> list[tuple[Node, Resources]]:
        """Every node, as last seen, with what is left on it (pods: free slots)."""
        return [
            (slot.node, Resources(slot.cpu_free, slot.mem_free, slot.pods_free))
            for slot in self._slots.values()
        ]

    # placing pods

    def fits(self, spec: PodSpec, name: str) -> bool:
        slot = self._slots.get(name)
        return slot is not None and node_admits(spec, slot.node) and slot.has_room(spec.requests)

    def choose(self, spec: PodSpec) -> str | None:
        """A node the pod fits on, spreading pods out; None when there is none."""
        if _uses_identity_labels(spec):
            return self._choose_node_by_node(spec)
        pools = self._admitting_pools(spec)
        # Like kube-scheduler's percentageOfNodesToScore, stop after a few feasible candidates;
        # starting the round at a rotating pool still spreads pods over all of them.
        self._turn += 1
        best: tuple[float, _Pool, int] | None = None
        feasible = 0
        for step in range(len(pools)):
            pool = pools[(self._turn + step) % len(pools)]
            found = self._scan(pool, spec.requests)
            if found is None:
                continue
            score = self._slots[pool.names[found]].free_share()
            if best is None or score > best[0]:
                best = (score, pool, found)
            feasible += 1
            if feasible == _CANDIDATES:
                break
        if best is None:
            return None
        _, pool, index = best
        pool.cursor = index + 1
        return pool.names[index]

    def reserve(self, name: str, requests: Resources) -> None:
        slot = self._slots[name]
        slot.cpu_free -= requests.cpu_millis
        slot.mem_free -= requests.memory_bytes
        slot.pods_free -= _ONE_POD
        slot.pods += 1

    def release(self, name: str, requests: Resources) -> None:
        slot = self._slots.get(name)
        if slot is None:  # the node went first; nothing left to give back
            return
        slot.cpu_free += requests.cpu_millis
        slot.mem_free += requests.memory_bytes
        slot.pods_free += _ONE_POD
        slot.pods -= 1
        slot.pool.exhausted.clear()

    # internals

    def _pool_for(self, node: Node) -> _Pool:
        labels = frozenset((k, v) for k, v in node.labels.items() if k not in IDENTITY_LABELS)
        signature = (labels, frozenset(effective_taints(node)))
        pool = self._pools.get(signature)
        if pool is None:
            pool = self._pools[signature] = _Pool(signature)
            self._admitted.clear()
        return pool

    def _leave_pool(self, slot: _Slot) -> None:
        pool = slot.pool
        index = pool.names.index(slot.node.name)
        del pool.names[index]
        if index < pool.cursor:
            pool.cursor -= 1
        if not pool.names:
            del self._pools[pool.signature]
            self._admitted.clear()

    def _admitting_pools(self, spec: PodSpec) -> list[_Pool]:
        key = (spec.tolerations, frozenset(spec.node_selector.items()), spec.node_affinity)
        pools = self._admitted.get(key)
        if pools is None:
            pools = [
                pool
                for pool in self._pools.values()
                if _tolerated(spec.tolerations, pool.taints) and _selects(spec, pool.labels)
            ]
            self._admitted[key] = pools
        return pools

    def _scan(self, pool: _Pool, requests: Resources) -> int | None:
        """Round robin from the pool's cursor to the first node with room."""
        if pool.known_full_for(requests):
            return None
        names = pool.names
        count = len(names)
        start = pool.cursor % count
        for step in range(count):
            index = (start + step) % count
            if self._slots[names[index]].has_room(requests):
                return index
        if len(pool.exhausted) >= _EXHAUSTED_MEMORY:
            del pool.exhausted[0]
        pool.exhausted.append((requests.cpu_millis, requests.memory_bytes))
        return None

    def _choose_node_by_node(self, spec: PodSpec) -> str | None:
        candidates = [
            slot
            for slot in self._slots.values()
            if node_admits(spec, slot.node) and slot.has_room(spec.requests)
        ]
        if not candidates:
            return None
        return max(candidates, key=_Slot.free_share).node.name
