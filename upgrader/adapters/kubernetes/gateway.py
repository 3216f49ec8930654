"""Gateway API HTTPRoute (gateway.networking.k8s.io/v1) between its JSON and eksup's model.

HTTPRoute is a custom resource, so the client hands back plain dicts. eksup models the parts a
rollout changes (backendRefs and their weights, RequestMirror filters) and the status that
proves a change took; everything else in a rule is kept verbatim so a replace of `spec.rules`
gives it back unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from upgrader.core.kube import (
    BackendRef,
    HTTPRoute,
    HTTPRouteRule,
    RequestMirror,
    RouteParentStatus,
)

GROUP = "gateway.networking.k8s.io"
VERSION = "v1"
PLURAL = "httproutes"

_MODELLED_RULE_FIELDS = ("backendRefs", "filters", "matches")


def backend_ref(document: Mapping[str, Any]) -> BackendRef:
    port = document.get("port")
    return BackendRef(
        name=str(document.get("name", "")),
        port=int(port) if port is not None else None,
        namespace=document.get("namespace"),
        weight=int(document.get("weight", 1)),
        kind=str(document.get("kind", "Service")),
        group=str(document.get("group", "")),
        filters=tuple(document.get("filters") or ()),
    )


def backend_ref_to_k8s(ref: BackendRef, *, weighted: bool = True) -> dict[str, Any]:
    document: dict[str, Any] = {"name": ref.name}
    if ref.port is not None:
        document["port"] = ref.port
    if ref.namespace is not None:
        document["namespace"] = ref.namespace
    if ref.kind != "Service":
        document["kind"] = ref.kind
    if ref.group:
        document["group"] = ref.group
    if weighted:
        document["weight"] = ref.weight
        if ref.filters:
            document["filters"] = [dict(f) for f in ref.filters]
    return document


def _mirror(document: Mapping[str, Any]) -> RequestMirror:
    config = document.get("requestMirror") or {}
    percent = config.get("percent")
    fraction = config.get("fraction")
    if percent is None and fraction:
        # A fraction written by hand reads as the nearest whole percent.
        percent = round(100 * int(fraction["numerator"]) / int(fraction.get("denominator", 100)))
    return RequestMirror(
        backend=backend_ref(config.get("backendRef") or {}),
        percent=int(percent) if percent is not None else 100,
    )


def http_route_rule(document: Mapping[str, Any]) -> HTTPRouteRule:
    filters = list(document.get("filters") or ())
    return HTTPRouteRule(
        backend_refs=tuple(backend_ref(r) for r in document.get("backendRefs") or ()),
        mirrors=tuple(_mirror(f) for f in filters if f.get("type") == "RequestMirror"),
        matches=tuple(document.get("matches") or ()),
        other_filters=tuple(f for f in filters if f.get("type") != "RequestMirror"),
        extra={k: v for k, v in document.items() if k not in _MODELLED_RULE_FIELDS},
    )


def http_route_rule_to_k8s(rule: HTTPRouteRule) -> dict[str, Any]:
    document: dict[str, Any] = dict(rule.extra)
    if rule.matches:
        document["matches"] = [dict(m) for m in rule.matches]
    filters: list[dict[str, Any]] = [dict(f) for f in rule.other_filters]
    for mirror in rule.mirrors:
        config: dict[str, Any] = {"backendRef": backend_ref_to_k8s(mirror.backend, weighted=False)}
        # 100% is the filter's default; leaving it out also works on CRDs older than v1.2,
        # which have no `percent` field.
        if mirror.percent != 100:
            config["percent"] = mirror.percent
        filters.append({"type": "RequestMirror", "requestMirror": config})
    if filters:
        document["filters"] = filters
    if rule.backend_refs:
        document["backendRefs"] = [backend_ref_to_k8s(r) for r in rule.backend_refs]
    return document


def _parent(document: Mapping[str, Any], route_namespace: str) -> RouteParentStatus:
    ref = document.get("parentRef") or {}
    conditions = {c.get("type"): c for c in document.get("conditions") or ()}
    accepted = conditions.get("Accepted", {})
    resolved = conditions.get("ResolvedRefs", {})
    generations = [int(c.get("observedGeneration", 0)) for c in (accepted, resolved) if c]
    messages = [
        str(c.get("message", "")) for c in (accepted, resolved) if c and c.get("status") != "True"
    ]
    return RouteParentStatus(
        parent=f"{ref.get('namespace', route_namespace)}/{ref.get('name', '')}",
        accepted=accepted.get("status") == "True",
        resolved_refs=resolved.get("status") == "True",
        observed_generation=min(generations) if generations else 0,
        message="; ".join(m for m in messages if m),
    )


def http_route(document: Mapping[str, Any]) -> HTTPRoute:
    metadata = document.get("metadata") or {}
    namespace = str(metadata.get("namespace", ""))
    spec = document.get("spec") or {}
    status = document.get("status") or {}
    return HTTPRoute(
        namespace=namespace,
        name=str(metadata.get("name", "")),
        rules=tuple(http_route_rule(r) for r in spec.get("rules") or ()),
        generation=int(metadata.get("generation", 1)),
        resource_version=str(metadata.get("resourceVersion", "")),
        parents=tuple(_parent(p, namespace) for p in status.get("parents") or ()),
    )


def rules_to_k8s(rules: Sequence[HTTPRouteRule]) -> list[dict[str, Any]]:
    return [http_route_rule_to_k8s(r) for r in rules]
