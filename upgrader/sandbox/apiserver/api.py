"""The Kubernetes API over a FakeCluster: one request in, one response out, no sockets.

`KubeApi.handle` is what the sandbox HTTP server calls for every request; keeping it free of
I/O lets each route be tested with plain values. This module routes (the route table, dry runs,
managed fields around every write, eksup's errors turned into the API server's Status bodies
by http.py) and holds the state the routes share: the change feed behind lists and watches,
list pages, the write lock, and the API-only state (`stores`: namespaces, Secrets, Service
addresses; `managed_fields`). Each kind's routes live in a module of their own (nodes, pods,
workloads, leases, configmaps, services, secrets, namespaces, networking, writes), and take
that state as `state.ApiState`, the Protocol this class fulfils, so none imports this module.

Read-modify-write routes (node patches, lease and config map replaces) hold one lock, so the
resourceVersion they compare is the one they write over.

Lists of nodes, pods and workloads answer `watch=true` too (`kube_server_watch`): a response
whose body is a stream of events, which the HTTP server sends chunked.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from upgrader.core.errors import EksupError
from upgrader.core.kube import Pod, WorkloadKind
from upgrader.sandbox.apiserver import (
    apply,
    discovery,
    leases,
    lists,
    nodes,
    objects,
    pods,
    watch,
    workloads,
)
from upgrader.sandbox.apiserver.configmaps import CONFIG_MAP_ROUTES
from upgrader.sandbox.apiserver.http import (
    HttpError,
    Request,
    Response,
    error_response,
    json_response,
)
from upgrader.sandbox.apiserver.karpenter import KARPENTER_ROUTES
from upgrader.sandbox.apiserver.managed_fields import ManagedFields
from upgrader.sandbox.apiserver.namespaces import NAMESPACE_ROUTES, refuse_new_content
from upgrader.sandbox.apiserver.networking import NETWORKING_ROUTES
from upgrader.sandbox.apiserver.secrets import SECRET_ROUTES
from upgrader.sandbox.apiserver.services import SERVICE_ROUTES
from upgrader.sandbox.apiserver.stores import Addresses, Namespaces, Secrets
from upgrader.sandbox.apiserver.writes import WRITE_ROUTES
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

Json = dict[str, Any]
DEFAULT_WATCH_SECONDS = 1800.0  # a watch without timeoutSeconds; the apiserver picks 30-60 min


_Handler = Callable[["KubeApi", Request, Sequence[str]], Response]


class KubeApi:
    """The routes. `created_at` is when the server started: the age of an object whose source
    gave it no creation time (the FakeCluster dates what it creates by its clock). `pod_json`
    renders a pod's wire JSON in lists and watches (the benchmarks pad it to a production pod's
    size)."""

    def __init__(
        self,
        cluster: FakeCluster,
        now: Callable[[], float],
        *,
        pod_json: Callable[[Pod], Json] = objects.pod,
    ) -> None:
        self.cluster = cluster
        self.now = now
        self.created_at = now()
        self.namespaces = Namespaces()
        self.managed = ManagedFields()
        self.addresses = Addresses()  # Services' cluster IPs and node ports
        self.secrets = Secrets()  # the ones created through the API
        self.write_lock = threading.Lock()
        node_wires, pod_wires = lists.WireCache(objects.node), lists.WireCache(pod_json)
        self._pages = lists.ListPages()
        snapshots: dict[str, Callable[[], watch.Snapshot]] = {
            "nodes": lambda: node_wires.snapshot((n.name, n) for n in cluster.list_nodes()),
            "pods": lambda: pod_wires.snapshot((p.key, p) for p in cluster.list_pods()),
        }
        for resource, kind in objects.WORKLOAD_RESOURCES.items():
            snapshots[resource] = functools.partial(self._workload_snapshot, kind)
        snapshots["poddisruptionbudgets"] = self._pdb_snapshot
        self.feed = watch.ChangeFeed(snapshots, version=lambda: cluster.changes)
        # A workload's JSON is its value's alone (but a Deployment's): rendered once per value.
        self._workload_wires = {
            kind: lists.WireCache(functools.partial(objects.workload, created_at=self.created_at))
            for kind in WorkloadKind
        }
        self._routes: list[tuple[str, list[str], _Handler]] = []
        for method, pattern, handler in _ROUTES:
            self._routes.append((method, pattern.strip("/").split("/"), handler))

    def handle(self, request: Request) -> Response:
        """Route the request; writes record their manager's fields (`apply`), and a single
        object is answered with its managedFields."""
        parts = [p for p in request.path.strip("/").split("/") if p]
        if request.method == "PATCH" and request.content_type.startswith(apply.APPLY_CONTENT_TYPE):
            if request.query.get("dryRun") == "All":
                return self._dry_run(request, parts)
            return apply.server_side_apply(self, request, parts, self._dispatch)
        response = self._dispatch(request)
        if response.code >= 300 or response.stream is not None or not parts:
            return response
        if request.method != "GET" and request.query.get("dryRun") != "All":
            apply.record_update(self, request, parts, response)
        return apply.with_managed_fields(response, self.managed.entries(apply.object_key(parts)[0]))

    def has_route(self, method: str, parts: Sequence[str]) -> bool:
        return self._route(method, parts) is not None

    def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path.strip("/").split("/") if p]
        refused = refuse_new_content(self, request, parts)
        if refused is not None:
            return refused
        found = self._route(request.method, parts)
        if found is not None:
            handler, args = found
            if request.method != "GET" and request.query.get("dryRun") == "All":
                return self._dry_run(request, parts)
            if request.method == "GET":
                return self._call(handler, request, args)
            try:
                return self._call(handler, request, args)
            finally:
                self.feed.nudge()  # watchers see a client's own change without a poll's delay
        known = any(len(p) == len(parts) and _matches(p, parts) for _, p, _ in self._routes)
        if known:
            return json_response(
                405, objects.status(405, "MethodNotAllowed", f"{request.method} not allowed")
            )
        return json_response(
            404, objects.status(404, "NotFound", "the server could not find the requested resource")
        )

    def _route(self, method: str, parts: Sequence[str]) -> tuple[_Handler, list[str]] | None:
        for want_method, pattern, handler in self._routes:
            if want_method != method or len(pattern) != len(parts):
                continue
            args = []
            for want, got in zip(pattern, parts, strict=True):
                if want.startswith("{"):
                    args.append(got)
                elif want != got:
                    break
            else:
                return handler, args
        return None

    def _dry_run(self, request: Request, parts: Sequence[str]) -> Response:
        """A write with dryRun=All: answered, never applied. The sandbox checks what it can,
        that the object written to exists (a create: that the body is JSON), and answers with
        the object as it is; a real API server would also run validation and admission, which
        the FakeCluster does not have."""
        if request.method == "POST" and self._route("GET", [*parts, "x"]) is not None:
            return json_response(201, request.json())  # a create into a collection
        target = parts[:-1] if parts[-1] in _SUBRESOURCES else parts
        found = self._route("GET", target)
        if found is None:
            return json_response(201, request.json())
        read = Request("GET", "/" + "/".join(target), {}, accept="application/json")
        return self._call(found[0], read, found[1])

    def _call(self, handler: _Handler, request: Request, args: Sequence[str]) -> Response:
        try:
            return handler(self, request, args)
        except HttpError as e:
            return json_response(e.code, objects.status(e.code, e.reason, str(e), e.details))
        except EksupError as e:
            resource = request.path.split("/")[-2] if len(args) > 1 else request.path
            return error_response(e, resource, args[-1] if args else "")

    # discovery --------------------------------------------------------------------------------

    def api(self, _: Request, __: Sequence[str]) -> Response:
        return json_response(200, discovery.api_versions())

    def apis(self, _: Request, __: Sequence[str]) -> Response:
        return json_response(200, discovery.api_group_list())

    def core_v1(self, _: Request, __: Sequence[str]) -> Response:
        return json_response(200, discovery.core_resources())

    def group_v1(self, _: Request, args: Sequence[str]) -> Response:
        doc = discovery.group_resources(f"{args[0]}/{args[1]}")
        if doc is None:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        return json_response(200, doc)

    def version(self, _: Request, __: Sequence[str]) -> Response:
        return json_response(200, discovery.version(self.cluster.server_version()))

    def metrics(self, _: Request, __: Sequence[str]) -> Response:
        lines = [
            "# HELP apiserver_requested_deprecated_apis Gauge of deprecated APIs that have been "
            "requested, broken out by API group, version, resource, subresource, and "
            "removed_release.",
            "# TYPE apiserver_requested_deprecated_apis gauge",
        ]
        for r in self.cluster.deprecated_api_requests():
            lines.append(
                f'apiserver_requested_deprecated_apis{{group="{r.group}",'
                f'removed_release="{r.removed_release}",resource="{r.resource}",'
                f'subresource="{r.subresource}",version="{r.version}"}} 1'
            )
        body = ("\n".join(lines) + "\n").encode()
        return Response(200, body, "text/plain; version=0.0.4; charset=utf-8")

    def _workload_snapshot(self, kind: WorkloadKind) -> watch.Snapshot:
        keyed = ((f"{w.namespace}/{w.name}", w) for w in self.cluster.list_workloads(kind))
        if kind is WorkloadKind.DEPLOYMENT:  # its JSON counts its ReplicaSets': not cacheable
            return {key: (w, workloads.workload_json(self, w)) for key, w in keyed}
        return self._workload_wires[kind].snapshot(keyed)

    def _pdb_snapshot(self) -> watch.Snapshot:
        return {
            b.key: (b, objects.pod_disruption_budget(b, self.created_at))
            for b in self.cluster.list_pdbs()
        }

    def empty_list(self, _: Request, __: Sequence[str]) -> Response:
        """Events: nothing to show (describe asks for them)."""
        return json_response(200, objects.object_list("EventList", "v1", []))

    def paged(
        self, request: Request, fresh: Callable[[], tuple[int, Callable[[], list[lists.Item]]]]
    ) -> tuple[Sequence[lists.Item], str, int]:
        """A page of the list the request names: of a fresh snapshot (`fresh` gives its
        revision and a builder of the list), or of the snapshot the continue token names."""
        query = "&".join(
            f"{k}={request.query.get(k, '')}" for k in ("fieldSelector", "labelSelector")
        )
        try:
            limit = int(request.query.get("limit") or 0)
            return self._pages.page(
                f"{request.path}?{query}",
                fresh,
                limit,
                request.query.get("continue", ""),
            )
        except ValueError as e:
            raise HttpError(400, "BadRequest", f"bad limit: {e}") from e
        except lists.ContinueError as e:
            if e.expired:
                raise HttpError(410, "Expired", str(e)) from e
            raise HttpError(400, "BadRequest", str(e)) from e

    # watches ----------------------------------------------------------------------------------

    def watch_response(
        self,
        request: Request,
        resource: str,
        kind: str,
        api_version: str,
        *,
        matches: Callable[[Any], bool],
        table: Callable[[Sequence[Any], str], Json] | None,
    ) -> Response:
        """A watch on `resource`: the events after `resourceVersion`, each rendered as the list
        would render its object (a one-row Table when kubectl asks for Tables)."""
        try:
            timeout = float(request.query.get("timeoutSeconds") or DEFAULT_WATCH_SECONDS)
            since_text = request.query.get("resourceVersion", "")
            since = int(since_text) if since_text not in ("", "0") else None
        except ValueError as e:
            raise HttpError(400, "BadRequest", f"bad watch parameters: {e}") from e
        deadline = time.monotonic() + timeout

        def render(value: Any, wire: Json, revision: int) -> Json:
            if table is None:
                return watch.with_revision(wire, revision)
            rendered = table([value], "")
            rendered["rows"][0]["object"]["metadata"]["resourceVersion"] = str(revision)
            return rendered

        initial: list[bytes] = []
        streaming_list = request.query.get("sendInitialEvents") == "true"
        # Not on Table watches (kubectl get -w): only plain objects carry a bookmark here.
        bookmarks = request.query.get("allowWatchBookmarks") == "true" and table is None
        if since is None or streaming_list:
            # No resourceVersion: the current objects first, as synthetic ADDED events.
            revision, items = self.feed.current(resource)
            initial = [
                watch.event_line("ADDED", render(value, wire, revision))
                for _, value, wire in items
                if matches(value)
            ]
            if streaming_list:
                initial.append(
                    watch.event_line(
                        "BOOKMARK",
                        watch.bookmark(kind, api_version, revision, initial_events_end=True),
                    )
                )
            since = revision

        def stream(since: int) -> Iterator[bytes]:
            yield from initial
            try:
                for event in self.feed.events(resource, since, deadline, bookmarks=bookmarks):
                    if event.type == "BOOKMARK":
                        yield watch.event_line(
                            "BOOKMARK", watch.bookmark(kind, api_version, event.revision)
                        )
                    elif (sent := watch.filtered(event, matches)) is not None:
                        yield watch.event_line(sent[0], render(sent[1], sent[2], event.revision))
            except watch.ExpiredError as e:
                yield watch.event_line("ERROR", watch.expired_status(str(e)))

        return Response(200, b"", stream=stream(since))


def _matches(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    return all(w.startswith("{") or w == g for w, g in zip(pattern, parts, strict=True))


_SUBRESOURCES = frozenset({"eviction", "scale", "status"})

_ROUTES: list[tuple[str, str, _Handler]] = [
    ("GET", "/api", KubeApi.api),
    ("GET", "/apis", KubeApi.apis),
    ("GET", "/api/v1", KubeApi.core_v1),
    ("GET", "/apis/{group}/{version}", KubeApi.group_v1),
    ("GET", "/version", KubeApi.version),
    ("GET", "/metrics", KubeApi.metrics),
    ("GET", "/api/v1/nodes", nodes.list_nodes),
    ("GET", "/api/v1/nodes/{name}", nodes.get_node),
    ("PATCH", "/api/v1/nodes/{name}", nodes.patch_node),
    ("GET", "/api/v1/pods", pods.list_pods),
    ("GET", "/api/v1/namespaces/{ns}/pods", pods.list_pods),
    ("GET", "/api/v1/namespaces/{ns}/pods/{name}", pods.get_pod),
    ("DELETE", "/api/v1/namespaces/{ns}/pods/{name}", pods.delete_pod),
    ("POST", "/api/v1/namespaces/{ns}/pods/{name}/eviction", pods.evict_pod),
    ("GET", "/api/v1/persistentvolumes", workloads.list_persistent_volumes),
    ("GET", "/api/v1/events", KubeApi.empty_list),
    ("GET", "/api/v1/namespaces/{ns}/events", KubeApi.empty_list),
    ("GET", "/apis/policy/v1/poddisruptionbudgets", workloads.list_pdbs),
    ("GET", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", workloads.list_pdbs),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}", leases.get_lease),
    ("POST", "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", leases.create_lease),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}", leases.replace_lease),
    (
        "DELETE",
        "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}",
        leases.delete_lease,
    ),
    ("GET", "/apis/apps/v1/{resource}", workloads.list_workloads),
    ("GET", "/apis/batch/v1/{resource}", workloads.list_workloads),
    ("GET", "/apis/apps/v1/namespaces/{ns}/{resource}", workloads.list_workloads),
    ("GET", "/apis/batch/v1/namespaces/{ns}/{resource}", workloads.list_workloads),
    ("GET", "/apis/apps/v1/namespaces/{ns}/{resource}/{name}", workloads.get_workload),
    ("GET", "/apis/batch/v1/namespaces/{ns}/{resource}/{name}", workloads.get_workload),
    ("PATCH", "/apis/apps/v1/namespaces/{ns}/{resource}/{name}", workloads.patch_workload),
    ("PATCH", "/apis/batch/v1/namespaces/{ns}/{resource}/{name}", workloads.patch_workload),
    *WRITE_ROUTES,
    *NAMESPACE_ROUTES,
    *NETWORKING_ROUTES,
    *KARPENTER_ROUTES,
    *SERVICE_ROUTES,
    *SECRET_ROUTES,
    *CONFIG_MAP_ROUTES,
]
