"""The fake cluster's object tracker: every object it holds, the one lock and the event outbox.

client-go's fake splits into an object tracker and the reactors around it; this is the tracker.
The parts that act on the objects (`pods`, `budgets`, `eviction`, `nodes`, `workloads`,
`stored_objects`, `karpenter_port`) are layers over this class and `FakeCluster` stacks them.
They share one set of indexes under one lock, as the API server's objects share one store: a pod
removed by a node's deletion must leave the PDB groups, the scheduler's books and its
controller's list in the same step.

Locking: one re-entrant lock guards all state, because the sandbox serves this object from HTTP
threads. Clock callbacks take the clock's lock and then ours, so we never call into the clock
while holding ours: events are queued and handed to the clock once the lock is released.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from upgrader.core.errors import NotFoundError
from upgrader.core.kube import (
    ConfigMap,
    DeprecatedApiRequest,
    HelmRelease,
    HorizontalPodAutoscaler,
    HTTPRoute,
    Ingress,
    Lease,
    Node,
    OwnerRef,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    Service,
    WorkloadKind,
)
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.actions import Action, ActionLog, Reactor
from upgrader.sandbox.cluster.controllers import Controller, View
from upgrader.sandbox.cluster.node_groups import FargatePlacer, NodeFactory, NodeGroupState
from upgrader.sandbox.cluster.scheduler import Scheduler

if TYPE_CHECKING:
    from upgrader.sandbox.cluster.karpenter import FakeKarpenter

RESOURCES = {
    WorkloadKind.DEPLOYMENT: "deployments",
    WorkloadKind.REPLICA_SET: "replicasets",
    WorkloadKind.STATEFUL_SET: "statefulsets",
    WorkloadKind.DAEMON_SET: "daemonsets",
    WorkloadKind.JOB: "jobs",
}
_READ_VERBS = frozenset({"get", "list"})  # port calls that do not count in `changes`
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # generateName's suffix alphabet
_SUFFIX_SCRAMBLER = 7_368_787  # prime, so coprime to 27**5

ControllerKey = tuple[WorkloadKind, str, str]
PodCallback = Callable[[str, str], None]
IngressWatcher = Callable[[Ingress], None]


@dataclass(frozen=True)
class PdbViolation:
    """A voluntary disruption left a PDB with fewer healthy pods than it requires."""

    pdb: str  # namespace/name
    pod: str  # the pod whose disruption did it
    at: float
    cause: str  # "delete", "eviction", "node <name> removed", "NoExecute taint on <name>"
    current_healthy: int
    desired_healthy: int


@dataclass(frozen=True)
class ClusterStats:
    """Counters that tests and benchmarks assert on."""

    evictions: int = 0
    evictions_refused: int = 0
    evictions_refused_by_pdb: Mapping[str, int] = field(default_factory=dict)
    deletions: int = 0
    lost_pods: tuple[str, ...] = ()  # controller-owned or bare pods that vanished with a node
    pdb_violations: tuple[PdbViolation, ...] = ()


@dataclass
class _Counters:
    evictions: int = 0
    evictions_refused: int = 0
    evictions_refused_by_pdb: dict[str, int] = field(default_factory=dict)
    deletions: int = 0
    lost_pods: list[str] = field(default_factory=list)
    pdb_violations: list[PdbViolation] = field(default_factory=list)


@dataclass(eq=False)  # compared by identity: two PDBs with the same spec are still two
class Budget:
    """A PDB's spec, the pods it covers (by label group), and its disruptedPods."""

    spec: PodDisruptionBudget
    groups: dict[int, LabelGroup] = field(default_factory=dict)
    disrupted: dict[str, float] = field(default_factory=dict)

    def pod_keys(self) -> Iterator[str]:
        for group in self.groups.values():
            yield from group.pods


@dataclass(eq=False)
class LabelGroup:
    """Pods of one namespace that share one labels mapping, so PDB selectors are matched once
    per group, not once per pod. A controller hands one mapping to all the pods of a template,
    and a bare pod gets its own, so a group has a single owner: `owner`, or none (`owned_by`
    tells an unmanaged pod from one whose controller is unknown). Holding `labels` keeps the
    mapping alive, so its id stays a unique key."""

    labels: Mapping[str, str]
    budgets: list[Budget]
    owner: Controller | None
    owned_by: OwnerRef | None
    pods: dict[str, None] = field(default_factory=dict)


def frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def evolve(pod: Pod, **changes: object) -> Pod:
    """`dataclasses.replace` for the per-pod hot paths, five times faster: the copy is filled in
    before anyone can see it, so it is as immutable as a `replace`d one."""
    clone = object.__new__(Pod)
    clone.__dict__.update(pod.__dict__, **changes)
    return clone


class ClusterStore:
    """The state of a fake cluster, its lock, its clock events and its lookups."""

    def __init__(self, clock: VirtualClock, server_version: str = "v1.29.8-eks-a737599") -> None:
        self._clock = clock
        self._version = server_version
        self._lock = threading.RLock()
        self._depth = 0
        self._changes = 0  # see `changes`
        self._outbox: list[tuple[float, Callable[[], None]]] = []
        self._buckets: dict[float, list[tuple[PodCallback, str, str]]] = {}
        self._pass_requested = False
        # A pod shape no node takes -> when kube-scheduler's message for it was written, and it
        self._fit_errors: dict[tuple[object, str | None], tuple[float, str]] = {}
        self._log = ActionLog()
        self._counters = _Counters()
        self._serial = itertools.count(1)

        self._scheduler = Scheduler()
        self._node_factory = NodeFactory()
        self._nodes: dict[str, Node] = {}
        self._node_groups: dict[str, NodeGroupState] = {}
        self._pods: dict[str, Pod] = {}
        self._pods_by_node: dict[str, dict[str, None]] = {}
        self._pods_by_namespace: dict[str, dict[str, None]] = {}
        self._unbound: dict[str, None] = {}  # pods waiting for the scheduler, oldest first
        self._pinned: dict[str, str] = {}  # an unbound DaemonSet pod -> its node
        self._gone_at: dict[str, float] = {}  # a terminating pod -> end of its grace period
        self._startup: dict[str, float] = {}  # a bare pod -> its start-up delay
        self._controllers: dict[ControllerKey, Controller] = {}
        self._budgets: dict[str, Budget] = {}
        self._budgets_by_namespace: dict[str, list[Budget]] = {}
        self._label_groups: dict[str, dict[int, LabelGroup]] = {}  # namespace, id(labels)
        self._owners: dict[str, Controller] = {}  # pod key -> the controller that made it
        self._services: dict[tuple[str, str], Service] = {}
        self._volumes: dict[str, PersistentVolume] = {}
        # Pods, and workloads' pods, whose containers never start: bound, they stay Pending.
        self._never_start: set[str] = set()
        self._never_start_workloads: set[ControllerKey] = set()
        # HPA -> the replicas its metrics recommend; it keeps its target there, within bounds
        self._hpas: dict[tuple[str, str], tuple[HorizontalPodAutoscaler, int]] = {}
        self._deprecated_requests: list[DeprecatedApiRequest] = []
        self._helm_releases: list[HelmRelease] = []
        self._leases: dict[tuple[str, str], Lease] = {}
        self._config_maps: dict[tuple[str, str], ConfigMap] = {}
        self._http_routes: dict[tuple[str, str], HTTPRoute] = {}
        self._terminating_namespaces: set[str] = set()
        self._karpenter: FakeKarpenter | None = None
        self._ingresses: dict[tuple[str, str], Ingress] = {}
        self._ingress_watchers: list[IngressWatcher] = []
        # Fargate: which pods get a node of their own (see `sandbox.fargate_nodes`)
        self._fargate: FargatePlacer | None = None
        self._fargate_nodes: dict[str, Node] = {}  # pod key -> its Fargate node

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every port call so far, oldest first."""
        with self._lock:
            return self._log.actions

    def clear_actions(self) -> None:
        with self._lock:
            self._log.clear()

    def add_reactor(self, verb: str, resource: str, reactor: Reactor) -> None:
        """Run `reactor` before every matching call ("*" matches any); it may raise to fail it."""
        with self._lock:
            self._log.add_reactor(verb, resource, reactor)

    def remove_reactors(self) -> None:
        with self._lock:
            self._log.remove_reactors()

    @property
    def changes(self) -> int:
        """A counter that moves on every change (and on some calls that change nothing, never
        on a read): equal values mean an unchanged world, so the sandbox server's watch feed
        skips its snapshot (`ChangeFeed`'s `version`)."""
        return self._changes

    @property
    def stats(self) -> ClusterStats:
        with self._lock:
            c = self._counters
            return ClusterStats(
                evictions=c.evictions,
                evictions_refused=c.evictions_refused,
                evictions_refused_by_pdb=MappingProxyType(dict(c.evictions_refused_by_pdb)),
                deletions=c.deletions,
                lost_pods=tuple(c.lost_pods),
                pdb_violations=tuple(c.pdb_violations),
            )

    @contextmanager
    def _locked(self, *, changing: bool = True) -> Iterator[None]:
        """Hold the lock; hand the events queued meanwhile to the clock once it is released.
        `changing` (anything but a read) counts in `changes`."""
        self._lock.acquire()
        self._depth += 1
        try:
            yield
        finally:
            if changing:
                self._changes += 1
            self._depth -= 1
            due: list[tuple[float, Callable[[], None]]] = []
            if self._depth == 0:
                due, self._outbox = self._outbox, []
            self._lock.release()
            for when, callback in due:
                self._clock.call_at(when, callback)

    @contextmanager
    def _api(self, verb: str, resource: str, namespace: str = "", name: str = "") -> Iterator[None]:
        """A port call: logged, offered to the reactors, then run under the lock."""
        with self._locked(changing=verb not in _READ_VERBS):
            self._log.record(Action(verb, resource, namespace, name))
            yield

    def _locked_call(self, fn: Callable[..., None], *args: object) -> None:
        with self._locked():
            fn(*args)

    def _at(self, when: float, callback: Callable[[], None]) -> None:
        self._outbox.append((when, callback))

    def _after(self, delay: float, fn: PodCallback, key: str, uid: str) -> None:
        """Call `fn(key, uid)` after `delay`. Pod events due at the same instant share one clock
        event, which keeps a 150,000-pod world from flooding the clock's heap."""
        when = self._clock.now() + delay
        bucket = self._buckets.get(when)
        if bucket is None:
            bucket = self._buckets[when] = []
            self._at(when, functools.partial(self._fire_bucket, when))
        bucket.append((fn, key, uid))

    def _fire_bucket(self, when: float) -> None:
        with self._locked():
            for fn, key, uid in self._buckets.pop(when, []):
                fn(key, uid)

    def _view(self) -> View:
        return View(self._pods, self._nodes, self._clock.now())

    def _node(self, name: str) -> Node:
        node = self._nodes.get(name)
        if node is None:
            raise NotFoundError(f'nodes "{name}" not found')
        return node

    def _pod(self, namespace: str, name: str) -> Pod:
        pod = self._pods.get(f"{namespace}/{name}")
        if pod is None:
            raise NotFoundError(f'pods "{name}" not found in namespace {namespace}')
        return pod

    def _controller(self, kind: WorkloadKind, namespace: str, name: str) -> Controller:
        ctrl = self._controllers.get((kind, namespace, name))
        if ctrl is None:
            raise NotFoundError(f'{RESOURCES[kind]} "{name}" not found in namespace {namespace}')
        return ctrl

    def _owner_of(self, pod: Pod) -> Controller | None:
        """The controller that created the pod; None for pods added bare."""
        return self._owners.get(pod.key)

    def _stamp(self) -> float:
        """A creation time: metav1.Time has whole seconds, so the wire and the fake agree."""
        return float(int(self._clock.now()))

    def _new_uid(self) -> str:
        serial = next(self._serial)
        return f"{serial:08x}-0000-4000-8000-{serial:012x}"

    def _generate_name(self, namespace: str, prefix: str) -> str:
        """generateName: the prefix and five characters that look random but are reproducible
        (the serial scrambled by a multiplier coprime to 27**5, so suffixes rarely collide)."""
        while True:
            number = (next(self._serial) * _SUFFIX_SCRAMBLER) % len(_NAME_ALPHABET) ** 5
            suffix = []
            for _ in range(5):
                number, digit = divmod(number, len(_NAME_ALPHABET))
                suffix.append(_NAME_ALPHABET[digit])
            name = prefix + "".join(suffix)
            if f"{namespace}/{name}" not in self._pods:
                return name
