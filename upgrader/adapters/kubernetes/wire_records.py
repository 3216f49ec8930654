"""What eksup keeps its own state in, from API JSON: Leases (the run's lock), ConfigMaps (the
journal's mirror) and Secrets' data (Helm releases). `wire` re-exports them; the sandbox server
decodes its request bodies with the same functions, so the URL may give namespace and name."""

from __future__ import annotations

from upgrader.adapters.kubernetes.wire_fields import Json, epoch
from upgrader.adapters.kubernetes.wire_fields import mapping as _map
from upgrader.core.kube import ConfigMap, Lease


def lease(body: Json, namespace: str | None = None, name: str | None = None) -> Lease:
    """A Lease (a read, or a request body whose namespace and name the URL may give)."""
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    return Lease(
        namespace=namespace or str(meta.get("namespace") or ""),
        name=name or str(meta.get("name", "")),
        holder=str(spec.get("holderIdentity") or ""),
        acquired_at=epoch(spec.get("acquireTime")),
        renewed_at=epoch(spec.get("renewTime")),
        duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        resource_version=str(meta.get("resourceVersion") or ""),
    )


def config_map(body: Json, namespace: str | None = None, name: str | None = None) -> ConfigMap:
    """A ConfigMap (a read, or a request body whose namespace and name the URL may give)."""
    meta = body.get("metadata") or {}
    return ConfigMap(
        namespace=namespace or str(meta.get("namespace") or ""),
        name=name or str(meta.get("name", "")),
        data={str(k): str(v) for k, v in (body.get("data") or {}).items()},
        resource_version=str(meta.get("resourceVersion") or ""),
        created_at=epoch(meta.get("creationTimestamp")),
    )


def secret_data(source: Json) -> dict[str, str]:
    """A Secret's data, still base64 as the API serves it (Helm releases decode their own)."""
    return {str(k): str(v) for k, v in _map(source, "data").items()}
