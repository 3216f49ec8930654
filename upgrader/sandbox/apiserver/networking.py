"""Ingress (networking.k8s.io/v1) and HTTPRoute (gateway.networking.k8s.io/v1) over the API.

What the rollout providers `alb-ingress` and `gateway-api` send through the kubernetes client,
so `eksup rollout ... --sandbox` against `eksup sandbox up` (and `kubectl get ingress web -o
yaml`, `kubectl get httproute web -o yaml`) work on the served sandbox:

- Ingress: GET, and PATCH of `metadata.annotations` (a merge patch: null removes a key; the
  client sends a dict body as a strategic merge patch, which for a string map is the same).
  The FakeCluster's Ingress keeps its paths and annotations; a patch of anything else is
  refused (422), since the sandbox could not keep it. The fake AWS Load Balancer Controller
  (`upgrader.sandbox.alb_controller`) watches the FakeCluster, so an annotation patched here
  reaches the ALB in moto as it would on EKS.
- HTTPRoute: GET, and PUT (replace) of `spec.rules` with optimistic concurrency on
  `metadata.resourceVersion` (409 when it changed meanwhile; none given: the latest). The
  FakeCluster plays the Gateway controller: each generation is accepted at once, ResolvedRefs
  false while a backend Service is missing. The status is a subresource: a PUT of the main
  resource leaves it alone, as the real API server does.

The HTTPRoute JSON is decoded and encoded by the adapter's own codec
(`upgrader.adapters.kubernetes.gateway`), so the server and the client cannot disagree on the
rules; the status conditions follow the Gateway API (`status.parents[].conditions`, types
Accepted and ResolvedRefs with observedGeneration).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import gateway
from upgrader.core.errors import UserError
from upgrader.core.kube import HTTPRoute, Ingress, IngressBackend, RouteParentStatus
from upgrader.sandbox.apiserver import objects
from upgrader.sandbox.apiserver.http import Request, Response, json_response

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]
INGRESS_API = "networking.k8s.io/v1"
ROUTE_API = f"{gateway.GROUP}/{gateway.VERSION}"
# What the sandbox's Gateway controller calls itself in `status.parents[].controllerName`.
GATEWAY_CONTROLLER = "eksup.io/sandbox-gateway"


def _ok(value: Json) -> Response:

    return json_response(200, value)


# -- Ingress --------------------------------------------------------------------------------------


def ingress_json(ingress: Ingress, created_at: float) -> Json:
    """The Ingress as the API returns it. Consecutive paths of one host form one rule, so the
    paths keep their order (the Load Balancer Controller's rule priorities follow it)."""
    default = [b for b in ingress.backends if not b.path and not b.host]
    rules: list[Json] = []
    for backend in ingress.backends:
        if backend in default:
            continue
        if not rules or rules[-1].get("host", "") != backend.host:
            rules.append({"host": backend.host} if backend.host else {})
            rules[-1]["http"] = {"paths": []}
        rules[-1]["http"]["paths"].append(
            {
                "path": backend.path,
                # ALB wildcards are the controller's own syntax: ImplementationSpecific.
                "pathType": "ImplementationSpecific" if "*" in backend.path else "Prefix",
                "backend": _service_backend(backend),
            }
        )
    spec: Json = {"rules": rules}
    if ingress.ingress_class:
        spec["ingressClassName"] = ingress.ingress_class
    if default:
        spec["defaultBackend"] = _service_backend(default[0])
    return {
        "apiVersion": INGRESS_API,
        "kind": "Ingress",
        "metadata": objects.metadata(
            ingress.name,
            ingress.namespace,
            uid=objects.uid_for("Ingress", ingress.namespace, ingress.name),
            created_at=created_at,
            resource_version=ingress.resource_version,
            annotations=ingress.annotations,
        ),
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def _service_backend(backend: IngressBackend) -> Json:
    port: Json = {"number": int(backend.port)} if backend.port.isdigit() else {"name": backend.port}
    return {"service": {"name": backend.service, "port": port}}


def get_ingress(self: ApiState, _: Request, args: Sequence[str]) -> Response:
    return _ok(ingress_json(self.cluster.get_ingress(args[0], args[1]), self.created_at))


def patch_ingress(self: ApiState, request: Request, args: Sequence[str]) -> Response:
    body = request.json()
    meta = body.get("metadata") or {}
    extra = sorted(set(body) - {"metadata", "apiVersion", "kind"}) + sorted(
        set(meta) - {"annotations", "name", "namespace", "resourceVersion"}
    )
    if extra:
        raise UserError(
            f"the sandbox patches an Ingress's annotations only, not {', '.join(extra)}"
        )
    annotations = meta.get("annotations") or {}
    if not isinstance(annotations, Mapping):
        raise UserError("metadata.annotations must be a map of strings")
    changes = {str(k): (None if v is None else str(v)) for k, v in annotations.items()}
    patched = self.cluster.patch_ingress_annotations(args[0], args[1], changes)
    return _ok(ingress_json(patched, self.created_at))


# -- HTTPRoute ------------------------------------------------------------------------------------


def http_route_json(route: HTTPRoute, created_at: float) -> Json:
    parents: list[Json] = []
    refs: list[Json] = []
    for parent in route.parents:
        namespace, _, name = parent.parent.rpartition("/")
        ref = {"group": gateway.GROUP, "kind": "Gateway", "name": name, "namespace": namespace}
        refs.append(ref)
        conditions = [
            _condition("Accepted", parent.accepted, parent, "Accepted"),
            _condition("ResolvedRefs", parent.resolved_refs, parent, "BackendNotFound"),
        ]
        parents.append(
            {"parentRef": ref, "controllerName": GATEWAY_CONTROLLER, "conditions": conditions}
        )
    metadata = objects.metadata(
        route.name,
        route.namespace,
        uid=objects.uid_for("HTTPRoute", route.namespace, route.name),
        created_at=created_at,
        resource_version=route.resource_version,
    )
    metadata["generation"] = route.generation
    return {
        "apiVersion": ROUTE_API,
        "kind": "HTTPRoute",
        "metadata": metadata,
        "spec": {"parentRefs": refs, "rules": gateway.rules_to_k8s(route.rules)},
        "status": {"parents": parents},
    }


def _condition(kind: str, true: bool, parent: RouteParentStatus, reason_if_false: str) -> Json:
    return {
        "type": kind,
        "status": "True" if true else "False",
        "reason": kind if true else reason_if_false,
        "message": "" if true else parent.message,
        "observedGeneration": parent.observed_generation,
    }


def get_http_route(self: ApiState, _: Request, args: Sequence[str]) -> Response:
    return _ok(http_route_json(self.cluster.get_http_route(args[0], args[1]), self.created_at))


def replace_http_route(self: ApiState, request: Request, args: Sequence[str]) -> Response:
    body = request.json()
    meta = body.get("metadata") or {}
    if meta.get("name", args[1]) != args[1]:
        raise UserError(f"metadata.name {meta.get('name')!r} does not match the URL's {args[1]}")
    rules = gateway.http_route(body).rules
    version = str(meta.get("resourceVersion") or "")
    if not version:  # an unconditional replace: over whatever is there now
        version = self.cluster.get_http_route(args[0], args[1]).resource_version
    replaced = self.cluster.replace_http_route_rules(args[0], args[1], rules, version)
    return _ok(http_route_json(replaced, self.created_at))


NETWORKING_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}", get_ingress),
    ("PATCH", "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}", patch_ingress),
    (
        "GET",
        f"/apis/{ROUTE_API}/namespaces/{{ns}}/{gateway.PLURAL}/{{name}}",
        get_http_route,
    ),
    (
        "PUT",
        f"/apis/{ROUTE_API}/namespaces/{{ns}}/{gateway.PLURAL}/{{name}}",
        replace_http_route,
    ),
]
