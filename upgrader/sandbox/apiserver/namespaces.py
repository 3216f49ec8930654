"""Namespaces on the sandbox server: `kubectl create namespace`, `get ns`, `describe ns`.

The FakeCluster has no Namespace objects: any namespace an object names exists for it. The
server lists those, the four every EKS cluster starts with, and the ones created through the
API (dated by the sandbox clock when they were created). Deleting a namespace is not offered:
in Kubernetes that deletes everything in it through the namespace controller, which the fake
does not model, so DELETE answers 405 rather than pretend.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.sandbox.apiserver import objects
from upgrader.sandbox.apiserver.http import Request, Response, json_response
from upgrader.sandbox.apiserver.writes import BadRequestError

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.api import KubeApi

Json = dict[str, Any]
# A new EKS cluster's namespaces (kube-apiserver creates the last three; `default` is built in).
BUILT_IN = ("default", "kube-node-lease", "kube-public", "kube-system")


class Namespaces:
    """Namespaces created through the API, with their creation times."""

    def __init__(self) -> None:
        self._created: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, name: str, now: float) -> float:
        with self._lock:
            if name in self._created:
                raise ConflictError(f'namespaces "{name}" already exists')
            self._created[name] = now
            return now

    def created(self) -> dict[str, float]:
        with self._lock:
            return dict(self._created)


def _in_use(api: KubeApi) -> dict[str, float]:
    """The namespaces objects name, each dated by its oldest object (the built-in ones by the
    oldest object of all: they came with the cluster)."""
    cluster = api.cluster
    born: dict[str, float] = {}
    dated = [
        *((p.namespace, p.created_at) for p in cluster.list_pods()),
        *((w.namespace, w.created_at) for w in cluster.list_workloads()),
        *((b.namespace, b.created_at) for b in cluster.list_pdbs()),
        *((s.namespace, s.created_at) for s in cluster.list_services()),
        *((c.namespace, c.created_at) for c in cluster.list_config_maps()),
    ]
    for namespace, stamp in dated:
        when = stamp or api.created_at
        born[namespace] = min(born.get(namespace, when), when)
    first = min(born.values(), default=api.created_at)
    for namespace in BUILT_IN:
        born[namespace] = min(born.get(namespace, first), first)
    return born


def _all(api: KubeApi) -> dict[str, float]:
    created = api.namespaces.created()
    known = {n: t for n, t in _in_use(api).items() if n not in created}
    return dict(sorted({**known, **created}.items()))


def _wire(name: str, created_at: float) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": objects.uid_for("Namespace", name),
            "resourceVersion": "1",
            "creationTimestamp": objects.timestamp(created_at),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _table(api: KubeApi, items: dict[str, float]) -> Json:
    now = api.now()
    rows = [([n, "Active", objects.age(now - t)], _wire(n, t)) for n, t in items.items()]
    return objects.table([("Name", 0), ("Status", 0), ("Age", 0)], rows)


def list_namespaces(api: KubeApi, request: Request, _: Sequence[str]) -> Response:

    items = _all(api)
    if request.wants_table:
        return json_response(200, _table(api, items))
    wire = (_wire(n, t) for n, t in items.items())
    return json_response(200, objects.object_list("NamespaceList", "v1", wire))


def get_namespace(api: KubeApi, request: Request, args: Sequence[str]) -> Response:

    name = args[0]
    items = _all(api)
    if name not in items:
        raise NotFoundError(f'namespaces "{name}" not found')
    if request.wants_table:
        return json_response(200, _table(api, {name: items[name]}))
    return json_response(200, _wire(name, items[name]))


def patch_namespace(api: KubeApi, request: Request, args: Sequence[str]) -> Response:
    """Accepted for an existing namespace (`kubectl apply` of a manifest that names one); the
    fake keeps no namespace labels or annotations, so nothing changes."""
    return get_namespace(api, request, args)


def create_namespace(api: KubeApi, request: Request, _: Sequence[str]) -> Response:

    name = str((request.json().get("metadata") or {}).get("name") or "")
    if not name:
        raise BadRequestError("metadata.name: Required value")
    if name in _in_use(api):
        raise ConflictError(f'namespaces "{name}" already exists')
    return json_response(201, _wire(name, api.namespaces.create(name, api.now())))


NAMESPACE_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/namespaces", list_namespaces),
    ("POST", "/api/v1/namespaces", create_namespace),
    ("GET", "/api/v1/namespaces/{name}", get_namespace),
    ("PATCH", "/api/v1/namespaces/{name}", patch_namespace),
]
