"""Pods and nodes, and what places one on the other: selectors, taints, tolerations, node
affinity, requests and volumes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from upgrader.adapters.kubernetes.convert.meta import epoch, object_meta
from upgrader.core.kube import (
    MATCH_NOTHING,
    LabelSelector,
    Node,
    NodeAffinity,
    OwnerRef,
    Pod,
    PodPhase,
    PodSpec,
    Resources,
    SelectorRequirement,
    Taint,
    TaintEffect,
    Toleration,
    TopologySpread,
    Volume,
    parse_cpu,
    parse_memory,
)

if TYPE_CHECKING:
    from kubernetes.client import (
        V1Container,
        V1ContainerStatus,
        V1LabelSelector,
        V1Node,
        V1NodeSelectorRequirement,
        V1OwnerReference,
        V1Pod,
        V1PodSpec,
        V1Taint,
        V1Toleration,
        V1Volume,
    )


_DEFAULT_GRACE_SECONDS = 30  # the API server's default terminationGracePeriodSeconds

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

    meta = object_meta(source.metadata)
    status = source.status if source.status is not None else V1PodStatus()
    ready_condition = next((c for c in status.conditions or () if c.type == "Ready"), None)
    ready = ready_condition is not None and ready_condition.status == "True"
    ready_since = (
        ready_condition.last_transition_time if ready and ready_condition is not None else None
    )
    scheduled = next((c for c in status.conditions or () if c.type == "PodScheduled"), None)
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
        # kube-scheduler's message while it finds no node
        unschedulable=(
            scheduled.message or ""
            if scheduled is not None and scheduled.reason == "Unschedulable"
            else None
        ),
        started_at=_started_at(status.container_statuses or ()),
    )


def _started_at(statuses: Iterable[V1ContainerStatus]) -> float | None:
    """When the first container started running (state.running.startedAt), if one runs."""
    times = [
        epoch(c.state.running.started_at)
        for c in statuses
        if c.state is not None
        and c.state.running is not None
        and c.state.running.started_at is not None
    ]
    return min(times) if times else None


# nodes --------------------------------------------------------------------------------------


def node(source: V1Node) -> Node:
    meta = object_meta(source.metadata)
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
