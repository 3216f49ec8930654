"""FakeCluster: the `Cluster` port answered by a small Kubernetes simulation in virtual time.

Upgrades fail in the interplay of controllers, the scheduler, disruption budgets and grace
periods, so canned answers would test nothing. Here an evicted pod is replaced by its controller,
the replacement waits for a node with room, becomes Ready after its workload's start-up delay,
and only then gives its PDB budget back; a node that vanishes takes its pods with it. Everything
that takes time is an event on the `VirtualClock`, so the code under test moves the world by
sleeping, and tests can assert on virtual time.

Pieces: `scheduler` places pods, `controllers` decide what pods should exist, `disruption` holds
the PDB rules, `actions` logs calls and injects faults, `node_groups` makes nodes. This module
keeps the object store and applies their decisions.

Locking: one re-entrant lock guards all state, because the sandbox serves this object from HTTP
threads. Clock callbacks take the clock's lock and then ours, so we never call into the clock
while holding ours: events are queued and handed to the clock once the lock is released.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from upgrader.core.errors import (
    ConflictError,
    EvictionBlockedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
    UserError,
)
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    AmiSelectorTerm,
    ConfigMap,
    DeprecatedApiRequest,
    HelmRelease,
    HorizontalPodAutoscaler,
    HTTPRoute,
    HTTPRouteRule,
    Ingress,
    Lease,
    Node,
    NodeAffinity,
    NodeClaim,
    NodeClass,
    NodePool,
    OwnerRef,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    RouteParentStatus,
    Service,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)
from upgrader.core.label_selector import parse_label_selector
from upgrader.drain.eviction_rules import Verdict, can_ignore_pdb, decide_eviction
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.actions import Action, ActionLog, Reactor
from upgrader.sandbox.cluster.controllers import (
    Changes,
    Controller,
    DaemonSetController,
    DeploymentController,
    JobController,
    NewPod,
    PodEvent,
    ReplicaSetController,
    StatefulSetController,
    View,
)
from upgrader.sandbox.cluster.disruption import (
    budget_covers,
    eviction_checks,
    is_healthy,
    live_disruptions,
    pdb_status,
)
from upgrader.sandbox.cluster.node_groups import (
    FARGATE_PROVISION_SECONDS,
    FargatePlacer,
    NodeFactory,
    NodeGroupState,
    NodeTemplate,
)
from upgrader.sandbox.cluster.scheduler import Scheduler

if TYPE_CHECKING:
    from upgrader.core.ports import Cluster
    from upgrader.sandbox.cluster.karpenter import FakeKarpenter

DEFAULT_STARTUP_SECONDS = 5.0
DEFAULT_JOB_RUN_SECONDS = 60.0
DEFAULT_JOIN_DELAY_SECONDS = 90.0  # launch, boot and kubelet registration of an EKS node

# How often the HPA controller acts (kube-controller-manager's default sync period).
HPA_SYNC_SECONDS = 15.0
_RESOURCES = {
    WorkloadKind.DEPLOYMENT: "deployments",
    WorkloadKind.REPLICA_SET: "replicasets",
    WorkloadKind.STATEFUL_SET: "statefulsets",
    WorkloadKind.DAEMON_SET: "daemonsets",
    WorkloadKind.JOB: "jobs",
}
_CONTROLLERS: dict[WorkloadKind, type[Controller]] = {
    WorkloadKind.DEPLOYMENT: DeploymentController,
    WorkloadKind.REPLICA_SET: ReplicaSetController,
    WorkloadKind.STATEFUL_SET: StatefulSetController,
    WorkloadKind.DAEMON_SET: DaemonSetController,
    WorkloadKind.JOB: JobController,
}
_READ_VERBS = frozenset({"get", "list"})  # port calls that do not count in `changes`
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # generateName's suffix alphabet
_SUFFIX_SCRAMBLER = 7_368_787  # prime, so coprime to 27**5
_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})

_ControllerKey = tuple[WorkloadKind, str, str]
_PodCallback = Callable[[str, str], None]
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
class _Budget:
    """A PDB's spec, the pods it covers (by label group), and its disruptedPods."""

    spec: PodDisruptionBudget
    groups: dict[int, _LabelGroup] = field(default_factory=dict)
    disrupted: dict[str, float] = field(default_factory=dict)

    def pod_keys(self) -> Iterator[str]:
        for group in self.groups.values():
            yield from group.pods


@dataclass(eq=False)
class _LabelGroup:
    """Pods of one namespace that share one labels mapping, so PDB selectors are matched once
    per group, not once per pod. A controller hands one mapping to all the pods of a template,
    and a bare pod gets its own, so a group has a single owner: `owner`, or none (`owned_by`
    tells an unmanaged pod from one whose controller is unknown). Holding `labels` keeps the
    mapping alive, so its id stays a unique key."""

    labels: Mapping[str, str]
    budgets: list[_Budget]
    owner: Controller | None
    owned_by: OwnerRef | None
    pods: dict[str, None] = field(default_factory=dict)


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def _evolve(pod: Pod, **changes: object) -> Pod:
    """`dataclasses.replace` for the per-pod hot paths, five times faster: the copy is filled in
    before anyone can see it, so it is as immutable as a `replace`d one."""
    clone = object.__new__(Pod)
    clone.__dict__.update(pod.__dict__, **changes)
    return clone


class FakeCluster:
    """An in-memory Kubernetes cluster behind the `Cluster` port, driven by a `VirtualClock`."""

    def __init__(self, clock: VirtualClock, server_version: str = "v1.29.8-eks-a737599") -> None:
        self._clock = clock
        self._version = server_version
        self._lock = threading.RLock()
        self._depth = 0
        self._changes = 0  # see `changes`
        self._outbox: list[tuple[float, Callable[[], None]]] = []
        self._buckets: dict[float, list[tuple[_PodCallback, str, str]]] = {}
        self._pass_requested = False
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
        self._controllers: dict[_ControllerKey, Controller] = {}
        self._budgets: dict[str, _Budget] = {}
        self._budgets_by_namespace: dict[str, list[_Budget]] = {}
        self._label_groups: dict[str, dict[int, _LabelGroup]] = {}  # namespace, id(labels)
        self._owners: dict[str, Controller] = {}  # pod key -> the controller that made it
        self._services: dict[tuple[str, str], Service] = {}
        self._volumes: dict[str, PersistentVolume] = {}
        # Pods, and workloads' pods, whose containers never start: bound, they stay Pending.
        self._never_start: set[str] = set()
        self._never_start_workloads: set[_ControllerKey] = set()
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

    # ------------------------------------------------------------------ the Cluster port

    def server_version(self) -> str:
        with self._api("get", "version"):
            return self._version

    def watching(self) -> AbstractContextManager[None]:
        """Always current: every read is answered from the world itself."""
        return nullcontext()

    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        with self._api("list", "nodes"):
            selector = parse_label_selector(label_selector or "")
            return [
                node for name, node in sorted(self._nodes.items()) if selector.matches(node.labels)
            ]

    def get_node(self, name: str) -> Node:
        with self._api("get", "nodes", "", name):
            return self._node(name)

    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        with self._api("patch", "nodes", "", name):
            return self._update_node(replace(self._node(name), unschedulable=unschedulable))

    def add_taint(self, name: str, taint: Taint) -> Node:
        with self._api("patch", "nodes", "", name):
            node = self._node(name)
            others = tuple(t for t in node.taints if (t.key, t.effect) != (taint.key, taint.effect))
            return self._update_node(replace(node, taints=(*others, taint)))

    def remove_taint(self, name: str, key: str, effect: TaintEffect) -> Node:
        with self._api("patch", "nodes", "", name):
            node = self._node(name)
            kept = tuple(t for t in node.taints if (t.key, t.effect) != (key, effect))
            return self._update_node(replace(node, taints=kept))

    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        with self._api("patch", "nodes", "", name):
            node = self._node(name)
            merged = dict(node.labels)
            for key, value in labels.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            return self._update_node(replace(node, labels=_frozen(merged)))

    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        with self._api("list", "pods", namespace or ""):
            selector = parse_label_selector(label_selector or "")
            keys: Mapping[str, object] = self._pods
            if node_name is not None:
                keys = self._pods_by_node.get(node_name, {})
            elif namespace is not None:
                keys = self._pods_by_namespace.get(namespace, {})
            found = [
                pod
                for pod in map(self._pods.__getitem__, keys)
                if (namespace is None or pod.namespace == namespace)
                and selector.matches(pod.labels)
            ]
            return sorted(found, key=lambda pod: (pod.namespace, pod.name))

    def get_pod(self, namespace: str, name: str) -> Pod:
        with self._api("get", "pods", namespace, name):
            return self._pod(namespace, name)

    def evict_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        with self._api("create", "pods/eviction", namespace, name):
            # NamespaceLifecycle admission answers before the eviction handler looks at the pod.
            if namespace in self._terminating_namespaces:
                raise NamespaceTerminatingError(
                    f'pods "{name}" is forbidden: unable to create new content in namespace '
                    f"{namespace} because it is being terminated"
                )
            pod = self._pod(namespace, name)
            budgets = []
            if not can_ignore_pdb(pod):
                budgets = [b for b in self._covering(pod) if eviction_checks(b.spec, pod)]
            statuses = [self._status(b) for b in budgets]
            verdict = decide_eviction(pod, statuses)
            if verdict is Verdict.MULTIPLE_PDBS:
                raise MultiplePdbsError(
                    "This pod has more than one PodDisruptionBudget, which the eviction "
                    "subresource does not support.",
                    tuple(sorted(b.spec.name for b in budgets)),
                )
            if verdict is Verdict.BLOCKED:
                status = statuses[0]
                self._counters.evictions_refused += 1
                refused = self._counters.evictions_refused_by_pdb
                refused[status.key] = refused.get(status.key, 0) + 1
                raise EvictionBlockedError(
                    "Cannot evict pod as it would violate the pod's disruption budget. The "
                    f"disruption budget {status.name} needs {status.desired_healthy} healthy "
                    f"pods and has {status.current_healthy} currently",
                    (status.name,),
                    retry_after=None,  # the API sends no Retry-After for an exhausted budget
                )
            if verdict is Verdict.CONSUME:
                budgets[0].disrupted[pod.name] = self._clock.now()
            self._counters.evictions += 1
            self._terminate(pod.key, grace_period_seconds, cause="eviction")

    def delete_pod(
        self, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> None:
        with self._api("delete", "pods", namespace, name):
            pod = self._pod(namespace, name)
            self._counters.deletions += 1
            self._terminate(pod.key, grace_period_seconds, cause="delete")

    def list_workloads(
        self, kind: WorkloadKind | None = None, namespace: str | None = None
    ) -> list[Workload]:
        kinds = [kind] if kind is not None else list(_RESOURCES)
        result: list[Workload] = []
        for each in kinds:
            with self._api("list", _RESOURCES[each], namespace or ""):
                view = self._view()
                result.extend(
                    ctrl.status(view)
                    for key, ctrl in sorted(self._controllers.items())
                    if key[0] is each and (namespace is None or key[1] == namespace)
                )
        return result

    def get_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        with self._api("get", _RESOURCES[kind], namespace, name):
            return self._controller(kind, namespace, name).status(self._view())

    def scale_workload(
        self, kind: WorkloadKind, namespace: str, name: str, replicas: int
    ) -> Workload:
        with self._api("patch", f"{_RESOURCES[kind]}/scale", namespace, name):
            ctrl = self._controller(kind, namespace, name)
            if not ctrl.scalable():
                raise UserError(f"{kind.value} {namespace}/{name} has no scale subresource")
            if replicas < 0:
                raise UserError(f"replicas must not be negative, got {replicas}")
            ctrl.scale(replicas)
            self._apply(ctrl.sync(self._view()))
            for key, (hpa, _) in self._hpas.items():
                if (hpa.target_kind, hpa.namespace, hpa.target_name) == (
                    kind.value,
                    namespace,
                    name,
                ):
                    self._hpa_sync_after(HPA_SYNC_SECONDS, key)  # it takes its target back
            return ctrl.status(self._view())

    def restart_workload(self, kind: WorkloadKind, namespace: str, name: str) -> Workload:
        with self._api("patch", _RESOURCES[kind], namespace, name):
            ctrl = self._controller(kind, namespace, name)
            if not ctrl.restartable():
                raise UserError(f"restarting a {kind.value} is not supported")
            ctrl.restart(self._clock.now())
            self._apply(ctrl.sync(self._view()))
            return ctrl.status(self._view())

    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        with self._api("list", "poddisruptionbudgets", namespace or ""):
            return [
                self._status(budget)
                for key, budget in sorted(self._budgets.items())
                if namespace is None or budget.spec.namespace == namespace
            ]

    def list_persistent_volumes(self) -> list[PersistentVolume]:
        with self._api("list", "persistentvolumes"):
            return [self._volumes[name] for name in sorted(self._volumes)]

    def list_services(self, namespace: str | None = None) -> list[Service]:
        with self._api("list", "services", namespace or ""):
            return [
                service
                for key, service in sorted(self._services.items())
                if namespace is None or key[0] == namespace
            ]

    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        with self._api("get", "metrics", ""):
            return list(self._deprecated_requests)

    def helm_releases(self) -> list[HelmRelease]:
        with self._api("list", "secrets", ""):
            return list(self._helm_releases)

    def get_service(self, namespace: str, name: str) -> Service:
        with self._api("get", "services", namespace, name):
            return self._service(namespace, name)

    def patch_service_selector(
        self, namespace: str, name: str, selector: Mapping[str, str]
    ) -> Service:
        with self._api("patch", "services", namespace, name):
            service = replace(self._service(namespace, name), selector=_frozen(selector))
            self._services[(namespace, name)] = service
            return service

    def list_hpas(self, namespace: str | None = None) -> list[HorizontalPodAutoscaler]:
        with self._api("list", "horizontalpodautoscalers", namespace or ""):
            return [
                self._hpa_status(key)
                for key in sorted(self._hpas)
                if namespace is None or key[0] == namespace
            ]

    def set_hpa_min_replicas(
        self, namespace: str, name: str, min_replicas: int
    ) -> HorizontalPodAutoscaler:
        with self._api("patch", "horizontalpodautoscalers", namespace, name):
            key = (namespace, name)
            if key not in self._hpas:
                raise NotFoundError(
                    f'horizontalpodautoscalers "{name}" not found in namespace {namespace}'
                )
            hpa, recommended = self._hpas[key]
            if not 1 <= min_replicas <= hpa.max_replicas:
                raise UserError(
                    f"minReplicas must be 1-{hpa.max_replicas} (maxReplicas), got {min_replicas}"
                )
            self._hpas[key] = (replace(hpa, min_replicas=min_replicas), recommended)
            self._hpa_sync_after(0.0, key)
            return self._hpa_status(key)

    def get_ingress(self, namespace: str, name: str) -> Ingress:
        with self._api("get", "ingresses", namespace, name):
            return self._ingress(namespace, name)

    def patch_ingress_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Ingress:
        with self._api("patch", "ingresses", namespace, name):
            ingress = self._ingress(namespace, name)
            merged = dict(ingress.annotations)
            for key, value in annotations.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            return self._store_ingress(replace(ingress, annotations=_frozen(merged)))

    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        with self._api("get", "httproutes", namespace, name):
            return self._http_route(namespace, name)

    def replace_http_route_rules(
        self, namespace: str, name: str, rules: Sequence[HTTPRouteRule], resource_version: str
    ) -> HTTPRoute:
        with self._api("update", "httproutes", namespace, name):
            current = self._http_route(namespace, name)
            if resource_version != current.resource_version:
                raise ConflictError(
                    f'Operation cannot be fulfilled on httproutes "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again"
                )
            return self._store_http_route(
                replace(current, rules=tuple(rules), generation=current.generation + 1)
            )

    def get_lease(self, namespace: str, name: str) -> Lease:
        with self._api("get", "leases", namespace, name):
            return self._lease(namespace, name)

    def create_lease(self, lease: Lease) -> Lease:
        with self._api("create", "leases", lease.namespace, lease.name):
            if (lease.namespace, lease.name) in self._leases:
                raise ConflictError(f'leases "{lease.name}" already exists')
            return self._store_lease(lease)

    def update_lease(self, lease: Lease) -> Lease:
        with self._api("update", "leases", lease.namespace, lease.name):
            current = self._lease(lease.namespace, lease.name)
            if lease.resource_version != current.resource_version:
                raise ConflictError(
                    f'Operation cannot be fulfilled on leases "{lease.name}": the object has '
                    "been modified; please apply your changes to the latest version and try again"
                )
            return self._store_lease(lease)

    def delete_lease(self, namespace: str, name: str) -> None:
        with self._api("delete", "leases", namespace, name):
            self._lease(namespace, name)
            del self._leases[(namespace, name)]

    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        with self._api("get", "configmaps", namespace, name):
            found = self._config_maps.get((namespace, name))
            if found is None:
                raise NotFoundError(f'configmaps "{name}" not found in namespace {namespace}')
            return found

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        with self._api("patch", "configmaps", config_map.namespace, config_map.name):
            before = self._config_maps.get((config_map.namespace, config_map.name))
            stored = replace(
                config_map,
                data=_frozen(config_map.data),
                resource_version=str(next(self._serial)),
                # an update keeps the creation time of the object it replaces
                created_at=before.created_at if before else self._stamp(),
            )
            self._config_maps[(config_map.namespace, config_map.name)] = stored
            return stored

    # ------------------------------------------------------------------ Karpenter
    # The port calls are logged under our lock and answered by the FakeKarpenter after it is
    # released: its rounds take its lock before ours, so ours is never held when taking its.

    def attach_fargate(self, placer: FargatePlacer) -> None:
        """Pods the placer gives a node run alone on it, as Fargate pods do; the node goes
        with its pod."""
        self._fargate = placer

    def attach_karpenter(self, karpenter: FakeKarpenter) -> None:
        self._karpenter = karpenter

    def _require_karpenter(self, resource: str, name: str) -> FakeKarpenter:
        if self._karpenter is None:
            raise NotFoundError(
                f'{resource} "{name}" not found: the server could not find the requested '
                "resource (Karpenter's CRDs are not installed)"
            )
        return self._karpenter

    def list_node_pools(self) -> list[NodePool]:
        with self._api("list", "nodepools"):
            pass
        return self._karpenter.node_pools() if self._karpenter else []

    def list_node_classes(self) -> list[NodeClass]:
        with self._api("list", "ec2nodeclasses"):
            pass
        return self._karpenter.node_classes() if self._karpenter else []

    def get_node_class(self, name: str) -> NodeClass:
        with self._api("get", "ec2nodeclasses", "", name):
            pass
        return self._require_karpenter("ec2nodeclasses", name).node_class(name)

    def patch_node_class_ami_selector(
        self, name: str, terms: Sequence[AmiSelectorTerm]
    ) -> NodeClass:
        with self._api("patch", "ec2nodeclasses", "", name):
            pass
        return self._require_karpenter("ec2nodeclasses", name).set_ami_selector(name, terms)

    def list_node_claims(self, node_pool: str | None = None) -> list[NodeClaim]:
        with self._api("list", "nodeclaims"):
            pass
        return self._karpenter.node_claims(node_pool) if self._karpenter else []

    # ------------------------------------------------------------------ observing and faults

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

    # ------------------------------------------------------------------ building the world

    def settle(self, limit_seconds: float = 3600.0) -> None:
        """Let virtual time run until nothing more is scheduled (at most `limit_seconds`)."""
        self._clock.run_until_idle(limit_seconds)

    def set_server_version(self, version: str) -> None:
        """The control plane was upgraded (the sandbox calls this when EKS says so)."""
        with self._lock:
            self._version = version
        if self._karpenter is not None:
            self._karpenter.wake()  # an AMI alias resolves for the new minor: drift

    def add_node(self, node: Node) -> Node:
        """A node joins, Ready; `created_at` defaults to now."""
        with self._locked():
            if node.name in self._nodes:
                raise ConflictError(f'nodes "{node.name}" already exists')
            created = node.created_at or self._clock.now()
            node = replace(node, labels=_frozen(node.labels), created_at=created)
            self._join(node)
            return node

    def remove_node(self, name: str) -> None:
        """The node vanishes (instance terminated); the pods still on it are lost."""
        with self._locked():
            self._node(name)
            self._remove_node(name)

    def scale_node_group(
        self,
        name: str,
        desired: int,
        template: NodeTemplate | None = None,
        join_delay_seconds: float = DEFAULT_JOIN_DELAY_SECONDS,
    ) -> None:
        """Grow (nodes join after the delay) or shrink (oldest nodes go at once) a node group.

        The template, when given, applies to the nodes that join from now on."""
        with self._locked():
            group = self._node_groups.get(name)
            if group is None:
                group = NodeGroupState(template or NodeTemplate(), epoch=next(self._serial))
                self._node_groups[name] = group
            elif template is not None:
                group.template = template
            members = self._group_members(name)
            surplus = len(members) + group.joining - desired
            if surplus < 0:
                group.joining += -surplus
                callback = functools.partial(self._nodes_join, name, group.epoch, -surplus)
                self._at(self._clock.now() + join_delay_seconds, callback)
                return
            cancelled = min(surplus, group.joining)
            group.joining -= cancelled
            oldest = sorted(members, key=lambda n: (self._nodes[n].created_at, n))
            for node_name in oldest[: surplus - cancelled]:
                self._remove_node(node_name)

    def delete_node_group(self, name: str, delay_seconds: float = 0.0) -> None:
        """Every node of the group vanishes after the delay; nodes still joining never do."""
        with self._locked():
            group = self._node_groups.get(name)
            if group is not None:
                group.epoch = next(self._serial)
                group.joining = 0
            if delay_seconds <= 0:
                self._delete_group_now(name)
            else:
                self._at(
                    self._clock.now() + delay_seconds,
                    functools.partial(self._locked_call, self._delete_group_now, name),
                )

    def node_group_nodes(self, name: str) -> list[str]:
        """Names of the nodes labelled with the node group, joined so far."""
        with self._lock:
            return self._group_members(name)

    def add_workload(
        self,
        workload: Workload,
        startup_seconds: float = DEFAULT_STARTUP_SECONDS,
        run_seconds: float | None = None,
        *,
        starts: bool = True,
    ) -> None:
        """Create a controller; it creates its pods. `run_seconds` is a Job pod's run time.
        `starts=False`: none of its pods' containers ever start (a bad image): each stays
        Pending on the node it was bound to, never Ready (see `add_pod`)."""
        with self._locked():
            key = (workload.kind, workload.namespace, workload.name)
            if key in self._controllers:
                raise ConflictError(f"{workload.kind.value} {workload.namespace}/{workload.name}")
            workload = replace(workload, created_at=workload.created_at or self._stamp())
            ctrl: Controller
            if workload.kind is WorkloadKind.JOB:
                ctrl = JobController(workload, startup_seconds, run_seconds)
            else:
                ctrl = _CONTROLLERS[workload.kind](workload, startup_seconds)
            self._controllers[key] = ctrl
            if not starts:
                self._never_start_workloads.add(key)
            self._apply(ctrl.sync(self._view()))

    def add_pod(
        self, pod: Pod, startup_seconds: float = DEFAULT_STARTUP_SECONDS, *, starts: bool = True
    ) -> Pod:
        """A pod no controller owns (even if `owner` says otherwise): never recreated. A pod
        with `node_name` is bound there directly, as a static or pre-bound pod would be.
        `starts=False`: its containers never start (an image that cannot be pulled, a volume
        that never mounts): once bound it stays Pending with spec.nodeName set, never Ready,
        as `kubectl get pods` shows ContainerCreating."""
        with self._locked():
            if pod.key in self._pods:
                raise ConflictError(f'pods "{pod.name}" already exists')
            target = pod.node_name
            pod = replace(
                pod,
                uid=pod.uid or self._new_uid(),
                labels=_frozen(pod.labels),
                annotations=_frozen(pod.annotations),
                node_name=None,
                phase=PodPhase.PENDING,
                ready=False,
                deletion_timestamp=None,
                created_at=self._clock.now(),
            )
            self._startup[pod.key] = startup_seconds
            if not starts:
                self._never_start.add(pod.key)
            self._insert(pod)
            if target is not None and target in self._nodes:
                self._bind(pod.key, target)
            return self._pods[pod.key]

    def add_persistent_volume(self, volume: PersistentVolume) -> PersistentVolume:
        """A PersistentVolume, bound to `volume.claim` as the PV controller would have bound it
        (the fake keeps no PersistentVolumeClaim objects: a pod's claim is found through the
        volume's claimRef)."""
        with self._locked():
            if volume.name in self._volumes:
                raise ConflictError(f'persistentvolumes "{volume.name}" already exists')
            self._volumes[volume.name] = volume
            return volume

    def add_pdb(self, pdb: PodDisruptionBudget) -> None:
        """A PodDisruptionBudget; its status fields are ignored and computed from the pods."""
        with self._locked():
            if pdb.key in self._budgets:
                raise ConflictError(f'poddisruptionbudgets "{pdb.name}" already exists')
            budget = _Budget(replace(pdb, created_at=pdb.created_at or self._stamp()))
            self._budgets[pdb.key] = budget
            self._budgets_by_namespace.setdefault(pdb.namespace, []).append(budget)
            for group in self._label_groups.get(pdb.namespace, {}).values():
                if pdb.selector.matches(group.labels):
                    group.budgets.append(budget)
                    budget.groups[id(group)] = group

    def add_hpa(self, hpa: HorizontalPodAutoscaler, recommended: int | None = None) -> None:
        """An HPA whose metrics recommend `recommended` replicas (default: the target's count
        now). Like the real controller, it sets its target to that, within minReplicas and
        maxReplicas, after any change: a replica count set behind its back does not last."""
        with self._locked():
            target = self._controller(WorkloadKind(hpa.target_kind), hpa.namespace, hpa.target_name)
            key = (hpa.namespace, hpa.name)
            self._hpas[key] = (hpa, target.replicas if recommended is None else recommended)
            self._hpa_sync_after(0.0, key)

    def _hpa_sync_after(self, delay: float, key: tuple[str, str]) -> None:
        self._at(self._clock.now() + delay, lambda: self._locked_call(self._hpa_sync, key))

    def _hpa_desired(self, key: tuple[str, str]) -> int:
        hpa, recommended = self._hpas[key]
        return min(max(recommended, hpa.min_replicas), hpa.max_replicas)

    def _hpa_sync(self, key: tuple[str, str]) -> None:
        if key not in self._hpas:
            return
        hpa, _ = self._hpas[key]
        ctrl = self._controllers.get(
            (WorkloadKind(hpa.target_kind), hpa.namespace, hpa.target_name)
        )
        desired = self._hpa_desired(key)
        if ctrl is not None and ctrl.replicas != desired:
            ctrl.scale(desired)
            self._apply(ctrl.sync(self._view()))

    def _hpa_status(self, key: tuple[str, str]) -> HorizontalPodAutoscaler:
        hpa, _ = self._hpas[key]
        ctrl = self._controllers.get(
            (WorkloadKind(hpa.target_kind), hpa.namespace, hpa.target_name)
        )
        current = ctrl.replicas if ctrl is not None else 0
        return replace(hpa, current_replicas=current, desired_replicas=self._hpa_desired(key))

    def add_service(self, service: Service) -> None:
        with self._locked():
            self._services[(service.namespace, service.name)] = replace(
                service,
                selector=_frozen(service.selector),
                created_at=service.created_at or self._stamp(),
            )

    # -- deletions (kubectl delete on the sandbox server) --------------------------------------

    def delete_workload(self, kind: WorkloadKind, namespace: str, name: str) -> None:
        """Background cascading deletion, kubectl's default: the controller goes at once, the
        controllers it owns (a Deployment's ReplicaSets) too, and their pods are deleted
        gracefully by the garbage collector (no PDB is asked)."""
        with self._api("delete", f"{kind.value.lower()}s", namespace, name):
            doomed = [self._controller(kind, namespace, name)]
            for key, ctrl in list(self._controllers.items()):
                owner = ctrl.owner
                if (
                    ctrl.namespace == namespace
                    and owner is not None
                    and (owner.kind, owner.name) == (kind.value, name)
                ):
                    doomed.append(ctrl)
                    del self._controllers[key]
            del self._controllers[(kind, namespace, name)]
            ids = {id(c) for c in doomed}
            for pod_key, owner_ctrl in list(self._owners.items()):
                if id(owner_ctrl) not in ids:
                    continue
                del self._owners[pod_key]
                pod = self._pods.get(pod_key)
                if pod is not None and pod.is_finished:
                    self._remove(pod_key)
                elif pod is not None and pod.deletion_timestamp is None:
                    self._terminate(pod_key, None, cause=None)

    def delete_pdb(self, namespace: str, name: str) -> None:
        with self._api("delete", "poddisruptionbudgets", namespace, name):
            budget = self._budgets.pop(f"{namespace}/{name}", None)
            if budget is None:
                raise NotFoundError(f'poddisruptionbudgets.policy "{name}" not found')
            self._budgets_by_namespace[namespace].remove(budget)
            for group in budget.groups.values():
                group.budgets.remove(budget)

    def delete_service(self, namespace: str, name: str) -> None:
        with self._api("delete", "services", namespace, name):
            if self._services.pop((namespace, name), None) is None:
                raise NotFoundError(f'services "{name}" not found')

    def delete_config_map(self, namespace: str, name: str) -> None:
        with self._api("delete", "configmaps", namespace, name):
            if self._config_maps.pop((namespace, name), None) is None:
                raise NotFoundError(f'configmaps "{name}" not found')

    def list_config_maps(self, namespace: str | None = None) -> list[ConfigMap]:
        with self._lock:
            return sorted(
                (c for c in self._config_maps.values() if namespace in (None, c.namespace)),
                key=lambda c: (c.namespace, c.name),
            )

    def add_ingress(self, ingress: Ingress) -> Ingress:
        with self._locked():
            if (ingress.namespace, ingress.name) in self._ingresses:
                raise ConflictError(f'ingresses "{ingress.name}" already exists')
            return self._store_ingress(replace(ingress, annotations=_frozen(ingress.annotations)))

    def watch_ingresses(self, watcher: IngressWatcher) -> None:
        """Call `watcher` with every Ingress as stored after a change, as an informer would:
        on the clock at the instant of the change, never inside the call that made it."""
        with self._locked():
            self._ingress_watchers.append(watcher)

    def add_http_route(self, route: HTTPRoute, gateway: str = "gateway") -> HTTPRoute:
        """A route attached to one Gateway (`route.parents`, or `namespace/gateway`), whose
        controller accepts each generation at once and resolves refs to known Services."""
        with self._locked():
            if not route.parents:
                route = replace(
                    route,
                    parents=(RouteParentStatus(f"{route.namespace}/{gateway}", True, True, 0),),
                )
            return self._store_http_route(route)

    def record_deprecated_api_request(self, request: DeprecatedApiRequest) -> None:
        """A client used a deprecated API: the metric shows it from now on."""
        with self._locked():
            self._deprecated_requests.append(request)

    def add_helm_release(self, release: HelmRelease) -> None:
        with self._locked():
            self._helm_releases.append(release)

    def mark_namespace_terminating(self, namespace: str) -> None:
        """From now on evictions in the namespace are refused with 403."""
        with self._locked():
            self._terminating_namespaces.add(namespace)

    def finish_pod(self, namespace: str, name: str, phase: PodPhase = PodPhase.SUCCEEDED) -> None:
        """A running pod's containers exit for good (Succeeded or Failed), as a Job's do; its
        requests are released. For worlds with finished pods of any owner."""
        with self._locked():
            pod = self._pod(namespace, name)
            if pod.phase is not PodPhase.RUNNING or pod.deletion_timestamp is not None:
                raise UserError(f"pod {pod.key} is not running")
            if phase not in (PodPhase.SUCCEEDED, PodPhase.FAILED):
                raise UserError(f"a pod finishes as Succeeded or Failed, not {phase.value}")
            self._pods[pod.key] = _evolve(pod, phase=phase, ready=False)
            if pod.node_name is not None:
                self._scheduler.release(pod.node_name, pod.spec.requests)
                self._request_scheduling()
            self._react(self._pods[pod.key], PodEvent.FINISHED)

    def set_pod_ready(self, namespace: str, name: str, ready: bool) -> None:
        """A running pod's readiness probe starts failing (False) or passing again (True)."""
        with self._locked():
            pod = self._pod(namespace, name)
            if pod.phase is not PodPhase.RUNNING or pod.deletion_timestamp is not None:
                raise UserError(f"pod {pod.key} is not running")
            self._pods[pod.key] = replace(pod, ready=ready)
            if ready:
                self._react(self._pods[pod.key], PodEvent.READY)

    # ------------------------------------------------------------------ locking and time

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

    def _http_route(self, namespace: str, name: str) -> HTTPRoute:
        found = self._http_routes.get((namespace, name))
        if found is None:
            raise NotFoundError(f'httproutes "{name}" not found in namespace {namespace}')
        return found

    def _store_http_route(self, route: HTTPRoute) -> HTTPRoute:
        """Store `route` as its Gateway controller would leave it: every parent has observed
        this generation, and ResolvedRefs is False while a backend Service is missing."""
        missing = [
            f"{ref.namespace or route.namespace}/{ref.name}"
            for rule in route.rules
            for ref in (*rule.backend_refs, *(m.backend for m in rule.mirrors))
            if ref.kind == "Service"
            and (ref.namespace or route.namespace, ref.name) not in self._services
        ]
        message = f"Service {', '.join(missing)} not found" if missing else ""
        parents = tuple(
            replace(
                p,
                accepted=True,
                resolved_refs=not missing,
                observed_generation=route.generation,
                message=message,
            )
            for p in route.parents
        )
        stored = replace(route, parents=parents, resource_version=str(next(self._serial)))
        self._http_routes[(route.namespace, route.name)] = stored
        return stored

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

    def _after(self, delay: float, fn: _PodCallback, key: str, uid: str) -> None:
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

    def _request_scheduling(self) -> None:
        if not self._pass_requested and self._unbound:
            self._pass_requested = True
            self._at(self._clock.now(), functools.partial(self._locked_call, self._schedule))

    def _view(self) -> View:
        return View(self._pods, self._nodes, self._clock.now())

    # ------------------------------------------------------------------ lookups

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
            raise NotFoundError(f'{_RESOURCES[kind]} "{name}" not found in namespace {namespace}')
        return ctrl

    def _service(self, namespace: str, name: str) -> Service:
        service = self._services.get((namespace, name))
        if service is None:
            raise NotFoundError(f'services "{name}" not found in namespace {namespace}')
        return service

    def _ingress(self, namespace: str, name: str) -> Ingress:
        ingress = self._ingresses.get((namespace, name))
        if ingress is None:
            raise NotFoundError(f'ingresses "{name}" not found in namespace {namespace}')
        return ingress

    def _store_ingress(self, ingress: Ingress) -> Ingress:
        stored = replace(ingress, resource_version=str(next(self._serial)))
        self._ingresses[(ingress.namespace, ingress.name)] = stored
        for watcher in self._ingress_watchers:
            self._at(self._clock.now(), functools.partial(watcher, stored))
        return stored

    def _lease(self, namespace: str, name: str) -> Lease:
        lease = self._leases.get((namespace, name))
        if lease is None:
            raise NotFoundError(f'leases "{name}" not found in namespace {namespace}')
        return lease

    def _store_lease(self, lease: Lease) -> Lease:
        stored = replace(lease, resource_version=str(next(self._serial)))
        self._leases[(lease.namespace, lease.name)] = stored
        return stored

    def _owner_of(self, pod: Pod) -> Controller | None:
        """The controller that created the pod; None for pods added bare."""
        return self._owners.get(pod.key)

    def _group_members(self, group: str) -> list[str]:
        return sorted(
            name for name, node in self._nodes.items() if node.labels.get(NODEGROUP_LABEL) == group
        )

    def _label_group(self, pod: Pod) -> _LabelGroup:
        groups = self._label_groups.setdefault(pod.namespace, {})
        group = groups.get(id(pod.labels))
        if group is None:
            budgets = [b for b in self._budgets_in(pod.namespace) if budget_covers(b.spec, pod)]
            group = _LabelGroup(pod.labels, budgets, self._owner_of(pod), pod.owner)
            groups[id(pod.labels)] = group
            for budget in budgets:
                budget.groups[id(group)] = group
        return group

    def _covering(self, pod: Pod) -> list[_Budget]:
        """The PDBs that count this pod."""
        return self._label_groups[pod.namespace][id(pod.labels)].budgets

    def _budgets_in(self, namespace: str) -> list[_Budget]:
        return self._budgets_by_namespace.get(namespace, [])

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

    # ------------------------------------------------------------------ PDB status

    def _status(self, budget: _Budget) -> PodDisruptionBudget:
        pods = [self._pods[key] for key in budget.pod_keys()]
        now = self._clock.now()
        if budget.disrupted:
            budget.disrupted = live_disruptions(budget.disrupted, pods, now)
        return pdb_status(
            budget.spec, pods, lambda: self._expected_scale(budget), budget.disrupted, now
        )

    def _expected_scale(self, budget: _Budget) -> int | None:
        """getExpectedScale: the replicas of the pods' controllers, each counted once.
        Pods without an owner are ignored; an owner without a scale (DaemonSet, Job) or that
        cannot be found makes it None."""
        scales: dict[_ControllerKey, int] = {}
        for group in budget.groups.values():
            if group.owned_by is None:
                continue
            ctrl = group.owner
            if isinstance(ctrl, ReplicaSetController) and ctrl.parent is not None:
                ctrl = ctrl.parent
            if not isinstance(
                ctrl, ReplicaSetController | DeploymentController | StatefulSetController
            ):
                return None
            scales[ctrl.key] = ctrl.replicas
        return sum(scales.values())

    def _losing_budgets(self, pod: Pod) -> list[_Budget]:
        """The PDBs whose healthy count drops if this pod goes."""
        if not is_healthy(pod, {}, self._clock.now()):
            return []
        return self._covering(pod)

    def _check_budgets(self, budgets: list[_Budget], pod: Pod, cause: str) -> None:
        for budget in budgets:
            status = self._status(budget)
            if status.current_healthy < status.desired_healthy:
                self._counters.pdb_violations.append(
                    PdbViolation(
                        pdb=status.key,
                        pod=pod.key,
                        at=self._clock.now(),
                        cause=cause,
                        current_healthy=status.current_healthy,
                        desired_healthy=status.desired_healthy,
                    )
                )

    # ------------------------------------------------------------------ pod lifecycle

    def _insert(self, pod: Pod) -> None:
        key = pod.key
        self._pods[key] = pod
        self._pods_by_namespace.setdefault(pod.namespace, {})[key] = None
        self._label_group(pod).pods[key] = None
        self._unbound[key] = None
        if self._fargate is not None and key not in self._pinned:
            node = self._fargate.node_for(pod, self._version, self._clock.now())
            if node is not None:
                # Pinned to a node not there yet: the scheduler leaves it to the provisioning.
                self._pinned[key] = node.name
                self._fargate_nodes[key] = node
                self._after(FARGATE_PROVISION_SECONDS, self._fargate_arrived, key, pod.uid)
                return
        self._request_scheduling()

    def _fargate_arrived(self, key: str, uid: str) -> None:
        """The pod's micro-VM is up: its node joins and the fargate-scheduler binds the pod
        there (it ignores the node's own taint, which keeps every other pod away)."""
        pod = self._pods.get(key)
        node = self._fargate_nodes.get(key)
        if pod is None or pod.uid != uid or node is None or key not in self._unbound:
            return
        self._join(replace(node, created_at=self._clock.now()))
        self._bind(key, node.name)

    def _create(self, new: NewPod) -> None:
        ctrl = self._controllers[(WorkloadKind(new.owner.kind), new.namespace, new.owner.name)]
        name = new.name or self._generate_name(new.namespace, new.generate_name)
        pod = Pod(
            namespace=new.namespace,
            name=name,
            uid=self._new_uid(),
            labels=new.labels,
            annotations=new.annotations or _NO_ANNOTATIONS,
            owner=new.owner,
            spec=new.spec,
            created_at=self._clock.now(),
        )
        ctrl.adopt(pod.key, new)
        self._owners[pod.key] = ctrl
        if new.node is not None:
            self._pinned[pod.key] = new.node
        self._insert(pod)

    def _schedule(self) -> None:
        """One scheduling pass over the unbound pods, oldest first."""
        self._pass_requested = False
        # Within a pass room only shrinks, so a pod shape that found no node once won't later.
        hopeless: set[tuple[object, str | None]] = set()
        for key in list(self._unbound):
            pod = self._pods[key]
            pinned = self._pinned.get(key)
            spec = self._with_volume_affinity(pod) if self._volumes else pod.spec
            shape = (spec, pinned)
            if shape in hopeless:
                continue
            if pinned is None:
                target = self._scheduler.choose(spec)
            else:
                target = pinned if self._scheduler.fits(spec, pinned) else None
            if target is None:
                hopeless.add(shape)
            else:
                self._bind(key, target)

    def _never_starts(self, ctrl: Controller, namespace: str) -> bool:
        """Whether `ctrl`'s pods never start: it, or the Deployment that owns it (a ReplicaSet
        makes a Deployment's pods), was added with `starts=False`."""
        if not self._never_start_workloads:
            return False
        if (ctrl.kind, namespace, ctrl.name) in self._never_start_workloads:
            return True
        owner = ctrl.owner
        return owner is not None and (
            (WorkloadKind.DEPLOYMENT, namespace, owner.name) in self._never_start_workloads
        )

    def _with_volume_affinity(self, pod: Pod) -> PodSpec:
        """The pod's spec with its bound PersistentVolumes' node affinity ANDed into its own:
        the scheduler's VolumeBinding filter refuses nodes a bound volume cannot reach (an EBS
        volume's zone; pkg/scheduler/framework/plugins/volumebinding, checkBoundClaims)."""
        affinity = pod.spec.node_affinity
        for volume in pod.spec.volumes:
            if not volume.persistent_claim:
                continue
            claim = f"{pod.namespace}/{volume.persistent_claim}"
            pv = next((v for v in self._volumes.values() if v.claim == claim), None)
            if pv is None or pv.phase != "Bound" or not pv.node_affinity.terms:
                continue
            mine = affinity.terms or ((),)
            affinity = NodeAffinity(
                tuple(a + b for a in mine for b in pv.node_affinity.terms)  # (A or B) and (C or D)
            )
        if affinity is pod.spec.node_affinity:
            return pod.spec
        return replace(pod.spec, node_affinity=affinity)

    def _bind(self, key: str, node_name: str) -> None:
        pod = self._pods[key]
        self._scheduler.reserve(node_name, pod.spec.requests)
        ctrl = self._owner_of(pod)
        # A bound pod is Pending until its containers start; one that never starts stays so.
        stuck = key in self._never_start or (
            ctrl is not None and self._never_starts(ctrl, pod.namespace)
        )
        phase = PodPhase.PENDING if stuck else PodPhase.RUNNING
        self._pods[key] = _evolve(pod, node_name=node_name, phase=phase)
        self._pods_by_node.setdefault(node_name, {})[key] = None
        del self._unbound[key]
        self._pinned.pop(key, None)
        if stuck:
            return
        startup = ctrl.startup_seconds if ctrl is not None else self._startup[key]
        self._after(startup, self._on_started, key, pod.uid)

    def _on_started(self, key: str, uid: str) -> None:
        pod = self._pods.get(key)
        if pod is None or pod.uid != uid or pod.deletion_timestamp is not None:
            return
        # ready_since is what a real pod's Ready condition says (lastTransitionTime): the drain
        # reads start-up times from it to evict the slowest-starting pods first.
        pod = self._pods[key] = _evolve(pod, ready=True, ready_since=self._clock.now())
        ctrl = self._owner_of(pod)
        if isinstance(ctrl, JobController):
            run = DEFAULT_JOB_RUN_SECONDS if ctrl.run_seconds is None else ctrl.run_seconds
            self._after(run, self._on_finished, key, uid)
        self._react(pod, PodEvent.READY)

    def _on_finished(self, key: str, uid: str) -> None:
        pod = self._pods.get(key)
        if pod is None or pod.uid != uid or pod.deletion_timestamp is not None:
            return
        pod = self._pods[key] = _evolve(pod, phase=PodPhase.SUCCEEDED, ready=False)
        if pod.node_name is not None:
            self._scheduler.release(pod.node_name, pod.spec.requests)
            self._request_scheduling()
        self._react(pod, PodEvent.FINISHED)

    def _terminate(self, key: str, grace_seconds: int | None, cause: str | None) -> None:
        """Delete a pod gracefully: listed as terminating until its grace period is over.
        `cause` marks a voluntary disruption, checked against the PDBs."""
        pod = self._pods[key]
        now = self._clock.now()
        grace = pod.spec.termination_grace_seconds if grace_seconds is None else grace_seconds
        if pod.deletion_timestamp is not None:
            # A second delete can shorten the grace period, never extend it.
            if now + grace < self._gone_at[key]:
                self._gone_at[key] = now + grace
                self._after(grace, self._on_grace_over, key, pod.uid)
            return
        losing = self._losing_budgets(pod) if cause is not None else []
        if pod.node_name is None or pod.is_finished or grace <= 0:
            self._remove(key)  # no kubelet has to stop anything
        else:
            pod = self._pods[key] = _evolve(pod, deletion_timestamp=now, ready=False)
            self._gone_at[key] = now + grace
            self._after(grace, self._on_grace_over, key, pod.uid)
            self._react(pod, PodEvent.TERMINATING)
        if cause is not None:
            self._check_budgets(losing, pod, cause)

    def _on_grace_over(self, key: str, uid: str) -> None:
        pod = self._pods.get(key)
        if pod is not None and pod.uid == uid and self._gone_at[key] <= self._clock.now():
            self._remove(key)

    def _remove(self, key: str) -> Pod:
        """The pod object disappears; its controller may replace it."""
        pod = self._pods.pop(key)
        self._pods_by_namespace[pod.namespace].pop(key, None)
        self._unbound.pop(key, None)
        self._pinned.pop(key, None)
        self._gone_at.pop(key, None)
        self._startup.pop(key, None)
        groups = self._label_groups[pod.namespace]
        group = groups[id(pod.labels)]
        del group.pods[key]
        if not group.pods:
            del groups[id(pod.labels)]
            for budget in group.budgets:
                del budget.groups[id(group)]
        if pod.node_name is not None:
            self._pods_by_node.get(pod.node_name, {}).pop(key, None)
            if not pod.is_finished:
                self._scheduler.release(pod.node_name, pod.spec.requests)
                self._request_scheduling()
        fargate = self._fargate_nodes.pop(key, None)
        if fargate is not None and fargate.name in self._nodes:
            self._remove_node(fargate.name)  # a Fargate node lives and dies with its pod
        ctrl = self._owners.pop(key, None)
        if ctrl is not None:
            ctrl.release(key)
            self._apply(ctrl.react(self._view(), pod, PodEvent.GONE))
        return pod

    def _react(self, pod: Pod, event: PodEvent) -> None:
        ctrl = self._owner_of(pod)
        if ctrl is not None:
            self._apply(ctrl.react(self._view(), pod, event))

    def _apply(self, changes: Changes) -> None:
        for ctrl in changes.new_controllers:
            ctrl.created_at = ctrl.created_at or self._stamp()
            self._controllers[ctrl.key] = ctrl
        for new in changes.create:
            self._create(new)
        for key in changes.delete:
            pod = self._pods.get(key)
            if pod is not None and pod.deletion_timestamp is None:
                self._terminate(key, None, cause=None)

    # ------------------------------------------------------------------ nodes

    def _join(self, node: Node) -> None:
        self._nodes[node.name] = node
        self._scheduler.add_node(node)
        self._pods_by_node.setdefault(node.name, {})
        self._node_changed(node.name)

    def _update_node(self, node: Node) -> Node:
        self._nodes[node.name] = node
        self._scheduler.update_node(node)
        self._node_changed(node.name)
        self._enforce_no_execute(node)
        return node

    def _node_changed(self, name: str) -> None:
        view = self._view()
        for ctrl in list(self._controllers.values()):
            if isinstance(ctrl, DaemonSetController):
                self._apply(ctrl.node_changed(view, name))
        self._request_scheduling()

    def _remove_node(self, name: str) -> None:
        """The node is gone: its pods are force-deleted, and recorded as lost unless they were
        DaemonSet pods, mirror pods (the kubelet owns them; they live and die with their node),
        finished, or already terminating."""
        self._nodes.pop(name)
        self._scheduler.remove_node(name)
        keys = list(self._pods_by_node.pop(name, {}))
        keys += [key for key, node in self._pinned.items() if node == name]
        cause = f"node {name} removed"
        for key in keys:
            pod = self._pods.get(key)
            if pod is None:
                continue
            ctrl = self._owner_of(pod)
            lost = (
                not isinstance(ctrl, DaemonSetController)
                and not pod.is_mirror
                and not pod.is_finished
                and pod.deletion_timestamp is None
            )
            losing = self._losing_budgets(pod) if lost else []
            if lost:
                self._counters.lost_pods.append(key)
            self._remove(key)
            if lost:
                self._check_budgets(losing, pod, cause)
        self._node_changed(name)

    def _nodes_join(self, group_name: str, epoch: int, count: int) -> None:
        with self._locked():
            group = self._node_groups.get(group_name)
            if group is None or group.epoch != epoch:
                return
            joining = min(count, group.joining)
            group.joining -= joining
            for _ in range(joining):
                self._join(self._node_factory.make(group_name, group.template, self._clock.now()))

    def _delete_group_now(self, name: str) -> None:
        for node_name in self._group_members(name):
            self._remove_node(node_name)
        group = self._node_groups.get(name)
        if group is not None and group.joining == 0:
            del self._node_groups[name]

    def _enforce_no_execute(self, node: Node) -> None:
        """The taint manager: pods that do not tolerate a NoExecute taint are deleted (PDBs are
        not asked), at once or after their tolerationSeconds."""
        if not any(t.effect is TaintEffect.NO_EXECUTE for t in node.taints):
            return
        for key in list(self._pods_by_node.get(node.name, {})):
            pod = self._pods[key]
            if pod.deletion_timestamp is not None or pod.is_finished:
                continue
            delay = _no_execute_delay(pod, node.taints)
            if delay == 0:
                self._terminate(key, None, cause=f"NoExecute taint on {node.name}")
            elif delay is not None:
                self._after(delay, self._no_execute_due, key, pod.uid)

    def _no_execute_due(self, key: str, uid: str) -> None:
        pod = self._pods.get(key)
        if pod is None or pod.uid != uid or pod.deletion_timestamp is not None:
            return
        node = self._nodes.get(pod.node_name or "")
        if node is not None and _no_execute_delay(pod, node.taints) is not None:
            self._terminate(key, None, cause=f"NoExecute taint on {node.name}")


def _no_execute_delay(pod: Pod, taints: tuple[Taint, ...]) -> float | None:
    """How long the pod may stay under these NoExecute taints: 0 = evict now, None = forever
    (the taint manager's getMinTolerationTime over the tolerations in use)."""
    no_execute = [t for t in taints if t.effect is TaintEffect.NO_EXECUTE]
    used = set()
    for taint in no_execute:
        matching = [t for t in pod.spec.tolerations if t.tolerates(taint)]
        if not matching:
            return 0.0
        used.update(matching)
    seconds = [t.toleration_seconds for t in used if t.toleration_seconds is not None]
    if not seconds:
        return None
    return float(max(0, min(seconds)))


if TYPE_CHECKING:

    def _implements_the_port(cluster: FakeCluster) -> Cluster:
        """mypy checks here that FakeCluster satisfies the `Cluster` Protocol."""
        return cluster
