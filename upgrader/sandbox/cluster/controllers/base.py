"""What every workload controller shares: the `View` it reads, the `Changes` it returns, and the
`Controller` base class with its hooks (sync, react, node_changed, scale, restart, status).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from types import MappingProxyType

from upgrader.core.kube import (
    Node,
    OwnerRef,
    Pod,
    PodPhase,
    PodSpec,
    PodTemplate,
    Workload,
    WorkloadKind,
)

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_LABEL = "controller-revision-hash"
RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"

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


def frozen_copy(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """One read-only copy, shared by every pod a controller makes from a template."""
    return MappingProxyType(dict(mapping))


def deletion_rank(pod: Pod) -> tuple[bool, bool, bool, float]:
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
        self.labels = frozen_copy(workload.labels)
        self.annotations = frozen_copy(workload.annotations)
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
        self.pod_labels = frozen_copy(self.template.labels)
        self.pod_annotations = frozen_copy(self.template.annotations)
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
