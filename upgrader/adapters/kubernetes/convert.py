"""Pure conversions between kubernetes-client models and eksup's `upgrader.core.kube` values.

Kept apart from the API calls so that every rule here (how a pod's requests add up, which owner
reference counts, what a null PDB selector means) is tested on real client model objects without
a server, and so that a client upgrade that renames a field breaks one module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from upgrader.core.kube import (
    MATCH_NOTHING,
    ConfigMap,
    HorizontalPodAutoscaler,
    Ingress,
    IngressBackend,
    LabelSelector,
    Lease,
    Node,
    NodeAffinity,
    OwnerRef,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    PodTemplate,
    Resources,
    SelectorRequirement,
    Service,
    ServicePort,
    Taint,
    TaintEffect,
    Toleration,
    TopologySpread,
    Volume,
    Workload,
    WorkloadKind,
    parse_cpu,
    parse_memory,
)

if TYPE_CHECKING:
    from kubernetes.client import (
        V1ConfigMap,
        V1Container,
        V1DaemonSet,
        V1Deployment,
        V1Ingress,
        V1IngressBackend,
        V1Job,
        V1LabelSelector,
        V1Lease,
        V1Node,
        V1NodeSelectorRequirement,
        V1ObjectMeta,
        V1OwnerReference,
        V1Pod,
        V1PodDisruptionBudget,
        V1PodSpec,
        V1PodTemplateSpec,
        V1ReplicaSet,
        V1Service,
        V1ServicePort,
        V1StatefulSet,
        V1Taint,
        V1Toleration,
        V1Volume,
        V2HorizontalPodAutoscaler,
    )

_DEFAULT_GRACE_SECONDS = 30  # the API server's default terminationGracePeriodSeconds


def epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _meta(metadata: V1ObjectMeta | None) -> V1ObjectMeta:
    from kubernetes.client import V1ObjectMeta  # models load on first use

    return metadata if metadata is not None else V1ObjectMeta()


# selectors, taints, tolerations ---------------------------------------------------------------


def label_selector(
    selector: V1LabelSelector | None, *, null_matches_nothing: bool = False
) -> LabelSelector:
    if selector is None:
        return MATCH_NOTHING if null_matches_nothing else LabelSelector()
    return LabelSelector(
        match_labels=dict(selector.match_labels or {}),
        match_expressions=tuple(
            SelectorRequirement(r.key, r.operator, tuple(r.values or ()))
            for r in selector.match_expressions or ()
        ),
    )


def taint(source: V1Taint) -> Taint:
    return Taint(key=source.key, effect=TaintEffect(source.effect), value=source.value or "")


def taint_to_wire(source: V1Taint) -> dict[str, str]:
    """A taint as the JSON a node patch carries; the whole list is sent back, so each taint
    keeps its timeAdded (NoExecute tolerationSeconds count from it)."""
    wire = {"key": source.key, "effect": source.effect}
    if source.value:
        wire["value"] = source.value
    if source.time_added is not None:
        wire["timeAdded"] = source.time_added.isoformat()
    return wire


def toleration(source: V1Toleration) -> Toleration:
    return Toleration(
        key=source.key or "",
        operator=source.operator or "Equal",
        value=source.value or "",
        effect=TaintEffect(source.effect) if source.effect else None,
        toleration_seconds=source.toleration_seconds,
    )


def _requirements(
    requirements: Iterable[V1NodeSelectorRequirement] | None,
) -> tuple[SelectorRequirement, ...]:
    return tuple(
        SelectorRequirement(r.key, r.operator, tuple(r.values or ())) for r in requirements or ()
    )


def node_affinity(spec: V1PodSpec) -> NodeAffinity:
    """The required node-selector terms (ORed), each the AND of its label expressions.

    matchFields is left out: its only field is metadata.name, which the DaemonSet controller
    sets to pin a pod to its node, and a drain never reschedules DaemonSet pods.
    """
    affinity = spec.affinity.node_affinity if spec.affinity is not None else None
    required = (
        affinity.required_during_scheduling_ignored_during_execution
        if affinity is not None
        else None
    )
    if required is None:
        return NodeAffinity()
    return NodeAffinity(
        terms=tuple(_requirements(term.match_expressions) for term in required.node_selector_terms)
    )


# pods ---------------------------------------------------------------------------------------


def _requests(requests: Mapping[str, str] | None) -> Resources:
    requests = requests or {}
    return Resources(
        cpu_millis=parse_cpu(requests["cpu"]) if "cpu" in requests else 0,
        memory_bytes=parse_memory(requests["memory"]) if "memory" in requests else 0,
    )


def _container_requests(container: V1Container) -> Resources:
    return _requests(container.resources.requests if container.resources is not None else None)


def _peak(a: Resources, b: Resources) -> Resources:
    return Resources(max(a.cpu_millis, b.cpu_millis), max(a.memory_bytes, b.memory_bytes), 0)


def pod_requests(spec: V1PodSpec) -> Resources:
    """What the scheduler reserves for the pod: kube-scheduler's effective request.

    Restartable init containers (sidecars) run beside the app containers and add to them; each
    other init container runs alone after the sidecars before it, so only the peak counts.
    Pod-level requests, when set, replace the containers' sum; overhead always adds. One pod slot.
    """
    sidecars = Resources()
    init_peak = Resources()
    for container in spec.init_containers or ():
        requests = _container_requests(container)
        if container.restart_policy == "Always":
            sidecars = sidecars + requests
            init_peak = _peak(init_peak, sidecars)
        else:
            init_peak = _peak(init_peak, sidecars + requests)
    app = sum((_container_requests(c) for c in spec.containers), Resources()) + sidecars
    total = _peak(app, init_peak)
    if spec.resources is not None and spec.resources.requests:
        pod_level = _requests(spec.resources.requests)
        total = Resources(
            pod_level.cpu_millis or total.cpu_millis,
            pod_level.memory_bytes or total.memory_bytes,
        )
    return total + _requests(spec.overhead) + Resources(pods=1)


def volume(source: V1Volume) -> Volume:
    claim = source.persistent_volume_claim
    return Volume(
        name=source.name,
        empty_dir=source.empty_dir is not None,
        host_path=source.host_path is not None,
        persistent_claim=claim.claim_name if claim is not None else None,
    )


def pod_spec(spec: V1PodSpec | None) -> PodSpec:
    if spec is None:
        return PodSpec()
    grace = spec.termination_grace_period_seconds
    return PodSpec(
        requests=pod_requests(spec),
        tolerations=tuple(toleration(t) for t in spec.tolerations or ()),
        node_selector=dict(spec.node_selector or {}),
        node_affinity=node_affinity(spec),
        volumes=tuple(volume(v) for v in spec.volumes or ()),
        termination_grace_seconds=grace if grace is not None else _DEFAULT_GRACE_SECONDS,
        has_readiness_probe=any(c.readiness_probe is not None for c in spec.containers),
        priority_class=spec.priority_class_name or "",
        topology_spread=tuple(
            TopologySpread(
                c.topology_key,
                c.max_skew,
                c.when_unsatisfiable,
                label_selector=label_selector(c.label_selector)
                if c.label_selector is not None
                else None,
                min_domains=c.min_domains or 1,
                node_affinity_policy=c.node_affinity_policy or "Honor",
                node_taints_policy=c.node_taints_policy or "Ignore",
                match_label_keys=tuple(c.match_label_keys or ()),
            )
            for c in spec.topology_spread_constraints or ()
        ),
    )


def owner(references: Iterable[V1OwnerReference] | None) -> OwnerRef | None:
    """The controlling owner; failing that, the first owner (marked as not controlling).

    Only a `controller: true` reference makes a pod managed for kubectl drain.
    """
    references = list(references or ())
    for ref in references:
        if ref.controller:
            return OwnerRef(kind=ref.kind, name=ref.name, controller=True)
    if references:
        return OwnerRef(kind=references[0].kind, name=references[0].name, controller=False)
    return None


def _phase(phase: str | None) -> PodPhase:
    try:
        return PodPhase(phase or PodPhase.PENDING.value)
    except ValueError:
        # "Unknown" (node unreachable): neither running nor finished, so treat it as pending.
        return PodPhase.PENDING


def pod(source: V1Pod) -> Pod:
    from kubernetes.client import V1PodStatus  # models load on first use

    meta = _meta(source.metadata)
    status = source.status if source.status is not None else V1PodStatus()
    ready_condition = next((c for c in status.conditions or () if c.type == "Ready"), None)
    ready = ready_condition is not None and ready_condition.status == "True"
    ready_since = (
        ready_condition.last_transition_time if ready and ready_condition is not None else None
    )
    return Pod(
        namespace=meta.namespace or "",
        name=meta.name or "",
        uid=meta.uid or "",
        labels=dict(meta.labels or {}),
        annotations=dict(meta.annotations or {}),
        owner=owner(meta.owner_references),
        node_name=source.spec.node_name if source.spec is not None else None,
        phase=_phase(status.phase),
        ready=ready,
        deletion_timestamp=(
            epoch(meta.deletion_timestamp) if meta.deletion_timestamp is not None else None
        ),
        spec=pod_spec(source.spec),
        restart_count=sum(c.restart_count for c in status.container_statuses or ()),
        created_at=epoch(meta.creation_timestamp),
        ready_since=epoch(ready_since) if ready_since is not None else None,
    )


# nodes --------------------------------------------------------------------------------------


def node(source: V1Node) -> Node:
    meta = _meta(source.metadata)
    spec, status = source.spec, source.status
    allocatable = (status.allocatable if status is not None else None) or {}
    conditions = (status.conditions if status is not None else None) or []
    info = status.node_info if status is not None else None
    return Node(
        name=meta.name or "",
        labels=dict(meta.labels or {}),
        taints=tuple(taint(t) for t in (spec.taints if spec is not None else None) or ()),
        unschedulable=bool(spec.unschedulable) if spec is not None else False,
        ready=any(c.type == "Ready" and c.status == "True" for c in conditions),
        kubelet_version=info.kubelet_version if info is not None else "",
        allocatable=Resources(
            cpu_millis=parse_cpu(allocatable["cpu"]) if "cpu" in allocatable else 0,
            memory_bytes=parse_memory(allocatable["memory"]) if "memory" in allocatable else 0,
            pods=int(allocatable.get("pods", "0")),
        ),
        created_at=epoch(meta.creation_timestamp),
        provider_id=(spec.provider_id if spec is not None else None) or "",
    )


# disruption budgets and services --------------------------------------------------------------


def pod_disruption_budget(source: V1PodDisruptionBudget) -> PodDisruptionBudget:
    meta = _meta(source.metadata)
    spec, status = source.spec, source.status
    return PodDisruptionBudget(
        namespace=meta.namespace or "",
        name=meta.name or "",
        selector=label_selector(
            spec.selector if spec is not None else None, null_matches_nothing=True
        ),
        min_available=spec.min_available if spec is not None else None,
        max_unavailable=spec.max_unavailable if spec is not None else None,
        unhealthy_pod_eviction_policy=(
            (spec.unhealthy_pod_eviction_policy if spec is not None else None) or "IfHealthyBudget"
        ),
        current_healthy=(status.current_healthy or 0) if status is not None else 0,
        desired_healthy=(status.desired_healthy or 0) if status is not None else 0,
        disruptions_allowed=(status.disruptions_allowed or 0) if status is not None else 0,
        expected_pods=(status.expected_pods or 0) if status is not None else 0,
        created_at=epoch(meta.creation_timestamp),
    )


def service(source: V1Service) -> Service:
    meta = _meta(source.metadata)
    spec = source.spec
    return Service(
        namespace=meta.namespace or "",
        name=meta.name or "",
        selector=dict((spec.selector if spec is not None else None) or {}),
        type=(spec.type if spec is not None else None) or "ClusterIP",
        annotations=dict(meta.annotations or {}),
        created_at=epoch(meta.creation_timestamp),
        ports=tuple(_service_port(p) for p in (spec.ports if spec is not None else None) or ()),
        cluster_ip=(spec.cluster_ip if spec is not None else None) or "",
    )


def _service_port(source: V1ServicePort) -> ServicePort:
    target = source.target_port
    return ServicePort(
        port=source.port,
        protocol=source.protocol or "TCP",
        target_port=str(target) if target not in (None, "", 0) else str(source.port),
        name=source.name or "",
        node_port=source.node_port or 0,
    )


def _backend(
    source: V1IngressBackend | None, host: str = "", path: str = ""
) -> IngressBackend | None:
    service = source.service if source is not None else None
    if service is None:
        return None  # a resource backend: not a Service, nothing eksup routes through
    port = service.port
    number = port.number if port is not None else None
    name = (port.name if port is not None else None) or ""
    return IngressBackend(
        service=service.name or "",
        port=str(number) if number is not None else name,
        host=host,
        path=path,
    )


def ingress(source: V1Ingress) -> Ingress:
    meta = _meta(source.metadata)
    spec = source.spec
    backends: list[IngressBackend | None] = []
    if spec is not None:
        backends.append(_backend(spec.default_backend))
        for rule in spec.rules or ():
            paths = rule.http.paths if rule.http is not None else None
            for path in paths or ():
                backends.append(_backend(path.backend, rule.host or "", path.path or ""))
    return Ingress(
        namespace=meta.namespace or "",
        name=meta.name or "",
        annotations=dict(meta.annotations or {}),
        ingress_class=(spec.ingress_class_name if spec is not None else None) or "",
        backends=tuple(b for b in backends if b is not None),
        resource_version=meta.resource_version or "",
    )


# workloads ----------------------------------------------------------------------------------


def pod_template(template: V1PodTemplateSpec | None) -> PodTemplate:
    if template is None:
        return PodTemplate()
    meta = _meta(template.metadata)
    return PodTemplate(
        labels=dict(meta.labels or {}),
        annotations=dict(meta.annotations or {}),
        spec=pod_spec(template.spec),
    )


def _workload(
    kind: WorkloadKind,
    meta: V1ObjectMeta | None,
    selector: V1LabelSelector | None,
    template: V1PodTemplateSpec | None,
    *,
    replicas: int | None,
    ready: int | None,
    available: int | None,
    observed_generation: int | None,
) -> Workload:
    meta = _meta(meta)
    generation = meta.generation or 1
    return Workload(
        kind=kind,
        namespace=meta.namespace or "",
        name=meta.name or "",
        selector=label_selector(selector),
        template=pod_template(template),
        replicas=replicas,
        ready_replicas=ready or 0,
        available_replicas=available or 0,
        owner=owner(meta.owner_references),
        labels=dict(meta.labels or {}),
        annotations=dict(meta.annotations or {}),
        generation=generation,
        created_at=epoch(meta.creation_timestamp),
        # Not observed yet: one behind, so "has the controller caught up?" reads false.
        observed_generation=(
            observed_generation if observed_generation is not None else generation - 1
        ),
    )


def _replicas(replicas: int | None) -> int:
    return replicas if replicas is not None else 1  # the API server's default


def _replicated(
    kind: WorkloadKind, source: V1Deployment | V1StatefulSet | V1ReplicaSet
) -> Workload:
    """Deployments, StatefulSets and ReplicaSets share the fields eksup reads."""
    spec, status = source.spec, source.status
    return _workload(
        kind,
        source.metadata,
        spec.selector if spec is not None else None,
        spec.template if spec is not None else None,
        replicas=_replicas(spec.replicas if spec is not None else None),
        ready=status.ready_replicas if status is not None else None,
        available=status.available_replicas if status is not None else None,
        observed_generation=status.observed_generation if status is not None else None,
    )


def deployment(source: V1Deployment) -> Workload:
    return _replicated(WorkloadKind.DEPLOYMENT, source)


def stateful_set(source: V1StatefulSet) -> Workload:
    return _replicated(WorkloadKind.STATEFUL_SET, source)


def replica_set(source: V1ReplicaSet) -> Workload:
    return _replicated(WorkloadKind.REPLICA_SET, source)


def daemon_set(source: V1DaemonSet) -> Workload:
    spec, status = source.spec, source.status
    return _workload(
        WorkloadKind.DAEMON_SET,
        source.metadata,
        spec.selector if spec is not None else None,
        spec.template if spec is not None else None,
        replicas=None,
        ready=status.number_ready if status is not None else None,
        available=status.number_available if status is not None else None,
        observed_generation=status.observed_generation if status is not None else None,
    )


def job(source: V1Job) -> Workload:
    """A Job's `replicas` is its parallelism; Jobs have no observedGeneration."""
    spec, status = source.spec, source.status
    generation = _meta(source.metadata).generation or 1
    ready = status.ready if status is not None else None
    return _workload(
        WorkloadKind.JOB,
        source.metadata,
        spec.selector if spec is not None else None,
        spec.template if spec is not None else None,
        replicas=_replicas(spec.parallelism if spec is not None else None),
        ready=ready,
        available=ready,
        observed_generation=generation,
    )


# leases and config maps ---------------------------------------------------------------------


def lease(source: V1Lease) -> Lease:
    from kubernetes.client import V1LeaseSpec  # models load on first use

    meta = _meta(source.metadata)
    spec = source.spec if source.spec is not None else V1LeaseSpec()
    return Lease(
        namespace=meta.namespace or "",
        name=meta.name or "",
        holder=spec.holder_identity or "",
        acquired_at=epoch(spec.acquire_time),
        renewed_at=epoch(spec.renew_time),
        duration_seconds=spec.lease_duration_seconds or 0,
        resource_version=meta.resource_version or "",
    )


def lease_to_k8s(value: Lease) -> V1Lease:
    from kubernetes.client import V1Lease, V1LeaseSpec, V1ObjectMeta  # models load on first use

    return V1Lease(
        metadata=V1ObjectMeta(
            name=value.name,
            namespace=value.namespace,
            resource_version=value.resource_version or None,
        ),
        spec=V1LeaseSpec(
            holder_identity=value.holder,
            acquire_time=from_epoch(value.acquired_at),
            renew_time=from_epoch(value.renewed_at),
            lease_duration_seconds=value.duration_seconds,
        ),
    )


def config_map(source: V1ConfigMap) -> ConfigMap:
    meta = _meta(source.metadata)
    return ConfigMap(
        namespace=meta.namespace or "",
        name=meta.name or "",
        data=dict(source.data or {}),
        resource_version=meta.resource_version or "",
        created_at=epoch(meta.creation_timestamp),
    )


def config_map_to_k8s(value: ConfigMap) -> V1ConfigMap:
    from kubernetes.client import V1ConfigMap, V1ObjectMeta  # models load on first use

    return V1ConfigMap(
        metadata=V1ObjectMeta(
            name=value.name,
            namespace=value.namespace,
            resource_version=value.resource_version or None,
        ),
        data=dict(value.data),
    )


# errors -------------------------------------------------------------------------------------

_PDB_IN_MESSAGE = re.compile(r"disruption budget ([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)")


def pdb_names(*messages: str) -> tuple[str, ...]:
    """PDB names the Eviction API quotes ("The disruption budget web-pdb needs ..."), in order."""
    names: list[str] = []
    for message in messages:
        for name in _PDB_IN_MESSAGE.findall(message):
            if name not in names:
                names.append(name)
    return tuple(names)


def horizontal_pod_autoscaler(source: V2HorizontalPodAutoscaler) -> HorizontalPodAutoscaler:
    meta = _meta(source.metadata)
    spec, status = source.spec, source.status
    target = spec.scale_target_ref if spec is not None else None
    return HorizontalPodAutoscaler(
        namespace=meta.namespace or "",
        name=meta.name or "",
        target_kind=(target.kind if target is not None else None) or "",
        target_name=(target.name if target is not None else None) or "",
        # minReplicas defaults to 1 when the HPA leaves it out.
        min_replicas=(spec.min_replicas if spec is not None else None) or 1,
        max_replicas=(spec.max_replicas if spec is not None else None) or 0,
        current_replicas=(status.current_replicas or 0) if status is not None else 0,
        desired_replicas=(status.desired_replicas or 0) if status is not None else 0,
    )
