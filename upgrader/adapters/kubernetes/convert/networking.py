"""Services and Ingresses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upgrader.adapters.kubernetes.convert.meta import epoch, object_meta
from upgrader.core.kube import (
    Ingress,
    IngressBackend,
    Service,
    ServicePort,
)

if TYPE_CHECKING:
    from kubernetes.client import (
        V1Ingress,
        V1IngressBackend,
        V1Service,
        V1ServicePort,
    )


def service(source: V1Service) -> Service:
    meta = object_meta(source.metadata)
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
    meta = object_meta(source.metadata)
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
