"""Namespaces on the sandbox server: `kubectl create namespace`, `get ns`, `describe ns`,
`delete ns`.

The FakeCluster has no Namespace objects: any namespace an object names exists for it. The
server lists those, the four every EKS cluster starts with, and the ones created through the
API (dated by the sandbox clock when they were created).

Deleting one does what Kubernetes does:
- `default`, `kube-system` and `kube-public` may not be deleted (403; the NamespaceLifecycle
  admission plugin's immortal namespaces, k8s.io/apiserver
  pkg/admission/plugin/namespace/lifecycle/admission.go).
- Otherwise the namespace goes Terminating (a deletionTimestamp, `status.phase: Terminating`),
  and from then on nothing new may be created in it, evictions included (403 "unable to
  create new content in namespace X because it is being terminated", the same plugin).
- The namespace controller deletes everything in it (pkg/controller/namespace/deletion/
  namespaced_resources_deleter.go): here the workloads (their pods go as the garbage collector
  takes them, gracefully), the remaining pods, PDBs, Services, ConfigMaps and Secrets. Pods
  take their grace period on the sandbox clock, as on a kubelet.
- When nothing is left, the `kubernetes` finalizer is removed and the namespace is gone (404).
  The sandbox checks that whenever the namespace is read, listed or watched.
`kube-node-lease` may be deleted, and the API server creates it again at once (the
systemnamespaces controller of pkg/controlplane), as it is one of the four listed always.
Not modelled: the fake cannot delete Ingresses, HTTPRoutes, HPAs or Helm releases, so those
stay behind, as objects the sandbox's kubectl routes cannot create either.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import encode
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.sandbox.apiserver import objects, tables, watch
from upgrader.sandbox.apiserver.http import HttpError, Request, Response, json_response
from upgrader.sandbox.apiserver.stores import BUILT_IN
from upgrader.sandbox.apiserver.writes import BadRequestError

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]
_POLL_SECONDS = 0.1  # a namespace watch looks for namespaces gone this often (real seconds)
# NamespaceLifecycle admission's immortal namespaces: DELETE is refused (403).
IMMORTAL = ("default", "kube-public", "kube-system")


def _with_content(api: ApiState) -> dict[str, float]:
    """The namespaces objects name, each dated by its oldest object."""
    cluster = api.cluster
    born: dict[str, float] = {}
    dated = [
        *((p.namespace, p.created_at) for p in cluster.list_pods()),
        *((w.namespace, w.created_at) for w in cluster.list_workloads()),
        *((b.namespace, b.created_at) for b in cluster.list_pdbs()),
        *((s.namespace, s.created_at) for s in cluster.list_services()),
        *((c.namespace, c.created_at) for c in cluster.list_config_maps()),
        *((s.namespace, s.created_at) for s in api.secrets.list()),
    ]
    for namespace, stamp in dated:
        when = stamp or api.created_at
        born[namespace] = min(born.get(namespace, when), when)
    return born


def _in_use(api: ApiState) -> dict[str, float]:
    """The namespaces objects name, and the built-in ones (dated by the oldest object of all:
    they came with the cluster)."""
    born = _with_content(api)
    first = min(born.values(), default=api.created_at)
    for namespace in BUILT_IN:
        born[namespace] = min(born.get(namespace, first), first)
    born.update(api.namespaces.recreated())
    return born


def _all(api: ApiState) -> dict[str, float]:
    _finish(api)
    created = api.namespaces.created()
    known = {n: t for n, t in _in_use(api).items() if n not in created}
    return dict(sorted({**known, **created}.items()))


def _wire(name: str, created_at: float, deleted_at: float | None = None) -> Json:
    wire: Json = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": objects.uid_for("Namespace", name, str(created_at)),
            "resourceVersion": "1",
            "creationTimestamp": encode.timestamp(created_at),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    if deleted_at is not None:
        wire["metadata"]["deletionTimestamp"] = encode.timestamp(deleted_at)
        wire["status"]["phase"] = "Terminating"
    return wire


def _phase(api: ApiState, name: str) -> str:
    return "Terminating" if name in api.namespaces.terminating() else "Active"


def _render(api: ApiState, name: str, created_at: float) -> Json:
    return _wire(name, created_at, api.namespaces.terminating().get(name))


def _table(api: ApiState, items: dict[str, float]) -> Json:
    now = api.now()
    rows = [
        ([n, _phase(api, n), tables.age(now - t)], _render(api, n, t)) for n, t in items.items()
    ]
    return tables.table([("Name", 0), ("Status", 0), ("Age", 0)], rows)


def list_namespaces(api: ApiState, request: Request, _: Sequence[str]) -> Response:
    if request.query.get("watch", "") in ("true", "1"):
        return watch_namespaces(api, request)

    items = _all(api)
    if request.wants_table:
        return json_response(200, _table(api, items))
    wire = (_render(api, n, t) for n, t in items.items())
    return json_response(200, objects.object_list("NamespaceList", "v1", wire))


def get_namespace(api: ApiState, request: Request, args: Sequence[str]) -> Response:

    name = args[0]
    items = _all(api)
    if name not in items:
        raise NotFoundError(f'namespaces "{name}" not found')
    if request.wants_table:
        return json_response(200, _table(api, {name: items[name]}))
    return json_response(200, _render(api, name, items[name]))


def patch_namespace(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    """Accepted for an existing namespace (`kubectl apply` of a manifest that names one); the
    fake keeps no namespace labels or annotations, so nothing changes."""
    return get_namespace(api, request, args)


def create_namespace(api: ApiState, request: Request, _: Sequence[str]) -> Response:

    name = str((request.json().get("metadata") or {}).get("name") or "")
    if not name:
        raise BadRequestError("metadata.name: Required value")
    _finish(api)
    if name in _in_use(api) and name not in api.namespaces.terminating():
        raise ConflictError(f'namespaces "{name}" already exists')
    return json_response(201, _wire(name, api.namespaces.create(name, api.now())))


def delete_namespace(api: ApiState, _: Request, args: Sequence[str]) -> Response:
    """The namespace goes Terminating and its content is deleted; the answer is the
    Namespace as it now is (200), as the API server answers a delete that waits on a
    finalizer."""
    name = args[0]
    if name in IMMORTAL:
        message = f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        details = {"name": name, "kind": "namespaces"}
        raise HttpError(403, "Forbidden", message, details)
    items = _all(api)
    if name not in items:
        raise NotFoundError(f'namespaces "{name}" not found')
    deleted_at = api.namespaces.terminate(name, api.now())
    _delete_content(api, name)
    return json_response(200, _wire(name, items[name], deleted_at))


def _delete_content(api: ApiState, namespace: str) -> None:
    """What the namespace controller deletes, with the default (background) propagation."""
    cluster = api.cluster
    for workload in cluster.list_workloads(namespace=namespace):
        if workload.owner is None:  # the owned ones go with their owner
            with contextlib.suppress(NotFoundError):
                cluster.delete_workload(workload.kind, namespace, workload.name)
    for pod in cluster.list_pods(namespace):
        if pod.deletion_timestamp is None:
            with contextlib.suppress(NotFoundError):
                cluster.delete_pod(namespace, pod.name)
    for budget in cluster.list_pdbs(namespace):
        cluster.delete_pdb(namespace, budget.name)
    for service in cluster.list_services(namespace):
        cluster.delete_service(namespace, service.name)
    for config_map in cluster.list_config_maps(namespace):
        cluster.delete_config_map(namespace, config_map.name)
    for secret in api.secrets.list(namespace):
        api.secrets.delete(namespace, secret.name)
    api.managed.forget_namespace(namespace)
    api.feed.nudge()


def _finish(api: ApiState) -> None:
    """A terminating namespace with nothing left in it is gone (the finalizer removed)."""
    doomed = api.namespaces.terminating()
    if not doomed:
        return
    left = _with_content(api)
    for name in doomed:
        if name not in left:
            api.namespaces.gone(name, api.now())


def refuse_new_content(api: ApiState, request: Request, parts: Sequence[str]) -> Response | None:
    """403 for a create (an eviction is one) into a terminating namespace."""
    if request.method != "POST" or "namespaces" not in parts[:-2]:
        return None
    at = parts.index("namespaces")
    namespace = parts[at + 1]
    if namespace not in api.namespaces.terminating():
        return None
    _finish(api)
    if namespace not in api.namespaces.terminating():
        return None
    resource = parts[at + 2]
    if parts[-1] == "eviction":  # pods/NAME/eviction
        name = parts[-2]
    else:
        try:
            name = str((request.json().get("metadata") or {}).get("name") or "")
        except HttpError:
            name = ""
    message = (
        f'{resource} "{name}" is forbidden: unable to create new content in namespace '
        f"{namespace} because it is being terminated"
    )
    cause = {"type": "NamespaceTerminating", "message": message, "field": "metadata.namespace"}
    details = {"name": name, "kind": resource, "causes": [cause]}
    return json_response(403, objects.status(403, "Forbidden", message, details))


def watch_namespaces(api: ApiState, request: Request) -> Response:
    """A watch on namespaces (`kubectl delete ns` waits on one for its namespace to go): the
    current ones first when asked from no resourceVersion, then DELETED for each one that
    goes, until the timeout."""
    try:
        timeout = float(request.query.get("timeoutSeconds") or 1800)
    except ValueError as e:
        raise HttpError(400, "BadRequest", f"bad watch parameters: {e}") from e
    wanted = _name_selector(request)
    deadline = time.monotonic() + timeout

    def stream() -> Iterator[bytes]:
        seen = {n: t for n, t in _all(api).items() if wanted in (None, n)}
        streaming_list = request.query.get("sendInitialEvents") == "true"
        if streaming_list or request.query.get("resourceVersion", "") in ("", "0"):
            for n, t in seen.items():
                yield watch.event_line("ADDED", _render(api, n, t))
        if streaming_list:  # `kubectl wait` lists by watching: end the list with a bookmark
            end = watch.bookmark("Namespace", "v1", 1, initial_events_end=True)
            yield watch.event_line("BOOKMARK", end)
        while time.monotonic() < deadline:
            now = {n: t for n, t in _all(api).items() if wanted in (None, n)}
            for n, t in seen.items():
                if now.get(n) != t:  # gone, or gone and made again (a new uid)
                    yield watch.event_line("DELETED", _wire(n, t, api.now()))
                    if n in now:
                        yield watch.event_line("ADDED", _render(api, n, now[n]))
            seen = now
            time.sleep(_POLL_SECONDS)

    return Response(200, b"", stream=stream())


def _name_selector(request: Request) -> str | None:
    for clause in filter(None, request.query.get("fieldSelector", "").split(",")):
        field_name, _, value = clause.partition("=")
        if field_name.rstrip("=") == "metadata.name":
            return value.lstrip("=")
        raise HttpError(400, "BadRequest", f'field label not supported: "{field_name}"')
    return None


NAMESPACE_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/namespaces", list_namespaces),
    ("POST", "/api/v1/namespaces", create_namespace),
    ("GET", "/api/v1/namespaces/{name}", get_namespace),
    ("PATCH", "/api/v1/namespaces/{name}", patch_namespace),
    ("DELETE", "/api/v1/namespaces/{name}", delete_namespace),
]
