"""`--surge`: start the replacements on green before the drain, so a PDB lets blue go at once.

A Deployment whose PodDisruptionBudget allows fewer disruptions than it has pods on the blue
nodes is drained in waves (each: evict, wait for the replacement to be Ready, evict again).
With surge, eksup first raises such a Deployment's replicas by just enough for the budget to
cover all of its blue pods (at most by the number of its pods on blue, and at most doubling
it), with every blue node already tainted and cordoned so the extra pods start on green. Once
they are Ready the PDB's budget has grown and the drain evicts the whole blue share at once.
When nothing evictable is left on blue the original replica counts are put back; the scale-down
removes the not-yet-Ready replacements first (the ReplicaSet's deletion ranking), so the
already-Ready surge pods are the replacements.

What surge does not do, on purpose:
- **StatefulSets are never surged**: a StatefulSet's extra ordinals are new identities with
  their own volumes, not interchangeable replacements. They stay budget-bound.
- A PDB whose budget does not grow with the replica count (`maxUnavailable: <integer>`) gains
  nothing from surge; such Deployments are left alone and drained in waves as before.
- **An HPA-managed Deployment is surged through its HPA**: the HPA owns the replica count and
  would scale a raised Deployment back within its sync period, so eksup raises the HPA's
  `minReplicas` to the surged count instead (never beyond `maxReplicas`), and puts the
  original `minReplicas` back after. Deployments annotated `eksup.io/surge: "false"` are
  skipped.
- The total surge is bounded by the free room on the schedulable non-blue nodes, minus what
  the blue pods' replacements will need, so surge pods never crowd out replacements.

The originals are data (`Surged.original`) and are handed to `record(key, value)` *before* any
scale, so an engine can journal them and restore them after a crash (`restore_replicas`).
A restore never overwrites a replica count someone else changed meanwhile; it reports it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from upgrader.core.errors import NotFoundError
from upgrader.core.kube import (
    IntOrPercent,
    Node,
    OwnerKind,
    Pod,
    PodDisruptionBudget,
    Resources,
    TaintEffect,
    WorkloadKind,
    resolve_int_or_percent,
)
from upgrader.core.ports import Clock, Cluster
from upgrader.core.progress import DrainTally
from upgrader.drain.drainer import (
    DEFAULT_STARTUP_SECONDS,
    Drain,
    DrainObserver,
    DrainRefusedError,
    DrainReport,
    DrainSettings,
    preflight_refusals,
)
from upgrader.drain.rules import DrainOptions, Verdict, decide_all
from upgrader.drain.schedule import PdbIndex

SURGE_ANNOTATION = "eksup.io/surge"  # "false" opts a Deployment out
RECORD_PREFIX = "surge/"
HPA_KIND = "HorizontalPodAutoscaler"

Record = Callable[[str, int], None]
_DEFAULT_OPTIONS = DrainOptions()
_DEFAULT_DRAIN = DrainSettings()


@dataclass(frozen=True)
class SurgeSettings:
    max_factor: float = 2.0  # replicas are never raised beyond this multiple of the original
    restore_early: bool = True  # restore once nothing evictable is left on blue


@dataclass(frozen=True)
class Surged:
    """One Deployment raised from `original` to `surged` replicas, or, when an HPA scales it,
    that HPA's minReplicas from `original` to `surged`."""

    namespace: str
    name: str
    original: int
    surged: int
    pdb: str
    on_blue: int
    waves_before: int
    waves_after: int
    hpa: str | None = None

    @property
    def kind(self) -> str:
        """What is raised: the HPA (its minReplicas) or the Deployment (its replicas)."""
        return HPA_KIND if self.hpa is not None else WorkloadKind.DEPLOYMENT.value

    @property
    def key(self) -> str:
        return f"{RECORD_PREFIX}{self.kind}/{self.namespace}/{self.hpa or self.name}"

    def __str__(self) -> str:
        what = f"HPA {self.hpa} minReplicas" if self.hpa is not None else "replicas"
        return f"{self.namespace}/{self.name} {what} {self.original}->{self.surged}"


@dataclass
class SurgePlan:
    surged: list[Surged] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # workload key -> why


@dataclass
class SurgeReport:
    plan: SurgePlan
    drain: DrainReport | None = None
    restored: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # replicas changed by someone else


def _allowed_after(pdb: PodDisruptionBudget, extra: int) -> int:
    """The PDB's disruptions allowed once `extra` more covered pods are Ready."""
    healthy = pdb.current_healthy + extra
    expected = pdb.expected_pods + extra
    if pdb.max_unavailable is not None:
        unavailable = resolve_int_or_percent(pdb.max_unavailable, expected, round_up=True)
        desired = max(0, expected - unavailable)
    elif isinstance(pdb.min_available, int):
        desired = pdb.min_available
    elif pdb.min_available is not None:
        desired = resolve_int_or_percent(pdb.min_available, expected, round_up=True)
    else:
        return healthy
    return max(0, healthy - desired)


def _waves(pods: int, allowed: int) -> int:
    if pods <= 0:
        return 0
    return math.ceil(pods / allowed) if allowed > 0 else 10**9


def _grows(value: IntOrPercent | None) -> bool:
    return value is not None and not isinstance(value, int) and value.strip().endswith("%")


def _green_room(
    cluster: Cluster, blue: set[str], nodes: list[Node], largest: Resources
) -> Resources:
    """Free requests on the nodes new pods can go to (conservatively: untainted ones), each
    node's less one `largest` pod: what packing pods onto nodes may leave unusable."""
    free = Resources()
    for node in nodes:
        if node.name in blue or node.unschedulable or not node.ready:
            continue
        if any(t.effect in (TaintEffect.NO_SCHEDULE, TaintEffect.NO_EXECUTE) for t in node.taints):
            continue
        used = Resources()
        for pod in cluster.list_pods(node_name=node.name):
            if not pod.is_finished:
                used = used + pod.spec.requests + Resources(pods=1)
        free = free + Resources(
            max(0, node.allocatable.cpu_millis - used.cpu_millis - largest.cpu_millis),
            max(0, node.allocatable.memory_bytes - used.memory_bytes - largest.memory_bytes),
            max(0, node.allocatable.pods - used.pods - largest.pods),
        )
    return free


def _largest(pods: Iterable[Pod]) -> Resources:
    cpu = memory = 0
    for pod in pods:
        cpu = max(cpu, pod.spec.requests.cpu_millis)
        memory = max(memory, pod.spec.requests.memory_bytes)
    return Resources(cpu, memory, 1)


def _fits(need: Resources, room: Resources) -> bool:
    return (
        need.cpu_millis <= room.cpu_millis
        and need.memory_bytes <= room.memory_bytes
        and need.pods <= room.pods
    )


def _minus(a: Resources, b: Resources) -> Resources:
    return Resources(a.cpu_millis - b.cpu_millis, a.memory_bytes - b.memory_bytes, a.pods - b.pods)


def plan_surge(
    cluster: Cluster,
    node_names: Iterable[str],
    settings: SurgeSettings = SurgeSettings(),
    options: DrainOptions = _DEFAULT_OPTIONS,
) -> SurgePlan:
    """Which Deployments to raise and by how much, for draining these nodes; reads only."""
    blue = set(node_names)
    plan = SurgePlan()
    pods_on_blue: list[Pod] = []
    for name in sorted(blue):
        pods_on_blue.extend(
            d.pod
            for d in decide_all(cluster.list_pods(node_name=name), options)
            if d.verdict is Verdict.EVICT
        )
    deployment_of: dict[tuple[str, str], str] = {}
    for rs in cluster.list_workloads(WorkloadKind.REPLICA_SET):
        if rs.owner is not None and rs.owner.kind == WorkloadKind.DEPLOYMENT.value:
            deployment_of[(rs.namespace, rs.name)] = rs.owner.name
    index = PdbIndex(cluster.list_pdbs())
    hpas = {
        (h.namespace, h.target_name): h
        for h in cluster.list_hpas()
        if h.target_kind == WorkloadKind.DEPLOYMENT.value
    }
    by_deployment: dict[tuple[str, str], list[Pod]] = defaultdict(list)
    for pod in pods_on_blue:
        if pod.owner is None:
            continue
        if pod.owner.kind == OwnerKind.STATEFUL_SET:
            key = f"{WorkloadKind.STATEFUL_SET.value}/{pod.namespace}/{pod.owner.name}"
            plan.skipped[key] = "StatefulSet: never surged, drained within its PDB"
            continue
        owner = deployment_of.get((pod.namespace, pod.owner.name))
        if pod.owner.kind == OwnerKind.REPLICA_SET and owner is not None:
            by_deployment[(pod.namespace, owner)].append(pod)

    room = _minus(
        _green_room(cluster, blue, cluster.list_nodes(), _largest(pods_on_blue)),
        sum((p.spec.requests + Resources(pods=1) for p in pods_on_blue), Resources()),
    )
    choices: list[tuple[float, Surged, Resources]] = []
    for (namespace, name), pods in sorted(by_deployment.items()):
        key = f"{WorkloadKind.DEPLOYMENT.value}/{namespace}/{name}"
        try:
            workload = cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, name)
        except NotFoundError:
            continue
        reason = _skip_reason(workload.annotations)
        pdbs = {k for p in pods for k in index.covering(p)}
        if reason is None and len(pdbs) != 1:
            reason = "no PDB: nothing to wait for" if not pdbs else "several PDBs"
        if reason is not None:
            plan.skipped[key] = reason
            continue
        (pdb_key,) = pdbs
        pdb = index.by_key[pdb_key]
        replicas = workload.replicas or 0
        before = _waves(len(pods), pdb.disruptions_allowed)
        if before <= 1:
            continue  # one wave already: surge would only cost
        if not (_grows(pdb.max_unavailable) or pdb.min_available is not None):
            plan.skipped[key] = f"PDB {pdb_key} maxUnavailable is absolute: surge adds no budget"
            continue
        hpa = hpas.get((namespace, name))
        cap = min(len(pods), math.floor(replicas * (settings.max_factor - 1)))
        if hpa is not None:
            cap = min(cap, hpa.max_replicas - replicas)
            if cap <= 0:
                plan.skipped[key] = f"HPA {hpa.name} is at its maxReplicas: no room to surge"
                continue
        extra = next(
            (e for e in range(1, cap + 1) if _allowed_after(pdb, e) >= len(pods)),
            cap,
        )
        after = _waves(len(pods), _allowed_after(pdb, extra))
        if extra <= 0 or after >= before:
            plan.skipped[key] = f"PDB {pdb_key}: a surge of at most {cap} saves no wave"
            continue
        startup = max(p.startup_seconds or DEFAULT_STARTUP_SECONDS for p in pods)
        need = Resources(
            pods[0].spec.requests.cpu_millis * extra,
            pods[0].spec.requests.memory_bytes * extra,
            extra,
        )
        surged = Surged(
            namespace, name, replicas, replicas + extra, pdb_key, len(pods), before, after
        )
        if hpa is not None:
            surged = replace(surged, original=hpa.min_replicas, hpa=hpa.name)
        choices.append(((before - after) * startup, surged, need))
    # The most waiting saved first, while the non-blue nodes have room.
    for _, surged, need in sorted(choices, key=lambda o: (-o[0], o[1].key)):
        if _fits(need, room):
            room = _minus(room, need)
            plan.surged.append(surged)
        else:
            plan.skipped[surged.key.removeprefix(RECORD_PREFIX)] = "no room on green"
    return plan


def _skip_reason(annotations: Mapping[str, str]) -> str | None:
    if annotations.get(SURGE_ANNOTATION, "").lower() == "false":
        return f"opted out ({SURGE_ANNOTATION}: false)"
    return None


def apply_surge(
    cluster: Cluster,
    plan: SurgePlan,
    record: Record | None = None,
    into: list[Surged] | None = None,
) -> list[Surged]:
    """Record each original, then scale; returns what was raised (in order). `into`, if
    given, is appended to as each scale succeeds, so a failure half-way can be restored."""
    done: list[Surged] = [] if into is None else into
    for surged in plan.surged:
        if record is not None:
            record(surged.key, surged.original)
        target = surged.hpa or surged.name
        set_surged_value(cluster, surged.kind, surged.namespace, target, surged.surged)
        done.append(surged)
    return done


def restore_replicas(cluster: Cluster, surged: Iterable[Surged]) -> tuple[list[str], list[str]]:
    """Put the original counts back; (restored, conflicts). Idempotent: a Deployment already
    at its original count is left alone; one at neither count was changed by someone else and
    is reported, not overwritten."""
    restored: list[str] = []
    conflicts: list[str] = []
    for s in surged:
        target = s.hpa or s.name
        current = surged_value(cluster, s.kind, s.namespace, target)
        if current is None:
            continue
        if current == s.surged:
            set_surged_value(cluster, s.kind, s.namespace, target, s.original)
            restored.append(s.key)
        elif current != s.original:
            conflicts.append(
                f"{s.key}: {surged_field(s.kind)} {current}, expected {s.surged}; "
                f"original {s.original} not restored"
            )
    return restored, conflicts


def surged_field(kind: str) -> str:
    return "minReplicas" if kind == HPA_KIND else "replicas"


def surged_value(cluster: Cluster, kind: str, namespace: str, name: str) -> int | None:
    """What surge raises, read now: an HPA's minReplicas or a Deployment's replicas; None when
    the object is gone."""
    if kind == HPA_KIND:
        found = [h for h in cluster.list_hpas(namespace) if h.name == name]
        return found[0].min_replicas if found else None
    try:
        return cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, name).replicas
    except NotFoundError:
        return None


def set_surged_value(cluster: Cluster, kind: str, namespace: str, name: str, value: int) -> None:
    if kind == HPA_KIND:
        cluster.set_hpa_min_replicas(namespace, name, value)
    else:
        cluster.scale_workload(WorkloadKind.DEPLOYMENT, namespace, name, value)


class _RestoreWhenEmpty:
    """A DrainObserver that restores the counts once nothing evictable is left on blue."""

    def __init__(self, owner: SurgedDrain, inner: DrainObserver | None) -> None:
        self.owner = owner
        self.inner = inner

    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: dict[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None:
        if pods_left == 0:
            self.owner.restore()
        if self.inner is not None:
            self.inner.drain_progress(nodes, pods_left, evicted, waiting, tally=tally)


class SurgedDrain:
    """`Drain` with surge around it: taint and cordon, surge, drain, restore.

    `Drain` itself is unchanged; this is opt-in. The counts are restored when nothing
    evictable is left on blue (`restore_early`) and in any case when the drain ends, also when
    it fails (a refused or timed-out drain leaves the replica counts as they were).
    """

    def __init__(
        self,
        cluster: Cluster,
        clock: Clock,
        list_nodes: Callable[[], list[Node]],
        settings: DrainSettings = _DEFAULT_DRAIN,
        *,
        observer: DrainObserver | None = None,
        record: Record | None = None,
        surge: SurgeSettings = SurgeSettings(),
    ) -> None:
        self.cluster = cluster
        self.clock = clock
        self.list_nodes = list_nodes
        self.settings = settings
        self.observer = observer
        self.record = record
        self.surge = surge
        self.report = SurgeReport(SurgePlan())
        self._applied: list[Surged] = []

    def run(self) -> SurgeReport:
        nodes = self.list_nodes()
        names = [n.name for n in nodes]
        refused = preflight_refusals(
            self.cluster, names, self.settings.options, self.settings.pod_selector, self.clock.now()
        )
        if refused:
            raise DrainRefusedError(refused)
        # Blue must take no new pod before the surge, or the surge would land on blue.
        taint = self.settings.taint
        for node in nodes:
            if taint is not None and taint not in node.taints:
                self.cluster.add_taint(node.name, taint)
            if not node.unschedulable:
                self.cluster.set_unschedulable(node.name, True)
        self.report.plan = plan_surge(self.cluster, names, self.surge, self.settings.options)
        observer: DrainObserver | None = self.observer
        if self.surge.restore_early:
            observer = _RestoreWhenEmpty(self, self.observer)
        drain = Drain(self.cluster, self.clock, self.list_nodes, self.settings, observer)
        try:
            apply_surge(self.cluster, self.report.plan, self.record, into=self._applied)
            self.report.drain = drain.run()
        finally:
            self.restore()
        return self.report

    def restore(self) -> None:
        if not self._applied:
            return
        restored, conflicts = restore_replicas(self.cluster, self._applied)
        self.report.restored.extend(restored)
        self.report.conflicts.extend(conflicts)
        self._applied = []
