"""Workloads (the pod controllers), and what bounds their disruption and their size: the
PodDisruptionBudget and the HorizontalPodAutoscaler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from upgrader.core.kube.pods import OwnerRef, PodSpec
from upgrader.core.kube.scheduling import LabelSelector


class WorkloadKind(StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFUL_SET = "StatefulSet"
    DAEMON_SET = "DaemonSet"
    REPLICA_SET = "ReplicaSet"
    JOB = "Job"


@dataclass(frozen=True)
class PodTemplate:
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: PodSpec = PodSpec()


@dataclass(frozen=True)
class Workload:
    """A pod controller. `replicas` is desired (None for DaemonSets); `ready_replicas` observed."""

    kind: WorkloadKind
    namespace: str
    name: str
    selector: LabelSelector
    template: PodTemplate
    replicas: int | None = None
    ready_replicas: int = 0
    available_replicas: int = 0
    owner: OwnerRef | None = None  # a ReplicaSet's Deployment, a Job's CronJob
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    generation: int = 1
    observed_generation: int = 1
    created_at: float = 0.0  # metadata.creationTimestamp; 0 when the source does not say

    @property
    def key(self) -> str:
        return f"{self.kind.value}/{self.namespace}/{self.name}"


IntOrPercent = int | str  # 2 or "25%", as in the PDB and rolling-update fields


def resolve_int_or_percent(value: IntOrPercent, total: int, *, round_up: bool) -> int:
    """Kubernetes' GetScaledValueFromIntOrPercent: percentages scale by `total`."""
    if isinstance(value, int):
        return value
    text = value.strip()
    if not text.endswith("%"):
        return int(text)
    scaled = int(text[:-1]) * total
    return -(-scaled // 100) if round_up else scaled // 100


@dataclass(frozen=True)
class PodDisruptionBudget:
    namespace: str
    name: str
    selector: LabelSelector
    min_available: IntOrPercent | None = None
    max_unavailable: IntOrPercent | None = None
    unhealthy_pod_eviction_policy: str = "IfHealthyBudget"  # or "AlwaysAllow"
    # status, as the disruption controller last computed it
    current_healthy: int = 0
    desired_healthy: int = 0
    disruptions_allowed: int = 0
    expected_pods: int = 0
    # status.disruptedPods: pods the Eviction API admitted and the controller has not yet seen
    # go (eviction.go checkAndDecrement adds them; disruption.go buildDisruptedPodMap drops them)
    disrupted_pods: tuple[str, ...] = ()
    created_at: float = 0.0  # metadata.creationTimestamp; 0 when the source does not say

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class HorizontalPodAutoscaler:
    """An autoscaling/v2 HPA: what it scales and its bounds; it owns the target's replicas."""

    namespace: str
    name: str
    target_kind: str  # "Deployment", "StatefulSet", ...
    target_name: str
    min_replicas: int
    max_replicas: int
    current_replicas: int = 0
    desired_replicas: int = 0

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"
