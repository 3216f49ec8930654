"""Kubernetes objects straight from their JSON (the wire form) into eksup's values
(`upgrader.core.kube`): the adapter's one decoder.

Every read decodes the JSON the API server sent, never the kubernetes client's model classes:
bulk lists page by page (`pages`), single reads and the answers to writes whole
(`ClusterApi._json`), and the sandbox server its request bodies. Building a model per object and
then converting it cost about 1.4 ms and several kilobytes of short-lived objects per pod, which
for 150,000 pods is minutes and gigabytes; decoding the JSON page and converting each dict at
once keeps one page alive at a time. `encode` is the inverse.

Missing fields take the API server's defaults. Services, Ingresses and HPAs live in
`wire_traffic`, Leases, ConfigMaps and Secrets in `wire_records`; both are re-exported here.
Pod lists arrive projected to the fields read here (`projection`): a field `pod` starts to read
must be added there too (the wire tests run every case through the projection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import msgspec

from upgrader.adapters.kubernetes import wire_fields, wire_records, wire_traffic
from upgrader.adapters.kubernetes.wire_fields import EMPTY as _EMPTY
from upgrader.adapters.kubernetes.wire_fields import Json
from upgrader.adapters.kubernetes.wire_fields import items as _list
from upgrader.adapters.kubernetes.wire_fields import mapping as _map
from upgrader.adapters.kubernetes.wire_fields import strings as _strings
from upgrader.core.kube import (
    MATCH_NOTHING,
    LabelSelector,
    Node,
    NodeAffinity,
    OwnerRef,
    PersistentVolume,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    PodTemplate,
    Resources,
    SelectorRequirement,
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

# `wire.X` names every decoder, and `wire.epoch` reads timestamps as they all do.
epoch = wire_fields.epoch
service = wire_traffic.service
service_port = wire_traffic.service_port
ingress = wire_traffic.ingress
horizontal_pod_autoscaler = wire_traffic.horizontal_pod_autoscaler
lease = wire_records.lease
config_map = wire_records.config_map
secret_data = wire_records.secret_data

_DEFAULT_GRACE_SECONDS = 30  # the API server's default terminationGracePeriodSeconds


# selectors, taints, tolerations ----------------------------------------------------------------


def label_selector(selector: Json | None, *, null_matches_nothing: bool = False) -> LabelSelector:
    if selector is None:
        return MATCH_NOTHING if null_matches_nothing else LabelSelector()
    return LabelSelector(
        match_labels=_strings(selector.get("matchLabels")),
        match_expressions=_requirements(selector.get("matchExpressions")),
    )


def _requirements(requirements: Iterable[Json] | None) -> tuple[SelectorRequirement, ...]:
    return tuple(
        SelectorRequirement(r["key"], r["operator"], tuple(r.get("values") or ()))
        for r in requirements or ()
    )


def taint(source: Json) -> Taint:
    return Taint(
        key=source["key"], effect=TaintEffect(source["effect"]), value=source.get("value") or ""
    )


def toleration(source: Json) -> Toleration:
    effect = source.get("effect")
    return Toleration(
        key=source.get("key") or "",
        operator=source.get("operator") or "Equal",
        value=source.get("value") or "",
        effect=TaintEffect(effect) if effect else None,
        toleration_seconds=source.get("tolerationSeconds"),
    )


def node_affinity(spec: Json) -> NodeAffinity:
    """The required node-selector terms (ORed), each the AND of its label expressions.

    matchFields is left out: its only field is metadata.name, which the DaemonSet controller
    sets to pin a pod to its node, and a drain never reschedules DaemonSet pods.
    """
    required = _map(
        _map(_map(spec, "affinity"), "nodeAffinity"),
        "requiredDuringSchedulingIgnoredDuringExecution",
    )
    if not required:
        return NodeAffinity()
    return NodeAffinity(
        terms=tuple(
            _requirements(term.get("matchExpressions"))
            for term in _list(required, "nodeSelectorTerms")
        )
    )


# pods -------------------------------------------------------------------------------------------


def _requests(requests: Json | None) -> Resources:
    requests = requests or _EMPTY
    return Resources(
        cpu_millis=parse_cpu(requests["cpu"]) if "cpu" in requests else 0,
        memory_bytes=parse_memory(requests["memory"]) if "memory" in requests else 0,
    )


def _container_requests(container: Json) -> Resources:
    return _requests(_map(_map(container, "resources"), "requests"))


def _peak(a: Resources, b: Resources) -> Resources:
    return Resources(max(a.cpu_millis, b.cpu_millis), max(a.memory_bytes, b.memory_bytes), 0)


def pod_requests(spec: Json) -> Resources:
    """What the scheduler reserves for the pod: kube-scheduler's effective request.

    Restartable init containers (sidecars) run beside the app containers and add to them; each
    other init container runs alone after the sidecars before it, so only the peak counts.
    Pod-level requests, when set, replace the containers' sum; overhead always adds. One pod slot.
    """
    sidecars = Resources()
    init_peak = Resources()
    for container in _list(spec, "initContainers"):
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            sidecars = sidecars + requests
            init_peak = _peak(init_peak, sidecars)
        else:
            init_peak = _peak(init_peak, sidecars + requests)
    app = sum((_container_requests(c) for c in _list(spec, "containers")), Resources()) + sidecars
    total = _peak(app, init_peak)
    pod_level = _map(_map(spec, "resources"), "requests")
    if pod_level:
        level = _requests(pod_level)
        total = Resources(
            level.cpu_millis or total.cpu_millis, level.memory_bytes or total.memory_bytes
        )
    return total + _requests(_map(spec, "overhead")) + Resources(pods=1)


def volume(source: Json) -> Volume:
    claim = source.get("persistentVolumeClaim")
    return Volume(
        name=source["name"],
        empty_dir=source.get("emptyDir") is not None,
        host_path=source.get("hostPath") is not None,
        persistent_claim=claim.get("claimName") if claim is not None else None,
    )


def pod_spec(spec: Json | None) -> PodSpec:
    if spec is None:
        return PodSpec()
    grace = spec.get("terminationGracePeriodSeconds")
    return PodSpec(
        requests=pod_requests(spec),
        tolerations=tuple(toleration(t) for t in _list(spec, "tolerations")),
        node_selector=_strings(spec.get("nodeSelector")),
        node_affinity=node_affinity(spec),
        volumes=tuple(volume(v) for v in _list(spec, "volumes")),
        termination_grace_seconds=grace if grace is not None else _DEFAULT_GRACE_SECONDS,
        has_readiness_probe=any(
            c.get("readinessProbe") is not None for c in _list(spec, "containers")
        ),
        priority_class=spec.get("priorityClassName") or "",
        topology_spread=tuple(topology_spread(c) for c in _list(spec, "topologySpreadConstraints")),
    )


# Converted pod specs by their JSON without nodeName; cleared when full (rollouts add templates).
_SPECS: dict[bytes, PodSpec] = {}
_SPECS_KEPT = 4096
_ENCODE = msgspec.json.Encoder().encode


def shared_pod_spec(spec: Json | None) -> PodSpec:
    """`pod_spec`, converted once per distinct spec and shared (PodSpec is frozen).

    The pods of one template have equal specs but for nodeName, which `pod_spec` does not read:
    on a 150,000-pod list this saves most of the conversion's CPU and the memory of as many
    equal PodSpecs."""
    if spec is None:
        return PodSpec()
    try:
        key = _ENCODE({k: v for k, v in spec.items() if k != "nodeName"})
    except (TypeError, ValueError):  # not plain JSON values: no key, convert it alone
        return pod_spec(spec)
    found = _SPECS.get(key)
    if found is None:
        if len(_SPECS) >= _SPECS_KEPT:
            _SPECS.clear()
        found = _SPECS[key] = pod_spec(spec)
    return found


def topology_spread(source: Json) -> TopologySpread:
    """The API's defaults for what is missing: minDomains 1, nodeAffinityPolicy Honor,
    nodeTaintsPolicy Ignore; a missing labelSelector is null (it matches no pod)."""
    selector = source.get("labelSelector")
    return TopologySpread(
        source["topologyKey"],
        source["maxSkew"],
        source["whenUnsatisfiable"],
        label_selector=label_selector(selector) if selector is not None else None,
        min_domains=source.get("minDomains") or 1,
        node_affinity_policy=source.get("nodeAffinityPolicy") or "Honor",
        node_taints_policy=source.get("nodeTaintsPolicy") or "Ignore",
        match_label_keys=tuple(source.get("matchLabelKeys") or ()),
    )


def persistent_volume(source: Json) -> PersistentVolume:
    """A PersistentVolume: its bound claim (spec.claimRef) and required node affinity."""
    spec = _map(source, "spec")
    ref = _map(spec, "claimRef")
    required = _map(_map(spec, "nodeAffinity"), "required")
    return PersistentVolume(
        name=_map(source, "metadata")["name"],
        claim=f"{ref['namespace']}/{ref['name']}" if ref.get("name") else None,
        node_affinity=NodeAffinity(
            terms=tuple(
                _requirements(term.get("matchExpressions"))
                for term in _list(required, "nodeSelectorTerms")
            )
        ),
        driver=_map(spec, "csi").get("driver") or "",
        phase=_map(source, "status").get("phase") or "Pending",
    )


def owner(references: Iterable[Json]) -> OwnerRef | None:
    """The controlling owner; failing that, the first owner (marked as not controlling)."""
    references = list(references)
    for ref in references:
        if ref.get("controller"):
            return OwnerRef(kind=ref["kind"], name=ref["name"], controller=True)
    if references:
        return OwnerRef(kind=references[0]["kind"], name=references[0]["name"], controller=False)
    return None


def _phase(phase: str | None) -> PodPhase:
    try:
        return PodPhase(phase or PodPhase.PENDING.value)
    except ValueError:
        return PodPhase.PENDING  # "Unknown": neither running nor finished


def pod(source: Json) -> Pod:
    meta, spec, status = _map(source, "metadata"), source.get("spec"), _map(source, "status")
    conditions = _list(status, "conditions")
    ready_condition = next((c for c in conditions if c.get("type") == "Ready"), None)
    ready = ready_condition is not None and ready_condition.get("status") == "True"
    ready_since = ready_condition.get("lastTransitionTime") if ready and ready_condition else None
    deleted = meta.get("deletionTimestamp")
    scheduled = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
    return Pod(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        uid=meta.get("uid") or "",
        labels=_strings(meta.get("labels")),
        annotations=_strings(meta.get("annotations")),
        owner=owner(_list(meta, "ownerReferences")),
        node_name=spec.get("nodeName") if spec is not None else None,
        phase=_phase(status.get("phase")),
        ready=ready,
        deletion_timestamp=epoch(deleted) if deleted is not None else None,
        spec=shared_pod_spec(spec),
        restart_count=sum(c.get("restartCount", 0) for c in _list(status, "containerStatuses")),
        created_at=epoch(meta.get("creationTimestamp")),
        ready_since=epoch(ready_since) if ready_since is not None else None,
        unschedulable=_unschedulable(scheduled),
        started_at=_started_at(_list(status, "containerStatuses")),
    )


def _started_at(statuses: list[Json]) -> float | None:
    """When the first container started running (state.running.startedAt), if one runs."""
    times = [
        epoch(started)
        for c in statuses
        if (started := _map(_map(c, "state"), "running").get("startedAt")) is not None
    ]
    return min(times) if times else None


def _unschedulable(scheduled: Json | None) -> str | None:
    """kube-scheduler's message while it finds no node (PodScheduled False, Unschedulable)."""
    if scheduled is None or scheduled.get("reason") != "Unschedulable":
        return None
    return str(scheduled.get("message") or "")


# nodes ------------------------------------------------------------------------------------------


def node(source: Json) -> Node:
    meta, spec, status = _map(source, "metadata"), _map(source, "spec"), _map(source, "status")
    allocatable = _map(status, "allocatable")
    return Node(
        name=meta.get("name") or "",
        labels=_strings(meta.get("labels")),
        taints=tuple(taint(t) for t in _list(spec, "taints")),
        unschedulable=bool(spec.get("unschedulable")),
        ready=any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in _list(status, "conditions")
        ),
        kubelet_version=_map(status, "nodeInfo").get("kubeletVersion") or "",
        allocatable=Resources(
            cpu_millis=parse_cpu(allocatable["cpu"]) if "cpu" in allocatable else 0,
            memory_bytes=parse_memory(allocatable["memory"]) if "memory" in allocatable else 0,
            pods=int(allocatable.get("pods", "0")),
        ),
        created_at=epoch(meta.get("creationTimestamp")),
        provider_id=spec.get("providerID") or "",
    )


# disruption budgets ----------------------------------------------------------------------


def pod_disruption_budget(source: Json) -> PodDisruptionBudget:
    meta, spec, status = _map(source, "metadata"), _map(source, "spec"), _map(source, "status")
    return PodDisruptionBudget(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        # policy/v1: a null selector selects nothing, an empty one every pod of the namespace.
        selector=label_selector(spec.get("selector"), null_matches_nothing=True),
        min_available=spec.get("minAvailable"),
        max_unavailable=spec.get("maxUnavailable"),
        unhealthy_pod_eviction_policy=spec.get("unhealthyPodEvictionPolicy") or "IfHealthyBudget",
        current_healthy=status.get("currentHealthy") or 0,
        desired_healthy=status.get("desiredHealthy") or 0,
        disruptions_allowed=status.get("disruptionsAllowed") or 0,
        expected_pods=status.get("expectedPods") or 0,
        created_at=epoch(meta.get("creationTimestamp")),
    )


# workloads --------------------------------------------------------------------------------------


def pod_template(template: Json | None) -> PodTemplate:
    if template is None:
        return PodTemplate()
    meta = _map(template, "metadata")
    return PodTemplate(
        labels=_strings(meta.get("labels")),
        annotations=_strings(meta.get("annotations")),
        spec=pod_spec(template.get("spec")),
    )


def _workload(
    kind: WorkloadKind,
    source: Json,
    *,
    replicas: int | None,
    ready: int | None,
    available: int | None,
    observed_generation: int | None,
) -> Workload:
    meta, spec = _map(source, "metadata"), _map(source, "spec")
    generation = meta.get("generation") or 1
    return Workload(
        kind=kind,
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        selector=label_selector(spec.get("selector")),
        template=pod_template(spec.get("template")),
        replicas=replicas,
        ready_replicas=ready or 0,
        available_replicas=available or 0,
        owner=owner(_list(meta, "ownerReferences")),
        labels=_strings(meta.get("labels")),
        annotations=_strings(meta.get("annotations")),
        generation=generation,
        created_at=epoch(meta.get("creationTimestamp")),
        # Not observed yet: one behind, so "has the controller caught up?" reads false.
        observed_generation=(
            observed_generation if observed_generation is not None else generation - 1
        ),
    )


def _replicas(replicas: int | None) -> int:
    return replicas if replicas is not None else 1  # the API server's default


def _replicated(kind: WorkloadKind) -> Callable[[Json], Workload]:
    def decode(source: Json) -> Workload:
        spec, status = _map(source, "spec"), _map(source, "status")
        return _workload(
            kind,
            source,
            replicas=_replicas(spec.get("replicas")),
            ready=status.get("readyReplicas"),
            available=status.get("availableReplicas"),
            observed_generation=status.get("observedGeneration"),
        )

    return decode


def daemon_set(source: Json) -> Workload:
    status = _map(source, "status")
    return _workload(
        WorkloadKind.DAEMON_SET,
        source,
        replicas=None,
        ready=status.get("numberReady"),
        available=status.get("numberAvailable"),
        observed_generation=status.get("observedGeneration"),
    )


def job(source: Json) -> Workload:
    """A Job's `replicas` is its parallelism; Jobs have no observedGeneration."""
    spec, status = _map(source, "spec"), _map(source, "status")
    ready = status.get("ready")
    return _workload(
        WorkloadKind.JOB,
        source,
        replicas=_replicas(spec.get("parallelism")),
        ready=ready,
        available=ready,
        observed_generation=_map(source, "metadata").get("generation") or 1,
    )


WORKLOADS: Mapping[WorkloadKind, Callable[[Json], Workload]] = {
    WorkloadKind.DEPLOYMENT: _replicated(WorkloadKind.DEPLOYMENT),
    WorkloadKind.STATEFUL_SET: _replicated(WorkloadKind.STATEFUL_SET),
    WorkloadKind.REPLICA_SET: _replicated(WorkloadKind.REPLICA_SET),
    WorkloadKind.DAEMON_SET: daemon_set,
    WorkloadKind.JOB: job,
}
