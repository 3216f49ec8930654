"""Workloads (the pod controllers), their PodDisruptionBudgets and HorizontalPodAutoscalers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upgrader.adapters.kubernetes.convert.meta import epoch, object_meta
from upgrader.adapters.kubernetes.convert.pods import label_selector, owner, pod_spec
from upgrader.core.kube import (
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    PodTemplate,
    Workload,
    WorkloadKind,
)

if TYPE_CHECKING:
    from kubernetes.client import (
        V1DaemonSet,
        V1Deployment,
        V1Job,
        V1LabelSelector,
        V1ObjectMeta,
        V1PodDisruptionBudget,
        V1PodTemplateSpec,
        V1ReplicaSet,
        V1StatefulSet,
        V2HorizontalPodAutoscaler,
    )


def pod_disruption_budget(source: V1PodDisruptionBudget) -> PodDisruptionBudget:
    meta = object_meta(source.metadata)
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


def pod_template(template: V1PodTemplateSpec | None) -> PodTemplate:
    if template is None:
        return PodTemplate()
    meta = object_meta(template.metadata)
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
    meta = object_meta(meta)
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
    generation = object_meta(source.metadata).generation or 1
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


def horizontal_pod_autoscaler(source: V2HorizontalPodAutoscaler) -> HorizontalPodAutoscaler:
    meta = object_meta(source.metadata)
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
