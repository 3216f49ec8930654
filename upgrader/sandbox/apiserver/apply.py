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
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import encode
from upgrader.core import loaders
from upgrader.core.errors import UserError
from upgrader.sandbox.apiserver import objects, protobuf
from upgrader.sandbox.apiserver.http import Request, Response, json_response

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.api import KubeApi

Json = dict[str, Any]
Path = tuple[str, ...]  # FieldsV1 keys: "f:spec", "f:replicas", 'k:{"name":"main"}'
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


def fields_v1(paths: Iterator[Path] | Sequence[Path]) -> Json:
    tree: Json = {}
    for path in paths:
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def _dotted(path: Path) -> str:
    """A conflict's field as the API server names it: .spec.replicas, .spec...[name="main"]."""
    text = ""
    for part in path:
        if part.startswith("f:"):
            text += "." + part[2:]
        elif part.startswith("k:"):
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(part[2:]).items())
            text += "]"
    return text


@dataclass
class _Entry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: float
    subresource: str = ""
    values: dict[Path, Any] = field(default_factory=dict)

    def wire(self) -> Json:
        entry: Json = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": encode.timestamp(self.time),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(sorted(self.values)),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


class ConflictsError(Exception):
    def __init__(self, conflicts: Sequence[tuple[str, str, Path]]) -> None:
        self.conflicts = conflicts
        lines = [f'conflict with "{m}" using {v}: {_dotted(p)}' for m, v, p in conflicts]
        count = len(lines)
        head = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: "
        super().__init__(head + "\n".join(lines) if count > 1 else head + lines[0])


class ManagedFields:
    """Each object's managers (keyed by the object's URL path), in the order they first wrote."""

    def __init__(self) -> None:
        self._objects: dict[str, list[_Entry]] = {}
        self._lock = threading.Lock()

    def entries(self, key: str) -> list[Json]:
        with self._lock:
            return [e.wire() for e in self._objects.get(key, []) if e.values]

    def forget(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)

    def forget_namespace(self, namespace: str) -> None:
        """Every object of a deleted namespace."""
        with self._lock:
            for key in [k for k in self._objects if f"/namespaces/{namespace}/" in k]:
                del self._objects[key]

    def update(self, key: str, entry: _Entry) -> None:
        """An Update: the manager owns what it wrote, and no one else owns a field it changed."""
        with self._lock:
            entries = self._objects.setdefault(key, [])
            for other in entries:
                if (other.manager, other.operation, other.subresource) != (
                    entry.manager,
                    entry.operation,
                    entry.subresource,
                ):
                    for path, value in entry.values.items():
                        if path in other.values and other.values[path] != value:
                            del other.values[path]
            self._merge(entries, entry, replace_values=False)

    def conflicts(self, key: str, entry: _Entry) -> list[tuple[str, str, Path]]:
        """Fields of an Apply that another manager set to another value."""
        with self._lock:
            return self._conflicts(self._objects.get(key, []), entry)

    @staticmethod
    def _conflicts(entries: Sequence[_Entry], entry: _Entry) -> list[tuple[str, str, Path]]:
        return [
            (other.manager, other.api_version, path)
            for other in entries
            if other.manager != entry.manager or other.operation != "Apply"
            for path, value in entry.values.items()
            if path in other.values and other.values[path] != value
        ]

    def released(self, key: str, entry: _Entry) -> list[Path]:
        """The fields this manager applied last time, leaves out now, and no other manager
        owns: the ones the apply removes from the object ("Field management": "If the field
        is not owned by any other field managers, it is either deleted from the live object
        or reset to its default value")."""
        with self._lock:
            entries = self._objects.get(key, [])
            mine = (entry.manager, "Apply", entry.subresource)
            before = next(
                (e for e in entries if (e.manager, e.operation, e.subresource) == mine), None
            )
            if before is None:
                return []
            others = [e for e in entries if e is not before]
            return [
                path
                for path in before.values
                if path not in entry.values and not any(path in o.values for o in others)
            ]

    def apply(self, key: str, entry: _Entry) -> None:
        """An Apply that was allowed (no conflict, or forced): the manager takes the
        conflicting fields and owns exactly the fields of this apply."""
        with self._lock:
            entries = self._objects.setdefault(key, [])
            for manager, _, path in self._conflicts(entries, entry):
                for other in entries:
                    if other.manager == manager:
                        other.values.pop(path, None)
            self._merge(entries, entry, replace_values=True)

    @staticmethod
    def _merge(entries: list[_Entry], entry: _Entry, *, replace_values: bool) -> None:
        for i, mine in enumerate(entries):
            if (mine.manager, mine.operation, mine.subresource) == (
                entry.manager,
                entry.operation,
                entry.subresource,
            ):
                values = entry.values if replace_values else {**mine.values, **entry.values}
                entries[i] = replace(entry, values=values)
                return
        entries.append(entry)


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


def record_update(api: KubeApi, request: Request, parts: Sequence[str], response: Response) -> None:
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
    entry = _Entry(manager, "Update", _api_version(parts), api.now(), subresource, values)
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
    api: KubeApi,
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
    entry = _Entry(manager, "Apply", _api_version(parts), api.now(), subresource, leaves(intent))
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
                    "field": _dotted(path),
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
    api: KubeApi,
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
