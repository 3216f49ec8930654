"""Pods: their spec as the scheduler and the drain read it, their owners, and the
PersistentVolumes that pin them to a zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from upgrader.core.kube.scheduling import LabelSelector, NodeAffinity, Resources, Toleration

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


class OwnerKind(StrEnum):
    REPLICA_SET = "ReplicaSet"
    STATEFUL_SET = "StatefulSet"
    DAEMON_SET = "DaemonSet"
    JOB = "Job"
    DEPLOYMENT = "Deployment"
    OTHER = "Other"


@dataclass(frozen=True)
class OwnerRef:
    kind: str
    name: str
    controller: bool = True


class PodPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class Volume:
    """A pod volume; only the facts a drain decides on."""

    name: str
    empty_dir: bool = False
    host_path: bool = False
    persistent_claim: str | None = None


@dataclass(frozen=True)
class TopologySpread:
    """A topologySpreadConstraint, as far as placement needs it: with DoNotSchedule, a node
    without the topology key's label is not eligible, and a domain may not exceed the least
    loaded one by more than `max_skew` (the scheduler's PodTopologySpread; see
    upgrader/core/spread.py). The defaults are the API's: a missing minDomains is 1, a missing
    nodeAffinityPolicy is Honor, a missing nodeTaintsPolicy is Ignore; a null labelSelector
    (None) matches no pod."""

    topology_key: str
    max_skew: int = 1
    when_unsatisfiable: str = "DoNotSchedule"  # or ScheduleAnyway
    label_selector: LabelSelector | None = None
    min_domains: int = 1
    node_affinity_policy: str = "Honor"  # or Ignore
    node_taints_policy: str = "Ignore"  # or Honor
    match_label_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSpec:
    """The scheduling-relevant part of a pod, shared by pods and workload templates."""

    requests: Resources = Resources()
    tolerations: tuple[Toleration, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    node_affinity: NodeAffinity = NodeAffinity()
    volumes: tuple[Volume, ...] = ()
    termination_grace_seconds: int = 30
    has_readiness_probe: bool = True
    priority_class: str = ""
    topology_spread: tuple[TopologySpread, ...] = ()

    def __hash__(self) -> int:
        return hash((self.requests, self.tolerations, tuple(sorted(self.node_selector.items()))))


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    uid: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    owner: OwnerRef | None = None
    node_name: str | None = None
    phase: PodPhase = PodPhase.PENDING
    ready: bool = False
    deletion_timestamp: float | None = None
    spec: PodSpec = PodSpec()
    restart_count: int = 0
    created_at: float = 0.0
    # When the Ready condition last turned true; with created_at it tells how long this pod
    # took to start, the best estimate of how long its replacement will take.
    ready_since: float | None = None
    # When its containers started (containerStatuses[].state.running.startedAt): phase Running.
    started_at: float | None = None
    # While no node takes it: kube-scheduler's message on PodScheduled=False, reason
    # Unschedulable ("0/3 nodes are available: 3 Insufficient cpu. preemption: ...").
    unschedulable: str | None = None

    @cached_property
    def key(self) -> str:
        # Cached: a plan of a big cluster asks each pod's key several times per check.
        return f"{self.namespace}/{self.name}"

    @property
    def startup_seconds(self) -> float | None:
        if self.ready_since is None:
            return None
        return max(0.0, self.ready_since - self.created_at)

    @property
    def is_terminating(self) -> bool:
        return self.deletion_timestamp is not None

    @property
    def is_finished(self) -> bool:
        return self.phase in (PodPhase.SUCCEEDED, PodPhase.FAILED)

    @property
    def is_mirror(self) -> bool:
        return MIRROR_POD_ANNOTATION in self.annotations


@dataclass(frozen=True)
class PersistentVolume:
    """A PersistentVolume, as far as placement needs it: the claim it is bound to and the
    nodes it can be used from (spec.nodeAffinity.required; an EBS volume names its zone)."""

    name: str
    claim: str | None = None  # "namespace/name" of spec.claimRef while the volume is Bound
    node_affinity: NodeAffinity = NodeAffinity()
    driver: str = ""  # spec.csi.driver ("ebs.csi.aws.com"); "" for in-tree volumes
    phase: str = "Bound"
