"""What rollouts move traffic with, from API JSON: Services, Ingresses and
HorizontalPodAutoscalers (`wire` re-exports them; Gateway API routes are `gateway`'s)."""

from __future__ import annotations

from upgrader.adapters.kubernetes.wire_fields import Json, epoch, items, mapping, strings
from upgrader.core.kube import (
    HorizontalPodAutoscaler,
    Ingress,
    IngressBackend,
    Service,
    ServicePort,
)


def service_port(source: Json) -> ServicePort:
    """One of spec.ports; targetPort defaults to the port (SetDefaults_ServicePort)."""
    port = int(source.get("port") or 0)
    target = source.get("targetPort")
    return ServicePort(
        port=port,
        protocol=source.get("protocol") or "TCP",
        target_port=str(target) if target not in (None, "", 0) else str(port),
        name=source.get("name") or "",
        node_port=int(source.get("nodePort") or 0),
    )


def service(source: Json) -> Service:
    meta, spec = mapping(source, "metadata"), mapping(source, "spec")
    return Service(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        selector=strings(spec.get("selector")),
        type=spec.get("type") or "ClusterIP",
        annotations=strings(meta.get("annotations")),
        created_at=epoch(meta.get("creationTimestamp")),
        ports=tuple(service_port(p) for p in items(spec, "ports")),
        cluster_ip=spec.get("clusterIP") or "",
    )


def _backend(source: Json, host: str = "", path: str = "") -> IngressBackend | None:
    target = mapping(source, "service")
    if not target:
        return None  # a resource backend (or none): not a Service, nothing eksup routes through
    port = mapping(target, "port")
    number = port.get("number")
    return IngressBackend(
        service=target.get("name") or "",
        port=str(number) if number is not None else (port.get("name") or ""),
        host=host,
        path=path,
    )


def ingress(source: Json) -> Ingress:
    """A networking.k8s.io/v1 Ingress: the default backend, then every rule's paths in order."""
    meta, spec = mapping(source, "metadata"), mapping(source, "spec")
    backends = [_backend(mapping(spec, "defaultBackend"))]
    for rule in items(spec, "rules"):
        for path in items(mapping(rule, "http"), "paths"):
            backends.append(
                _backend(mapping(path, "backend"), rule.get("host") or "", path.get("path") or "")
            )
    return Ingress(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        annotations=strings(meta.get("annotations")),
        ingress_class=spec.get("ingressClassName") or "",
        backends=tuple(b for b in backends if b is not None),
        resource_version=meta.get("resourceVersion") or "",
    )


def horizontal_pod_autoscaler(source: Json) -> HorizontalPodAutoscaler:
    meta, spec, status = (mapping(source, k) for k in ("metadata", "spec", "status"))
    target = mapping(spec, "scaleTargetRef")
    return HorizontalPodAutoscaler(
        namespace=meta.get("namespace") or "",
        name=meta.get("name") or "",
        target_kind=target.get("kind") or "",
        target_name=target.get("name") or "",
        # minReplicas defaults to 1 when the HPA leaves it out.
        min_replicas=spec.get("minReplicas") or 1,
        max_replicas=spec.get("maxReplicas") or 0,
        current_replicas=status.get("currentReplicas") or 0,
        desired_replicas=status.get("desiredReplicas") or 0,
    )
