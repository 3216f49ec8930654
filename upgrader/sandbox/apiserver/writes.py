"""What an on-call engineer does to the sandbox with kubectl beyond reading it: create, apply,
scale, patch and delete Deployments, StatefulSets and PDBs (Services, ConfigMaps, Secrets and
namespaces have modules of their own), and the OpenAPI v3 answers `kubectl apply` asks for
first, so the world of an incident can be built by hand and an upgrade replayed on it.

Requests are what kubectl 1.37 sends: `create`/`apply` (client-side) GET the object, then POST
it (`?fieldManager=kubectl-client-side-apply&fieldValidation=Strict`); a second `apply` PATCHes
a strategic merge patch; `scale` PATCHes the `/scale` subresource with `{"spec":{"replicas":N}}`
and reads an autoscaling/v1 Scale back; `delete` sends DELETE with
`propagationPolicy=Background` semantics by default. Only the fields the fake models are read
(the pod template's labels, requests, nodeSelector, required node affinity, tolerations,
volumes, topology spread constraints, grace period and readiness probe); the rest of the
manifest is accepted and dropped, as a real server keeps but the fake has no use for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from upgrader.adapters.kubernetes import wire as codec
from upgrader.core.errors import UserError
from upgrader.core.kube import (
    PodDisruptionBudget,
    PodTemplate,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.apiserver import objects
from upgrader.sandbox.apiserver.http import Request, Response, json_response
from upgrader.sandbox.apiserver.workloads import pdb_table, selector_text, workload_json

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]
T = TypeVar("T")
_WRITABLE = {"deployments": WorkloadKind.DEPLOYMENT, "statefulsets": WorkloadKind.STATEFUL_SET}


class BadRequestError(UserError):
    """The manifest cannot be read (HTTP 400/422)."""


def _decoded(what: str, decode: Callable[[], T]) -> T:
    """A manifest part read by the Kubernetes adapter's decoder (one codec for both sides);
    what it cannot read is the client's error (400), not the server's."""
    try:
        return decode()
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise BadRequestError(f"{what}: cannot be read: {e!r}") from e


def parse_template(wire: Mapping[str, Any]) -> PodTemplate:
    """The pod template as the adapter reads one (requests as kube-scheduler sums them, init
    containers and overhead included; tolerations, affinity, volumes, spread, grace period,
    readiness probe, priority class)."""
    spec = wire.get("spec") or {}
    if not spec.get("containers"):
        raise BadRequestError("spec.template.spec.containers: Required value")
    return _decoded("spec.template", lambda: codec.pod_template(dict(wire)))


def parse_workload(body: Mapping[str, Any], kind: WorkloadKind, namespace: str) -> Workload:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    name = str(meta.get("name") or "")
    if not name:
        raise BadRequestError("metadata.name: Required value")
    selector = _decoded("spec.selector", lambda: codec.label_selector(spec.get("selector")))
    template = parse_template(spec.get("template") or {})
    if selector.is_empty or not selector.matches(template.labels):
        raise BadRequestError(
            "spec.template.metadata.labels: Invalid value: `selector` does not match template "
            "`labels`"
        )
    return Workload(
        kind=kind,
        namespace=namespace,
        name=name,
        selector=selector,
        template=template,
        replicas=int(spec.get("replicas", 1)),
        labels={str(k): str(v) for k, v in (meta.get("labels") or {}).items()},
        annotations={str(k): str(v) for k, v in (meta.get("annotations") or {}).items()},
    )


def parse_pdb(body: Mapping[str, Any], namespace: str) -> PodDisruptionBudget:
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    if "minAvailable" in spec and "maxUnavailable" in spec:
        raise BadRequestError(
            "spec: Invalid value: minAvailable and maxUnavailable cannot both be set"
        )
    return PodDisruptionBudget(
        namespace=namespace,
        name=str(meta.get("name") or ""),
        # policy/v1: a null selector selects no pod, an empty one every pod of the namespace.
        selector=_decoded(
            "spec.selector",
            lambda: codec.label_selector(spec.get("selector"), null_matches_nothing=True),
        ),
        min_available=spec.get("minAvailable"),
        max_unavailable=spec.get("maxUnavailable"),
        unhealthy_pod_eviction_policy=str(
            spec.get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        ),
    )


# -- printed columns ---------------------------------------------------------------------------


# -- handlers (called like ApiState methods, routed by WRITE_ROUTES) -----------------------------


def get_pdb(self: ApiState, request: Request, args: Sequence[str]) -> Response:
    namespace, name = args
    found = [b for b in self.cluster.list_pdbs(namespace) if b.name == name]
    if not found:
        from upgrader.core.errors import NotFoundError

        raise NotFoundError(f'poddisruptionbudgets.policy "{name}" not found')
    if request.wants_table:
        return _ok(pdb_table(self, found, ""))
    return _ok(objects.pod_disruption_budget(found[0], self.created_at))


def create_pdb(self: ApiState, request: Request, args: Sequence[str]) -> Response:
    pdb = parse_pdb(request.json(), args[0])
    self.cluster.add_pdb(pdb)
    return _ok(objects.pod_disruption_budget(pdb, self.created_at), 201)


def patch_pdb(self: ApiState, request: Request, args: Sequence[str]) -> Response:
    """A merge patch of the spec (policy/v1 PDB specs are mutable). The fake replaces the budget,
    keeping its creation time; what the Eviction API admitted but the disruption controller has
    not yet seen (`disruptedPods`) starts afresh."""
    namespace, name = args
    found = [b for b in self.cluster.list_pdbs(namespace) if b.name == name]
    if not found:
        from upgrader.core.errors import NotFoundError

        raise NotFoundError(f'poddisruptionbudgets.policy "{name}" not found')
    wire = objects.pod_disruption_budget(found[0], self.created_at)
    spec = dict(wire["spec"])
    for key, value in (request.json().get("spec") or {}).items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    updated = parse_pdb({"metadata": wire["metadata"], "spec": spec}, namespace)
    self.cluster.delete_pdb(namespace, name)
    self.cluster.add_pdb(replace(updated, created_at=found[0].created_at))
    return get_pdb(self, request, args)


def delete_pdb(self: ApiState, _: Request, args: Sequence[str]) -> Response:
    self.cluster.delete_pdb(args[0], args[1])
    return _ok(objects.status(200, "Success", f'poddisruptionbudget "{args[1]}" deleted'))


def create_workload(self: ApiState, request: Request, args: Sequence[str]) -> Response:
    namespace, resource = args
    kind = _writable(resource)
    workload = parse_workload(request.json(), kind, namespace)
    self.cluster.add_workload(workload)
    workload = self.cluster.get_workload(kind, namespace, workload.name)
    return _ok(workload_json(self, workload), 201)


def delete_workload(self: ApiState, _: Request, args: Sequence[str]) -> Response:
    namespace, resource, name = args
    self.cluster.delete_workload(_writable(resource), namespace, name)
    return _ok(objects.status(200, "Success", f"{resource} {name} deleted"))


def get_scale(self: ApiState, _: Request, args: Sequence[str]) -> Response:
    namespace, resource, name = args
    return _ok(_scale(self.cluster.get_workload(_writable(resource), namespace, name)))


def patch_scale(self: ApiState, request: Request, args: Sequence[str]) -> Response:
    namespace, resource, name = args
    replicas = (request.json().get("spec") or {}).get("replicas")
    kind = _writable(resource)
    if replicas is None:
        raise BadRequestError("spec.replicas: Required value")
    workload = self.cluster.scale_workload(kind, namespace, name, int(replicas))
    return _ok(_scale(workload))


def _writable(resource: str) -> WorkloadKind:
    kind = _WRITABLE.get(resource)
    if kind is None:
        raise BadRequestError(
            f"the sandbox creates, scales and deletes only {', '.join(_WRITABLE)}"
        )
    return kind


def _scale(workload: Workload) -> Json:
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {"name": workload.name, "namespace": workload.namespace},
        "spec": {"replicas": workload.replicas},
        "status": {
            "replicas": workload.replicas,
            "selector": selector_text(workload.selector),
        },
    }


def _ok(value: Json, code: int = 200) -> Response:

    return json_response(code, value)


WRITE_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}", get_pdb),
    ("POST", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", create_pdb),
    ("PATCH", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}", patch_pdb),
    ("DELETE", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}", delete_pdb),
    ("POST", "/apis/apps/v1/namespaces/{ns}/{resource}", create_workload),
    ("DELETE", "/apis/apps/v1/namespaces/{ns}/{resource}/{name}", delete_workload),
    ("GET", "/apis/apps/v1/namespaces/{ns}/{resource}/{name}/scale", get_scale),
    ("PATCH", "/apis/apps/v1/namespaces/{ns}/{resource}/{name}/scale", patch_scale),
]


# -- OpenAPI v3: only what tells kubectl the server validates fields itself ------------------


def _group_path(group_version: str) -> str:
    return "api/v1" if group_version == "v1" else f"apis/{group_version}"


def openapi_root(_: ApiState, __: Request, ___: Sequence[str]) -> Response:
    """`kubectl apply/create` first asks /openapi/v3 whether the server takes
    `fieldValidation` (k8s.io/cli-runtime pkg/resource/query_param_verifier_v3.go); without an
    answer it falls back to client-side validation, which needs every schema."""
    from upgrader.sandbox.apiserver import discovery

    versions = ["v1", *discovery.GROUPS]
    paths = {
        _group_path(gv): {"serverRelativeURL": f"/openapi/v3/{_group_path(gv)}?hash=sandbox"}
        for gv in versions
    }
    return _ok({"paths": paths})


def openapi_group(_: ApiState, __: Request, args: Sequence[str]) -> Response:
    """One group version's document: each resource's PATCH names its kind and accepts
    `fieldValidation`, which is all the verifier reads."""
    from upgrader.sandbox.apiserver import discovery

    group_version = "v1" if args[0] == "v1" else f"{args[0]}/{args[1]}"
    resources = (
        discovery.core_resources()
        if group_version == "v1"
        else discovery.group_resources(group_version)
    )
    if resources is None:
        from upgrader.core.errors import NotFoundError

        raise NotFoundError(f"no OpenAPI document for {group_version}")
    group, _sep, version = group_version.rpartition("/")
    parameters = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}]
    paths: Json = {}
    for resource in resources["resources"]:
        name = resource["name"]
        if "/" in name:
            continue
        scope = "/namespaces/{namespace}" if resource["namespaced"] else ""
        gvk = {"group": group, "version": version, "kind": resource["kind"]}
        operation = {"x-kubernetes-group-version-kind": gvk, "parameters": parameters}
        prefix = f"/{_group_path(group_version)}{scope}/{name}"
        paths[prefix] = {"post": operation}
        paths[f"{prefix}/{{name}}"] = {"patch": operation, "put": operation}
    return _ok({"openapi": "3.0.0", "info": {"title": "sandbox", "version": "v1"}, "paths": paths})


WRITE_ROUTES += [
    ("GET", "/openapi/v3", openapi_root),
    ("GET", "/openapi/v3/api/{version}", openapi_group),
    ("GET", "/openapi/v3/apis/{group}/{version}", openapi_group),
]
