"""Leases and ConfigMaps: read, and written back (the lock and the journal's mirror)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upgrader.adapters.kubernetes.convert.meta import epoch, from_epoch, object_meta
from upgrader.core.kube import (
    ConfigMap,
    Lease,
)

if TYPE_CHECKING:
    from kubernetes.client import (
        V1ConfigMap,
        V1Lease,
    )


def lease(source: V1Lease) -> Lease:
    from kubernetes.client import V1LeaseSpec  # models load on first use

    meta = object_meta(source.metadata)
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
    meta = object_meta(source.metadata)
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
