"""Kubernetes objects as eksup sees them.

Plain, immutable values that cross the `Cluster` port. They carry only the fields the upgrader
and the rollout strategies decide on; adapters translate SDK objects to these and back, so no
kubernetes-client object ever reaches the planner, the drain or a check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
KARPENTER_NODEPOOL_LABEL = "karpenter.sh/nodepool"
FARGATE_COMPUTE_LABEL = "eks.amazonaws.com/compute-type"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


@dataclass(frozen=True)
class Taint:
    key: str
    effect: TaintEffect
    value: str = ""

    def __str__(self) -> str:
        value = f"={self.value}" if self.value else ""
        return f"{self.key}{value}:{self.effect.value}"


@dataclass(frozen=True)
class Toleration:
    """A pod's toleration. `operator` is "Equal" or "Exists"; Exists with no key tolerates all."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: TaintEffect | None = None
    toleration_seconds: int | None = None

    def tolerates(self, taint: Taint) -> bool:
        if self.effect is not None and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return self.key in ("", taint.key)
        return self.key == taint.key and self.value == taint.value


def tolerates_all(tolerations: tuple[Toleration, ...], taints: tuple[Taint, ...]) -> bool:
    """True when every NoSchedule/NoExecute taint is tolerated (PreferNoSchedule never blocks)."""
    return all(
        taint.effect is TaintEffect.PREFER_NO_SCHEDULE
        or any(t.tolerates(taint) for t in tolerations)
        for taint in taints
    )


@dataclass(frozen=True)
class Resources:
    """Requests or allocatable: CPU in millicores, memory in bytes, and a pod count."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis + other.cpu_millis,
            self.memory_bytes + other.memory_bytes,
            self.pods + other.pods,
        )

    def __sub__(self, other: Resources) -> Resources:
        return Resources(
            self.cpu_millis - other.cpu_millis,
            self.memory_bytes - other.memory_bytes,
            self.pods - other.pods,
        )

    def fits_in(self, room: Resources) -> bool:
        return (
            self.cpu_millis <= room.cpu_millis
            and self.memory_bytes <= room.memory_bytes
            and self.pods <= room.pods
        )


_MEMORY_SUFFIXES = {
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)$")


def parse_cpu(quantity: str | int | float) -> int:
    """Kubernetes CPU quantity ("250m", "2", "0.5") to millicores."""
    text = str(quantity).strip()
    if text.endswith("m"):
        return int(float(text[:-1]))
    if text.endswith("n"):
        return int(float(text[:-1]) / 1_000_000)
    return int(float(text) * 1000)


def parse_memory(quantity: str | int | float) -> int:
    """Kubernetes memory quantity ("128Mi", "1G", "1e9") to bytes."""
    text = str(quantity).strip()
    match = _QUANTITY.match(text)
    if match is None:
        return int(float(text))
    number, suffix = match.groups()
    if suffix == "m":  # millibytes: legal, odd, and seen in the wild
        return int(float(number) / 1000)
    return int(float(number) * _MEMORY_SUFFIXES.get(suffix, 1))


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist (Gt/Lt for node affinity)
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator in ("Gt", "Lt") and present and self.values:
            try:
                actual, bound = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return actual > bound if self.operator == "Gt" else actual < bound
        return False


@dataclass(frozen=True)
class LabelSelector:
    """matchLabels plus matchExpressions; the empty selector matches everything."""

    match_labels: Mapping[str, str] = field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels.items()) and all(
            r.matches(labels) for r in self.match_expressions
        )

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def __str__(self) -> str:
        parts = [f"{k}={v}" for k, v in sorted(self.match_labels.items())]
        for r in self.match_expressions:
            if r.operator in ("In", "NotIn"):
                parts.append(f"{r.key} {r.operator.lower()} ({','.join(r.values)})")
            elif r.operator == "Exists":
                parts.append(r.key)
            elif r.operator == "DoesNotExist":
                parts.append(f"!{r.key}")
        return ",".join(parts)

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.match_labels.items())), self.match_expressions))


# A null PDB selector: policy/v1 says it selects no pod (an empty one, `{}`, selects them all).
# `In` with no values matches nothing, and a server would reject it, so it cannot be mistaken
# for a selector someone wrote.
MATCH_NOTHING = LabelSelector(match_expressions=(SelectorRequirement("", "In", ()),))


@dataclass(frozen=True)
class NodeAffinity:
    """Required node affinity: the node must match at least one term (terms are ORed)."""

    terms: tuple[tuple[SelectorRequirement, ...], ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.terms or any(all(r.matches(labels) for r in term) for term in self.terms)


@dataclass(frozen=True)
class Node:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    ready: bool = True
    kubelet_version: str = ""  # "v1.29.3-eks-ae9a62a", as the kubelet reports it
    allocatable: Resources = Resources()
    created_at: float = 0.0
    provider_id: str = ""

    @property
    def nodegroup(self) -> str | None:
        return self.labels.get(NODEGROUP_LABEL)

    @property
    def minor_version(self) -> str:
        """ "1.29" from "v1.29.3-eks-ae9a62a"; empty when the kubelet version is unknown."""
        match = re.match(r"v?(\d+)\.(\d+)", self.kubelet_version)
        return f"{match.group(1)}.{match.group(2)}" if match else ""


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
class ServicePort:
    """One entry of a Service's spec.ports (keyed by port and protocol, as the API merges them)."""

    port: int
    protocol: str = "TCP"
    target_port: str = ""  # a number or a container port's name, as text; "" = the port
    name: str = ""
    node_port: int = 0  # NodePort and LoadBalancer Services; 0 for none

    def __post_init__(self) -> None:
        # The API server defaults targetPort to the port (SetDefaults_ServicePort): one value,
        # however the port was made.
        if not self.target_port:
            object.__setattr__(self, "target_port", str(self.port))


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    selector: Mapping[str, str] = field(default_factory=dict)
    type: str = "ClusterIP"
    annotations: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0  # metadata.creationTimestamp; 0 when the source does not say
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str = ""  # spec.clusterIP: "" when not yet allocated or unread, "None" headless


ALB_ACTIONS_ANNOTATION_PREFIX = "alb.ingress.kubernetes.io/actions."
# Extra conditions (an http-header match, say) the LBC adds to the rule of the path whose
# backend is Service <name>, port use-annotation: a JSON list in conditions.<name>.
ALB_CONDITIONS_ANNOTATION_PREFIX = "alb.ingress.kubernetes.io/conditions."
# The backend port name that tells the AWS Load Balancer Controller to build the rule's action
# from the actions.<service name> annotation instead of from a real Service.
USE_ANNOTATION_PORT = "use-annotation"


@dataclass(frozen=True)
class IngressBackend:
    """One path of an Ingress rule and the Service (and port) it sends to."""

    service: str
    port: str  # a port number as text, or a port name
    host: str = ""
    path: str = ""


@dataclass(frozen=True)
class Ingress:
    """A networking.k8s.io/v1 Ingress: its annotations and the backends its rules name."""

    namespace: str
    name: str
    annotations: Mapping[str, str] = field(default_factory=dict)
    ingress_class: str = ""
    backends: tuple[IngressBackend, ...] = ()
    resource_version: str = ""

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


@dataclass(frozen=True)
class Lease:
    """A coordination.k8s.io/v1 Lease, used as the per-cluster execution lock."""

    namespace: str
    name: str
    holder: str
    acquired_at: float
    renewed_at: float
    duration_seconds: int
    resource_version: str = ""

    def expired(self, now: float) -> bool:
        return now > self.renewed_at + self.duration_seconds


@dataclass(frozen=True)
class ConfigMap:
    namespace: str
    name: str
    data: Mapping[str, str] = field(default_factory=dict)
    resource_version: str = ""
    created_at: float = 0.0  # metadata.creationTimestamp; 0 when the source does not say


@dataclass(frozen=True)
class DeprecatedApiRequest:
    """One series of the API server's `apiserver_requested_deprecated_apis` metric: a client
    asked for a deprecated group/version/resource since the API server started."""

    group: str  # "" for the core group
    version: str
    resource: str
    subresource: str = ""
    removed_release: str = ""  # "1.25", when the API server knows it

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True)
class HelmRelease:
    """The deployed revision of a Helm release and the manifest Helm applied for it."""

    namespace: str
    name: str
    revision: int
    manifest: str


# -- Karpenter v1 (karpenter.sh/v1 NodePool and NodeClaim, karpenter.k8s.aws/v1 EC2NodeClass)

KARPENTER_NODECLASS_LABEL = "karpenter.k8s.aws/ec2nodeclass"
KARPENTER_DISRUPTED_TAINT = Taint("karpenter.sh/disrupted", TaintEffect.NO_SCHEDULE)
DRIFTED = "Drifted"  # a NodeClaim condition, and a disruption budget's reason


@dataclass(frozen=True)
class AmiSelectorTerm:
    """One entry of an EC2NodeClass's `spec.amiSelectorTerms`: an alias ("al2023@v20241011",
    "al2023@latest") or an id, or a name/owner/tags filter."""

    alias: str = ""
    id: str = ""
    name: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        raw: dict[str, object] = {
            k: v for k, v in (("alias", self.alias), ("id", self.id), ("name", self.name)) if v
        }
        if self.owner:
            raw["owner"] = self.owner
        if self.tags:
            raw["tags"] = dict(self.tags)
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> AmiSelectorTerm:
        tags = raw.get("tags")
        return cls(
            alias=str(raw.get("alias") or ""),
            id=str(raw.get("id") or ""),
            name=str(raw.get("name") or ""),
            owner=str(raw.get("owner") or ""),
            tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        )


@dataclass(frozen=True)
class NodeClass:
    """An EC2NodeClass: how its nodes launch. `amis` is `status.amis`, the ids the selector
    resolves to now (for an alias: at the control plane's Kubernetes version)."""

    name: str
    ami_selector_terms: tuple[AmiSelectorTerm, ...] = ()
    ami_family: str = ""  # spec.amiFamily ("AL2023", "AL2", "Bottlerocket"); "" with an alias
    amis: tuple[str, ...] = ()

    @property
    def alias(self) -> str:
        return next((t.alias for t in self.ami_selector_terms if t.alias), "")


@dataclass(frozen=True)
class DisruptionBudget:
    """A NodePool's `spec.disruption.budgets` entry: at most `nodes` ("10%" or "3") nodes
    disrupted at once, for `reasons` (empty: every reason) while `schedule` is active."""

    nodes: str = "10%"
    reasons: tuple[str, ...] = ()
    schedule: str = ""
    duration: str = ""

    def allowed(self, total: int) -> int:
        """Nodes this budget lets be disrupting at once out of `total` (a percentage rounds
        up, as Karpenter computes it)."""
        text = self.nodes.strip()
        if text.endswith("%"):
            percent = int(text[:-1])
            return -(-total * percent // 100)
        return int(text)


@dataclass(frozen=True)
class NodePool:
    name: str
    node_class: str  # spec.template.spec.nodeClassRef.name
    budgets: tuple[DisruptionBudget, ...] = (DisruptionBudget(),)

    def drift_budget(self, total: int) -> int:
        """The most restrictive budget that applies to drift (Karpenter's default: 10%)."""
        applying = [b for b in self.budgets if not b.reasons or DRIFTED in b.reasons]
        if not self.budgets:
            applying = [DisruptionBudget()]
        if not applying:
            return total  # budgets that name other reasons only leave drift unbounded
        return min(b.allowed(total) for b in applying)


@dataclass(frozen=True)
class NodeClaim:
    """A Karpenter NodeClaim: one machine of a NodePool, and the node it registered."""

    name: str
    node_pool: str
    node_class: str
    node_name: str = ""  # status.nodeName; "" until it registered
    image_id: str = ""  # status.imageID
    ready: bool = False
    drifted: bool = False
    deleting: bool = False  # metadata.deletionTimestamp is set: Karpenter is draining it


# Gateway API (gateway.networking.k8s.io/v1) -----------------------------------------------------


@dataclass(frozen=True)
class BackendRef:
    """Where an HTTPRoute rule forwards (or mirrors) to: a Service and its port, by default."""

    name: str
    port: int | None = None
    namespace: str | None = None  # None: the route's own namespace
    weight: int = 1  # ignored on a mirror's backend
    kind: str = "Service"
    group: str = ""  # "" is the core group
    # Filters on the backend itself, kept as the API returned them.
    filters: tuple[Mapping[str, object], ...] = ()

    def same_target(self, other: BackendRef) -> bool:
        """The same object and port, whatever the weight."""
        return (self.name, self.port, self.namespace, self.kind, self.group) == (
            other.name,
            other.port,
            other.namespace,
            other.kind,
            other.group,
        )


@dataclass(frozen=True)
class RequestMirror:
    """A RequestMirror filter: a copy of `percent`% of the rule's requests goes to `backend`;
    the gateway drops the copy's answers."""

    backend: BackendRef
    percent: int = 100


@dataclass(frozen=True)
class HTTPRouteRule:
    backend_refs: tuple[BackendRef, ...] = ()
    mirrors: tuple[RequestMirror, ...] = ()
    # What eksup never changes, kept as the API returned it: the rule's matches, its other
    # filters (in order, mirrors after them) and the remaining fields (name, timeouts, ...).
    matches: tuple[Mapping[str, object], ...] = ()
    other_filters: tuple[Mapping[str, object], ...] = ()
    extra: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteParentStatus:
    """What one parent Gateway's controller says about the route (`status.parents[]`)."""

    parent: str  # namespace/name of the Gateway
    accepted: bool
    resolved_refs: bool
    observed_generation: int
    message: str = ""


@dataclass(frozen=True)
class HTTPRoute:
    namespace: str
    name: str
    rules: tuple[HTTPRouteRule, ...] = ()
    generation: int = 1
    resource_version: str = ""
    parents: tuple[RouteParentStatus, ...] = ()
