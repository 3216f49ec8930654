"""Server-side apply and managedFields on the sandbox server.

What Kubernetes does (https://kubernetes.io/docs/reference/using-api/server-side-apply/, and
k8s.io/apiserver pkg/endpoints/handlers/patch.go with the fieldmanager package):
- `kubectl apply --server-side` sends PATCH with `Content-Type: application/apply-patch+yaml`,
  `fieldManager=kubectl` and `force=false`; the body is the whole intended object. An object
  that does not exist is created (201).
- Every write records which manager set which fields in `metadata.managedFields` (operation
  Apply or Update, `fieldsType: FieldsV1`, the time, and `subresource` for `/scale`).
- An apply that would change a field another manager owns fails with 409 Conflict naming the
  manager and the field (`Apply failed with 1 conflict: conflict with "kubectl-scale" using
  apps/v1: .spec.replicas`), unless `force=true`, which takes the field over. Applying the same
  value another manager set shares the field instead.
- An apply request without fieldManager is invalid (422).

How the sandbox does it. It tracks, per object URL, each manager's fields and the values it
set, and decides conflicts on those values: the fake renders some fields (container images,
names) from its model rather than from what was written, so the live object is not a fair
witness. The change itself then goes through the routes that already write the object (create,
or the PATCH/PUT route the fake has), so apply changes exactly what those routes model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from upgrader.core import loaders
from upgrader.core.errors import UserError
from upgrader.sandbox.apiserver import objects, protobuf
from upgrader.sandbox.apiserver.http import Request, Response, json_response
from upgrader.sandbox.apiserver.managed_fields import ConflictsError, Entry, Path, dotted
from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]
APPLY_CONTENT_TYPE = "application/apply-patch"
# Lists merged by key rather than replaced (their x-kubernetes-list-map-keys in k8s.io/api).
_LIST_KEYS: Mapping[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
}
# Fields no manager owns: identity and type, and what the server writes itself.
_NOT_MANAGED = {"apiVersion", "kind", "status"}
_META_NOT_MANAGED = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
}


def _list_key(name: str, item: Mapping[str, Any]) -> tuple[str, ...] | None:
    if name == "ports":  # container ports by containerPort, Service ports by port
        return ("containerPort", "protocol") if "containerPort" in item else ("port", "protocol")
    return _LIST_KEYS.get(name)


def leaves(value: Json) -> dict[Path, Any]:
    """The fields an object sets, as FieldsV1 paths to their values."""
    out: dict[Path, Any] = {}

    def walk(node: Any, path: Path, name: str) -> None:
        if isinstance(node, Mapping) and node:
            for key, child in node.items():
                if not path and key in _NOT_MANAGED:
                    continue
                if path == ("f:metadata",) and key in _META_NOT_MANAGED:
                    continue
                walk(child, (*path, f"f:{key}"), str(key))
            return
        keys = _list_key(name, node[0]) if isinstance(node, list) and node else None
        if keys is not None and all(isinstance(i, Mapping) for i in node):
            for item in node:
                ident = {k: item.get(k, "TCP" if k == "protocol" else "") for k in keys}
                element = (*path, "k:" + json.dumps(ident, separators=(",", ":")))
                out[(*element, ".")] = None
                walk(item, element, "")
            return
        if path:
            out[path] = node  # a scalar, an atomic list, or an empty map

    walk(value, (), "")
    return out


# -- the HTTP side --------------------------------------------------------------------------


def object_key(parts: Sequence[str]) -> tuple[str, str]:
    """(the object's URL path, the subresource) of a request path's parts."""
    if parts and parts[-1] in ("scale", "status") and len(parts) > 4:
        return "/" + "/".join(parts[:-1]), parts[-1]
    return "/" + "/".join(parts), ""


def _api_version(parts: Sequence[str]) -> str:
    return "v1" if parts[0] == "api" else f"{parts[1]}/{parts[2]}"


def default_manager(user_agent: str) -> str:
    """Without fieldManager the server names the manager after the client's User-Agent
    (`kubectl/v1.37.1 (linux/amd64) ...` -> `kubectl`)."""
    return user_agent.split("/", 1)[0] or "unknown"


def with_managed_fields(response: Response, entries: list[Json]) -> Response:
    if not entries or response.stream is not None or response.code >= 300:
        return response
    try:
        body = json.loads(response.body)
    except ValueError:
        return response
    meta = body.get("metadata") if isinstance(body, dict) else None
    if not isinstance(meta, dict) or "name" not in meta:
        return response
    meta["managedFields"] = entries
    return replace(response, body=json.dumps(body, separators=(",", ":")).encode())


def record_update(
    api: ApiState, request: Request, parts: Sequence[str], response: Response
) -> None:
    """After a successful create, patch or replace: the Update entry of its manager."""
    key, subresource = object_key(parts)
    if request.method == "POST":
        try:
            created = json.loads(response.body)
            key = f"{key}/{created['metadata']['name']}"
        except (ValueError, KeyError, TypeError):
            return
    if request.method == "DELETE":
        api.managed.forget(key)
        return
    body = _body(request)
    if body is None:
        return
    if subresource == "scale":  # the Scale's spec.replicas is the parent's
        body = {"spec": {"replicas": (body.get("spec") or {}).get("replicas")}}
    values = leaves(body)
    if not values:
        return
    manager = request.query.get("fieldManager") or default_manager(request.user_agent)
    entry = Entry(manager, "Update", _api_version(parts), api.now(), subresource, values)
    api.managed.update(key, entry)


def _body(request: Request) -> Json | None:
    """The written object or merge patch; None for what names no fields (a JSON patch)."""
    try:
        if "protobuf" in request.content_type:
            return protobuf.decode(request.body)
        value = json.loads(request.body or b"{}")
    except ValueError:  # ProtobufError is one
        return None
    return value if isinstance(value, dict) else None


def server_side_apply(
    api: ApiState,
    request: Request,
    parts: Sequence[str],
    call: Callable[[Request], Response],
) -> Response:
    """PATCH application/apply-patch+yaml: create or change the object, owning its fields."""

    manager = request.query.get("fieldManager", "")
    if not manager:
        message = (
            'PatchOptions.meta.k8s.io "" is invalid: '
            "fieldManager: Required value: is required for apply patch"
        )
        return json_response(422, objects.status(422, "Invalid", message))
    try:
        text = loaders.decode(request.body, "the apply body") or "{}"
        intent = loaders.load_yaml(text, "the apply body", loaders.MANIFEST)
    except UserError as e:
        return json_response(400, objects.status(400, "BadRequest", str(e)))
    if not isinstance(intent, dict):
        return json_response(
            400, objects.status(400, "BadRequest", "the apply body is not an object")
        )
    key, subresource = object_key(parts)
    name = (intent.get("metadata") or {}).get("name")
    if name != parts[-1] and not subresource:
        message = (
            f"the name of the object ({name}) does not match the name on the URL ({parts[-1]})"
        )
        return json_response(400, objects.status(400, "BadRequest", message))
    entry = Entry(manager, "Apply", _api_version(parts), api.now(), subresource, leaves(intent))
    force = request.query.get("force") == "true"
    headers = {"Content-Type": "application/json", "User-Agent": request.user_agent}
    current = call(Request.parse("GET", key, {"Accept": "application/json"}))
    if current.code == 404:
        create = Request.parse("POST", key.rsplit("/", 1)[0], headers, json.dumps(intent).encode())
        api.managed.forget(key)
        response = call(create)
    else:
        conflicts = api.managed.conflicts(key, entry)
        if conflicts and not force:
            error = ConflictsError(conflicts)
            causes = [
                {
                    "reason": "FieldManagerConflict",
                    "message": f'conflict with "{manager}"',
                    "field": dotted(path),
                }
                for manager, _, path in conflicts
            ]
            return json_response(
                409, objects.status(409, "Conflict", str(error), {"causes": causes})
            )
        released = api.managed.released(key, entry)
        response = _change(api, key, _removing(intent, released, set(entry.values)), headers, call)
    if response.code < 300:
        api.managed.apply(key, entry)
    return with_managed_fields(response, api.managed.entries(key))


def _change(
    api: ApiState,
    key: str,
    intent: Json,
    headers: Mapping[str, str],
    call: Callable[[Request], Response],
) -> Response:
    """An existing object takes the applied fields through the route the fake has for it: a
    merge PATCH where there is one, else a PUT of the live object with the intent merged in."""

    parts = key.strip("/").split("/")
    body = json.dumps(intent).encode()
    merge = {**headers, "Content-Type": "application/merge-patch+json"}
    if api.has_route("PATCH", parts):
        return call(Request.parse("PATCH", key, merge, body))
    live = json.loads(call(Request.parse("GET", key, {"Accept": "application/json"})).body)
    merged = _merge(live, intent)
    return call(Request.parse("PUT", key, headers, json.dumps(merged).encode()))


def _removing(intent: Json, released: Sequence[Path], kept: set[Path]) -> Json:
    """The intent as a merge patch that also removes the released fields: `null` at the
    outermost map key the new intent no longer names. An element of a keyed list goes with
    the list itself, which the intent (naming the list) replaces whole."""
    if not released:
        return intent
    named = {path[:i] for path in kept for i in range(1, len(path) + 1)}
    patch: Json = json.loads(json.dumps(intent))
    for path in released:
        for i in range(1, len(path) + 1):
            if path[:i] in named:
                continue
            gone = path[:i]
            if all(part.startswith("f:") for part in gone):
                node = patch
                for part in gone[:-1]:
                    node = node.setdefault(part[2:], {})
                node[gone[-1][2:]] = None
            break
    return patch


def _merge(live: Any, intent: Any) -> Any:
    """A merge patch over the live object (RFC 7386): `null` removes a key."""
    if isinstance(live, dict) and isinstance(intent, dict):
        out = dict(live)
        for k, v in intent.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = _merge(live.get(k), v)
        return out
    return intent
