"""The fake cluster's workload controllers, as decisions: given the pods, what to create and delete.

A drain's pace is set by these loops: the ReplicaSet replaces an evicted pod at once under a new
name, the StatefulSet only once the old pod is gone and under the same name, a DaemonSet pod
belongs to one node (`daemon_sets`), a Job runs to completion. Each controller reads a `View` of
the world and returns `Changes`; `FakeCluster` applies them, so the rules read apart from the
book-keeping.

Simplifications, on purpose: StatefulSets behave as `podManagementPolicy: Parallel`, Deployments
use the default RollingUpdate (25% surge, 25% unavailable, no minReadySeconds), DaemonSets
RollingUpdate with maxUnavailable 1, Jobs run `parallelism = completions` pods and never fail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from types import MappingProxyType

from upgrader.core.kube import (
    LabelSelector,
    Node,
    OwnerRef,
    Pod,
    PodPhase,
    PodSpec,
    PodTemplate,
    Workload,
    WorkloadKind,
    resolve_int_or_percent,
)

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_LABEL = "controller-revision-hash"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"

# Deployment RollingUpdate defaults.
MAX_SURGE = "25%"
MAX_UNAVAILABLE = "25%"

_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's SafeEncodeString alphabet


def template_hash(template: PodTemplate) -> str:
    """A stable 10-character hash of a pod template, like pod-template-hash."""
    text = repr(
        (sorted(template.labels.items()), sorted(template.annotations.items()), template.spec)
    )
    digest = hashlib.sha256(text.encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:10])


def restarted(template: PodTemplate, now: float) -> PodTemplate:
    """The template `kubectl rollout restart` writes: a new restartedAt annotation."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    annotations = {**template.annotations, RESTARTED_AT_ANNOTATION: stamp}
    return replace(template, annotations=annotations)


def is_active(pod: Pod) -> bool:
    """FilterActivePods: neither being deleted nor finished."""
    return pod.deletion_timestamp is None and not pod.is_finished


class PodEvent(Enum):
    READY = "ready"
    TERMINATING = "terminating"
    GONE = "gone"
    FINISHED = "finished"


@dataclass(frozen=True)
class View:
    """What a controller may look at."""

    pods: Mapping[str, Pod]
    nodes: Mapping[str, Node]
    now: float


@dataclass(frozen=True)
class NewPod:
    """A pod a controller wants; `name` None means generate one from `generate_name`."""

    namespace: str
    generate_name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    owner: OwnerRef
    spec: PodSpec
    name: str | None = None
    node: str | None = None  # a DaemonSet pod is made for one node


@dataclass
class Changes:
    create: list[NewPod] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)  # pod keys
    new_controllers: list[Controller] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.create or self.delete or self.new_controllers)

    def add(self, other: Changes) -> Changes:
        self.create.extend(other.create)
        self.delete.extend(other.delete)
        self.new_controllers.extend(other.new_controllers)
        return self


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """One read-only copy, shared by every pod a controller makes from a template."""
    return MappingProxyType(dict(mapping))


def _deletion_rank(pod: Pod) -> tuple[bool, bool, bool, float]:
    """Which pod a scale-down removes first: unscheduled, then starting, then not Ready, then the
    newest (the order of kube's ActivePodsWithRanks, reduced to the fields we model)."""
    return (
        pod.node_name is not None,
        pod.phase is PodPhase.RUNNING,
        pod.ready,
        -pod.created_at,
    )


class Controller:
    """A workload and the pods it owns; subclasses decide what to create and delete."""

    kind: WorkloadKind

    def __init__(
        self, workload: Workload, startup_seconds: float, run_seconds: float | None = None
    ) -> None:
        self.namespace = workload.namespace
        self.name = workload.name
        self.selector = workload.selector
        self.template = workload.template
        self.replicas = 1 if workload.replicas is None else workload.replicas
        self.labels = _frozen(workload.labels)
        self.annotations = _frozen(workload.annotations)
        self.owner = workload.owner
        self.generation = 1
        self.created_at = workload.created_at
        self.startup_seconds = startup_seconds
        self.run_seconds = run_seconds
        self.pods: dict[str, None] = {}  # keys of the pods it owns, oldest first
        self._refresh()

    def _refresh(self) -> None:
        """Derive, once per template, what new pods are made of (shared by all of them)."""
        self.revision = template_hash(self.template)
        self.pod_labels = _frozen(self.template.labels)
        self.pod_annotations = _frozen(self.template.annotations)
        self.pod_spec = self.template.spec

    @property
    def key(self) -> tuple[WorkloadKind, str, str]:
        return (self.kind, self.namespace, self.name)

    def adopt(self, key: str, new: NewPod) -> None:  # noqa: ARG002 (a hook; DaemonSets use `new`)
        """The cluster created `key` from `new` on this controller's behalf."""
        self.pods[key] = None

    def release(self, key: str) -> None:
        """The pod is gone from the cluster."""
        self.pods.pop(key, None)

    def owned(self, view: View) -> list[Pod]:
        return [view.pods[key] for key in self.pods]

    def active(self, view: View) -> list[Pod]:
        return [pod for pod in self.owned(view) if is_active(pod)]

    def ready_count(self, view: View) -> int:
        return sum(1 for pod in self.active(view) if pod.ready)

    def sync(self, view: View) -> Changes:
        raise NotImplementedError

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:  # noqa: ARG002 (a hook)
        """A pod it owns changed. By default a pod becoming Ready needs no action."""
        if event is PodEvent.READY:
            return Changes()
        return self.sync(view)

    def node_changed(self, view: View, name: str) -> Changes:  # noqa: ARG002 (a hook)
        """A node joined, changed or left; only DaemonSets care."""
        return Changes()

    def scalable(self) -> bool:
        return True

    def restartable(self) -> bool:
        return True

    def scale(self, replicas: int) -> None:
        self.replicas = replicas
        self.generation += 1

    def restart(self, now: float) -> None:
        self.template = restarted(self.template, now)
        self.generation += 1
        self._refresh()

    def status(self, view: View) -> Workload:
        ready = self.ready_count(view)
        return Workload(
            kind=self.kind,
            namespace=self.namespace,
            name=self.name,
            selector=self.selector,
            template=self.template,
            replicas=self.replicas,
            ready_replicas=ready,
            available_replicas=ready,
            owner=self.owner,
            labels=self.labels,
            annotations=self.annotations,
            generation=self.generation,
            observed_generation=self.generation,
            created_at=self.created_at,
        )

    def _new_pod(self, name: str | None = None, node: str | None = None) -> NewPod:
        return NewPod(
            namespace=self.namespace,
            generate_name=f"{self.name}-",
            labels=self.pod_labels,
            annotations=self.pod_annotations,
            owner=OwnerRef(self.kind.value, self.name),
            spec=self.pod_spec,
            name=name,
            node=node,
        )


class ReplicaSetController(Controller):
    kind = WorkloadKind.REPLICA_SET

    def __init__(
        self,
        workload: Workload,
        startup_seconds: float,
        parent: DeploymentController | None = None,
    ) -> None:
        super().__init__(workload, startup_seconds)
        self.parent = parent

    def sync(self, view: View) -> Changes:
        active = self.active(view)
        missing = self.replicas - len(active)
        if missing > 0:
            return Changes(create=[self._new_pod() for _ in range(missing)])
        if missing < 0:
            doomed = sorted(active, key=_deletion_rank)[:-missing]
            return Changes(delete=[pod.key for pod in doomed])
        return Changes()

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:
        if self.parent is not None:
            return self.parent.react(view, pod, event)
        return super().react(view, pod, event)

    def restartable(self) -> bool:
        return False  # kubectl rollout restart supports Deployments, StatefulSets, DaemonSets


class DeploymentController(Controller):
    kind = WorkloadKind.DEPLOYMENT

    def __init__(self, workload: Workload, startup_seconds: float) -> None:
        super().__init__(workload, startup_seconds)
        self.replica_sets: list[ReplicaSetController] = []

    def owned(self, view: View) -> list[Pod]:
        return [pod for rs in self.replica_sets for pod in rs.owned(view)]

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:  # noqa: ARG002
        if event is PodEvent.READY and not self._rolling():
            return Changes()
        return self.sync(view)

    def _rolling(self) -> bool:
        current = f"{self.name}-{self.revision}"
        return any(rs.replicas for rs in self.replica_sets if rs.name != current)

    def sync(self, view: View) -> Changes:
        changes = Changes()
        new = self._current_replica_set(changes)
        olds = [rs for rs in self.replica_sets if rs is not new]
        if any(rs.replicas for rs in olds):
            self._roll(view, new, olds)
        else:
            new.replicas = self.replicas  # no rollout under way: just scale
        for rs in self.replica_sets:
            changes.add(rs.sync(view))
        return changes

    def _current_replica_set(self, changes: Changes) -> ReplicaSetController:
        name = f"{self.name}-{self.revision}"
        for rs in self.replica_sets:
            if rs.name == name:
                return rs
        labels = {**self.template.labels, POD_TEMPLATE_HASH_LABEL: self.revision}
        selector = LabelSelector(
            match_labels={**self.selector.match_labels, POD_TEMPLATE_HASH_LABEL: self.revision},
            match_expressions=self.selector.match_expressions,
        )
        workload = Workload(
            kind=WorkloadKind.REPLICA_SET,
            namespace=self.namespace,
            name=name,
            selector=selector,
            template=replace(self.template, labels=labels),
            replicas=0,
            owner=OwnerRef(WorkloadKind.DEPLOYMENT.value, self.name),
            labels=labels,
        )
        rs = ReplicaSetController(workload, self.startup_seconds, parent=self)
        self.replica_sets.append(rs)
        changes.new_controllers.append(rs)
        return rs

    def _roll(
        self, view: View, new: ReplicaSetController, olds: list[ReplicaSetController]
    ) -> None:
        """One step of the RollingUpdate strategy (reconcileNewReplicaSet/OldReplicaSets)."""
        desired = self.replicas
        surge = resolve_int_or_percent(MAX_SURGE, desired, round_up=True)
        unavailable = resolve_int_or_percent(MAX_UNAVAILABLE, desired, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1  # ResolveFenceposts: a rollout must be able to make progress
        min_available = desired - unavailable

        total = new.replicas + sum(rs.replicas for rs in olds)
        if new.replicas < desired:
            new.replicas = min(desired, new.replicas + max(0, desired + surge - total))
        else:
            new.replicas = desired
        total = new.replicas + sum(rs.replicas for rs in olds)

        # First drop old replicas that are not Ready anyway: that costs no availability.
        new_unavailable = new.replicas - new.ready_count(view)
        cleanup = total - min_available - new_unavailable
        for rs in olds:
            if cleanup <= 0:
                break
            take = max(0, min(rs.replicas - rs.ready_count(view), cleanup))
            rs.replicas -= take
            cleanup -= take

        # Then scale the old ReplicaSets down as far as availability allows.
        budget = new.ready_count(view) + sum(rs.ready_count(view) for rs in olds) - min_available
        for rs in olds:
            if budget <= 0:
                break
            take = min(rs.replicas, budget)
            rs.replicas -= take
            budget -= take

    def status(self, view: View) -> Workload:
        ready = sum(rs.ready_count(view) for rs in self.replica_sets)
        return replace(super().status(view), ready_replicas=ready, available_replicas=ready)


class StatefulSetController(Controller):
    kind = WorkloadKind.STATEFUL_SET

    def _refresh(self) -> None:
        super()._refresh()
        self.pod_labels = _frozen({**self.template.labels, REVISION_LABEL: self._revision_name})

    @property
    def _revision_name(self) -> str:
        return f"{self.name}-{self.revision}"

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:  # noqa: ARG002
        # Readiness matters too: a rolling update moves on when the last pod is Ready.
        return self.sync(view)

    def sync(self, view: View) -> Changes:
        by_name = {pod.name: pod for pod in self.owned(view)}
        changes = Changes()
        for ordinal in range(self.replicas):
            name = f"{self.name}-{ordinal}"
            if name not in by_name:  # the old pod must be gone before its name is reused
                changes.create.append(self._new_pod(name=name))
        for pod in by_name.values():
            if is_active(pod) and _ordinal(pod.name) >= self.replicas:
                changes.delete.append(pod.key)
        if changes.create or changes.delete:
            return changes
        # RollingUpdate: replace the highest outdated ordinal once every pod is Ready.
        pods = [by_name[f"{self.name}-{i}"] for i in range(self.replicas)]
        if all(is_active(pod) and pod.ready for pod in pods):
            outdated = [p for p in pods if p.labels.get(REVISION_LABEL) != self._revision_name]
            if outdated:
                changes.delete.append(outdated[-1].key)
        return changes


def _ordinal(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


class JobController(Controller):
    kind = WorkloadKind.JOB

    def __init__(
        self, workload: Workload, startup_seconds: float, run_seconds: float | None
    ) -> None:
        super().__init__(workload, startup_seconds, run_seconds)
        # Counted as they finish, as the Job's status does: a finished pod lost with its node
        # must not be run again.
        self.succeeded = 0

    def react(self, view: View, pod: Pod, event: PodEvent) -> Changes:
        if event is PodEvent.FINISHED and pod.phase is PodPhase.SUCCEEDED:
            self.succeeded += 1
        return super().react(view, pod, event)

    def sync(self, view: View) -> Changes:
        missing = self.replicas - self.succeeded - len(self.active(view))
        return Changes(create=[self._new_pod() for _ in range(max(0, missing))])

    def scalable(self) -> bool:
        return False

    def restartable(self) -> bool:
        return False
