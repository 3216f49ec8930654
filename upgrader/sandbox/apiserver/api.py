"""The Kubernetes API's routes over a FakeCluster: one request in, one response out, no sockets.

`KubeApi.handle` is what the sandbox HTTP server calls for every request; keeping it free of
I/O lets each route be tested with plain values. eksup's errors become the Status bodies and
codes the real API server sends (kubectl_wire.md §8): 404 NotFound, 409 Conflict, 429 for an
eviction a PDB refuses (with the PDB named in `details.causes`), 500 for a pod under several
PDBs, 403 for a terminating namespace.

Read-modify-write routes (node patches, lease and config map replaces) hold one lock, so the
resourceVersion they compare is the one they write over.

Lists of nodes, pods and workloads answer `watch=true` too (`kube_server_watch`): a response
whose body is a stream of events, which the HTTP server sends chunked.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs

from upgrader.core.errors import (
    ConflictError,
    EksupError,
    EvictionBlockedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
    ServiceUnavailableError,
    TemporaryError,
    ThrottledError,
    UserError,
)
from upgrader.core.kube import Node, Pod, Workload, WorkloadKind
from upgrader.core.label_selector import parse_label_selector
from upgrader.sandbox.apiserver import apply, discovery, lists, objects, protobuf, watch
from upgrader.sandbox.apiserver.namespaces import NAMESPACE_ROUTES, Namespaces
from upgrader.sandbox.apiserver.networking import NETWORKING_ROUTES
from upgrader.sandbox.apiserver.writes import WRITE_ROUTES, workload_table
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

Json = dict[str, Any]
_EVICTION_REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."
_RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
DEFAULT_WATCH_SECONDS = 1800.0  # a watch without timeoutSeconds; the apiserver picks 30-60 min


@dataclass(frozen=True)
class Response:
    code: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None  # a watch: sent chunked, `body` unused


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    accept: str = ""
    content_type: str = ""
    body: bytes = b""
    user_agent: str = ""

    @classmethod
    def parse(
        cls, method: str, target: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Request:
        path, _, raw_query = target.partition("?")
        query = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
        return cls(
            method=method,
            path=path.rstrip("/") or "/",
            query=query,
            accept=headers.get("Accept", ""),
            content_type=headers.get("Content-Type", ""),
            body=body,
            user_agent=headers.get("User-Agent", ""),
        )

    def json(self) -> Json:
        """The body as JSON. The Python client sends POST and PUT with no Content-Type."""
        if not self.body:
            return {}
        if "protobuf" in self.content_type:
            try:
                return protobuf.decode(self.body)
            except protobuf.ProtobufError as e:
                raise _HttpError(415, "UnsupportedMediaType", str(e)) from e
        try:
            value = json.loads(self.body)
        except ValueError as e:
            raise _HttpError(400, "BadRequest", f"the body is not JSON: {e}") from e
        if not isinstance(value, dict):
            raise _HttpError(400, "BadRequest", "the body is not a JSON object")
        return value

    @property
    def wants_table(self) -> bool:
        return "as=Table" in self.accept


class _HttpError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: Json | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.details = code, reason, details or {}


def _json(code: int, value: Json) -> Response:
    return Response(code, json.dumps(value, separators=(",", ":")).encode())


def _error_response(error: EksupError, resource: str, name: str) -> Response:
    message = str(error)
    details: Json = {"name": name, "kind": resource}
    if isinstance(error, EvictionBlockedError):
        cause = message.removeprefix(_EVICTION_REFUSED.rstrip(".")).lstrip(". ")
        details = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
        return _json(429, objects.status(429, "TooManyRequests", _EVICTION_REFUSED, details))
    if isinstance(error, MultiplePdbsError):
        return _json(500, objects.status(500, "InternalError", message))
    if isinstance(error, NamespaceTerminatingError):
        details["causes"] = [{"type": "NamespaceTerminating", "message": message}]
        return _json(403, objects.status(403, "Forbidden", message, details))
    if isinstance(error, NotFoundError):
        return _json(404, objects.status(404, "NotFound", message, details))
    if isinstance(error, ConflictError):
        reason = "AlreadyExists" if "already exists" in message else "Conflict"
        return _json(409, objects.status(409, reason, message, details))
    if isinstance(error, ThrottledError):
        return _json(429, objects.status(429, "TooManyRequests", message, details))
    if isinstance(error, ServiceUnavailableError | TemporaryError):
        return _json(503, objects.status(503, "ServiceUnavailable", message, details))
    if isinstance(error, UserError):
        return _json(422, objects.status(422, "Invalid", message, details))
    return _json(500, objects.status(500, "InternalError", message, details))


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
        self.managed = apply.ManagedFields()
        self._write_lock = threading.Lock()
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
            return _json(
                405, objects.status(405, "MethodNotAllowed", f"{request.method} not allowed")
            )
        return _json(
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
            return _json(201, request.json())  # a create into a collection
        target = parts[:-1] if parts[-1] in _SUBRESOURCES else parts
        found = self._route("GET", target)
        if found is None:
            return _json(201, request.json())
        read = Request("GET", "/" + "/".join(target), {}, accept="application/json")
        return self._call(found[0], read, found[1])

    def _call(self, handler: _Handler, request: Request, args: Sequence[str]) -> Response:
        try:
            return handler(self, request, args)
        except _HttpError as e:
            return _json(e.code, objects.status(e.code, e.reason, str(e), e.details))
        except EksupError as e:
            resource = request.path.split("/")[-2] if len(args) > 1 else request.path
            return _error_response(e, resource, args[-1] if args else "")

    # discovery --------------------------------------------------------------------------------

    def api(self, _: Request, __: Sequence[str]) -> Response:
        return _json(200, discovery.api_versions())

    def apis(self, _: Request, __: Sequence[str]) -> Response:
        return _json(200, discovery.api_group_list())

    def core_v1(self, _: Request, __: Sequence[str]) -> Response:
        return _json(200, discovery.core_resources())

    def group_v1(self, _: Request, args: Sequence[str]) -> Response:
        doc = discovery.group_resources(f"{args[0]}/{args[1]}")
        if doc is None:
            raise _HttpError(404, "NotFound", "the server could not find the requested resource")
        return _json(200, doc)

    def version(self, _: Request, __: Sequence[str]) -> Response:
        return _json(200, discovery.version(self.cluster.server_version()))

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

    # nodes ------------------------------------------------------------------------------------

    def list_nodes(self, request: Request, _: Sequence[str]) -> Response:
        matches = _node_matcher(request)
        if _is_watch(request):
            table = self._node_table if request.wants_table else None
            return self._watch(request, "nodes", "Node", "v1", matches=matches, table=table)

        def fresh() -> tuple[int, Callable[[], list[lists.Item]]]:
            revision, state = self.feed.snapshot("nodes")
            return revision, lambda: [i for i in state.values() if matches(i[0])]

        items, cont, revision = self._paged(request, fresh)
        if request.wants_table:
            return _listed(self._node_table([n for n, _ in items], cont), revision)
        return _list_response("NodeList", "v1", revision, items, cont)

    def get_node(self, request: Request, args: Sequence[str]) -> Response:
        node = self.cluster.get_node(args[0])
        if request.wants_table:
            return _json(200, self._node_table([node], ""))
        return _json(200, objects.node(node))

    def patch_node(self, request: Request, args: Sequence[str]) -> Response:
        if "json-patch" in request.content_type:
            raise _HttpError(415, "UnsupportedMediaType", "JSON patches are not supported here")
        patch = request.json()
        name = args[0]
        with self._write_lock:
            node = self.cluster.get_node(name)
            meta = patch.get("metadata") or {}
            wanted_version = meta.get("resourceVersion")
            if wanted_version and wanted_version != objects.version_of(node):
                raise ConflictError(
                    f'Operation cannot be fulfilled on nodes "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again"
                )
            if isinstance(meta.get("labels"), dict):
                node = self.cluster.label_node(name, meta["labels"])
            spec = patch.get("spec") or {}
            if "unschedulable" in spec and bool(spec["unschedulable"]) != node.unschedulable:
                node = self.cluster.set_unschedulable(name, bool(spec["unschedulable"]))
            if "taints" in spec:
                node = self._set_taints(node, spec["taints"] or [])
        return _json(200, objects.node(node))

    def _set_taints(self, node: Node, wire: Sequence[Mapping[str, Any]]) -> Node:
        """A merge patch replaces the list; the fake changes taints one by one, so diff."""
        try:
            wanted = [objects.parse_taint(t) for t in wire]
        except (KeyError, ValueError) as e:
            raise _HttpError(422, "Invalid", f"invalid taint: {e}") from e
        for old in node.taints:
            if old not in wanted:
                node = self.cluster.remove_taint(node.name, old.key, old.effect)
        for new in wanted:
            if new not in node.taints:
                node = self.cluster.add_taint(node.name, new)
        return node

    def _node_table(self, nodes: Sequence[Node], cont: str) -> Json:
        now = self.now()
        columns = [
            ("Name", 0),
            ("Status", 0),
            ("Roles", 0),
            ("Age", 0),
            ("Version", 0),
            ("Internal-IP", 1),
            ("External-IP", 1),
            ("OS-Image", 1),
            ("Kernel-Version", 1),
            ("Container-Runtime", 1),
        ]
        rows = []
        for n in nodes:
            wire = objects.node(n)
            info = wire["status"]["nodeInfo"]
            cells = [
                n.name,
                objects.node_status_text(n),
                "<none>",
                objects.age(now - n.created_at),
                n.kubelet_version,
                objects.node_ip(n.name),
                "<none>",
                info["osImage"],
                info["kernelVersion"],
                info["containerRuntimeVersion"],
            ]
            rows.append((cells, wire))
        return objects.table(columns, rows, cont)

    # pods -------------------------------------------------------------------------------------

    def list_pods(self, request: Request, args: Sequence[str]) -> Response:
        namespace = args[0] if args else None
        checks = _field_selector(request.query.get("fieldSelector", ""), _POD_FIELDS)
        labels = parse_label_selector(request.query.get("labelSelector") or "")

        def matches(pod: Pod) -> bool:
            return (
                (namespace is None or pod.namespace == namespace)
                and labels.matches(pod.labels)
                and all(_field_matches(_POD_FIELDS, pod, c) for c in checks)
            )

        if _is_watch(request):
            table = self._pod_table if request.wants_table else None
            return self._watch(request, "pods", "Pod", "v1", matches=matches, table=table)
        node_name = next((v for f, op, v in checks if f == "spec.nodeName" and op == "="), None)

        def fresh() -> tuple[int, Callable[[], list[lists.Item]]]:
            revision, state = self.feed.snapshot("pods")

            def build() -> list[lists.Item]:
                if namespace is None and node_name is None:
                    candidates: Iterable[lists.Item] = state.values()
                else:  # the cluster's indexes pick the candidates; the snapshot has their state
                    keys = (p.key for p in self.cluster.list_pods(namespace, node_name))
                    candidates = (state[k] for k in keys if k in state)
                return [i for i in candidates if matches(i[0])]

            return revision, build

        items, cont, revision = self._paged(request, fresh)
        if request.wants_table:
            return _listed(self._pod_table([p for p, _ in items], cont), revision)
        return _list_response("PodList", "v1", revision, items, cont)

    def get_pod(self, request: Request, args: Sequence[str]) -> Response:
        pod = self.cluster.get_pod(args[0], args[1])
        if request.wants_table:
            return _json(200, self._pod_table([pod], ""))
        return _json(200, objects.pod(pod))

    def delete_pod(self, request: Request, args: Sequence[str]) -> Response:
        grace = request.query.get("gracePeriodSeconds")
        if grace is None and request.body:
            grace = request.json().get("gracePeriodSeconds")
        pod = self.cluster.get_pod(args[0], args[1])
        self.cluster.delete_pod(args[0], args[1], int(grace) if grace is not None else None)
        return _json(200, objects.pod(pod))

    def evict_pod(self, request: Request, args: Sequence[str]) -> Response:
        options = request.json().get("deleteOptions") or {}
        grace = options.get("gracePeriodSeconds")
        self.cluster.evict_pod(args[0], args[1], int(grace) if grace is not None else None)
        return _json(201, objects.status(201, "", ""))

    def _pod_table(self, pods: Sequence[Pod], cont: str) -> Json:
        now = self.now()
        columns = [
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1),
        ]
        rows = []
        for p in pods:
            wire = objects.pod(p)
            cells = [
                p.name,
                f"{1 if p.ready else 0}/1",
                objects.pod_status_text(p),
                p.restart_count,
                objects.age(now - p.created_at),
                wire["status"].get("podIP", "<none>"),
                p.node_name or "<none>",
                "<none>",
                "<none>",
            ]
            rows.append((cells, wire))
        return objects.table(columns, rows, cont)

    # workloads, budgets, services -------------------------------------------------------------

    def list_workloads(self, request: Request, args: Sequence[str]) -> Response:
        *namespace, resource = args
        kind = _workload_kind(resource)
        matches = _workload_matcher(request, namespace[0] if namespace else None)
        api_version = "batch/v1" if kind is WorkloadKind.JOB else "apps/v1"
        if _is_watch(request):
            return self._watch(
                request, resource, kind.value, api_version, matches=matches, table=None
            )

        def fresh() -> tuple[int, Callable[[], list[lists.Item]]]:
            revision, state = self.feed.snapshot(resource)
            return revision, lambda: [i for i in state.values() if matches(i[0])]

        items, cont, revision = self._paged(request, fresh)
        if request.wants_table:
            return _listed(workload_table(self, [w for w, _ in items], cont), revision)
        return _list_response(f"{kind.value}List", api_version, revision, items, cont)

    def get_workload(self, request: Request, args: Sequence[str]) -> Response:
        namespace, resource, name = args
        workload = self.cluster.get_workload(_workload_kind(resource), namespace, name)
        if request.wants_table:
            return _json(200, workload_table(self, [workload], ""))
        return _json(200, self._workload_json(workload))

    def _workload_snapshot(self, kind: WorkloadKind) -> watch.Snapshot:
        workloads = ((f"{w.namespace}/{w.name}", w) for w in self.cluster.list_workloads(kind))
        if kind is WorkloadKind.DEPLOYMENT:  # its JSON counts its ReplicaSets': not cacheable
            return {key: (w, self._workload_json(w)) for key, w in workloads}
        return self._workload_wires[kind].snapshot(workloads)

    def _pdb_snapshot(self) -> watch.Snapshot:
        return {
            b.key: (b, objects.pod_disruption_budget(b, self.created_at))
            for b in self.cluster.list_pdbs()
        }

    def _workload_json(self, workload: Workload) -> Json:
        """A workload's JSON; a Deployment's status counts its ReplicaSets' replicas, so
        `kubectl rollout status` sees a rollout's old replicas go and the new ones arrive."""
        wire = objects.workload(workload, self.created_at)
        if workload.kind is not WorkloadKind.DEPLOYMENT:
            return wire
        owned = [
            rs
            for rs in self.cluster.list_workloads(WorkloadKind.REPLICA_SET, workload.namespace)
            if rs.owner is not None and rs.owner.name == workload.name
        ]
        current = [rs for rs in owned if _same_template(rs, workload)]
        if owned:
            wire["status"]["replicas"] = sum(rs.replicas or 0 for rs in owned)
            wire["status"]["updatedReplicas"] = (current[-1].replicas or 0) if current else 0
        return wire

    def patch_workload(self, request: Request, args: Sequence[str]) -> Response:
        """What the adapter patches: spec.replicas (or a Job's parallelism), and the template's
        restartedAt annotation (`kubectl rollout restart`)."""
        namespace, resource, name = args
        kind = _workload_kind(resource)
        spec = request.json().get("spec") or {}
        workload = self.cluster.get_workload(kind, namespace, name)
        replicas = spec.get("parallelism" if kind is WorkloadKind.JOB else "replicas")
        if replicas is not None:
            workload = self.cluster.scale_workload(kind, namespace, name, int(replicas))
        annotations = ((spec.get("template") or {}).get("metadata") or {}).get("annotations")
        if isinstance(annotations, dict) and _RESTARTED_AT in annotations:
            workload = self.cluster.restart_workload(kind, namespace, name)
        return _json(200, self._workload_json(workload))

    def list_pdbs(self, request: Request, args: Sequence[str]) -> Response:
        namespace = args[0] if args else None
        if _is_watch(request):
            return self._watch(
                request,
                "poddisruptionbudgets",
                "PodDisruptionBudget",
                "policy/v1",
                matches=lambda b: namespace is None or b.namespace == namespace,
                table=None,
            )
        # The revision first: a change after it reaches a watch started from it.
        revision = self.feed.sync("poddisruptionbudgets")
        pdbs = self.cluster.list_pdbs(namespace)
        page, cont = _page(pdbs, request)
        if request.wants_table:
            now = self.now()
            columns = [
                ("Name", 0),
                ("Min Available", 0),
                ("Max Unavailable", 0),
                ("Allowed Disruptions", 0),
                ("Age", 0),
            ]
            rows = [
                (
                    [
                        b.name,
                        "N/A" if b.min_available is None else str(b.min_available),
                        "N/A" if b.max_unavailable is None else str(b.max_unavailable),
                        b.disruptions_allowed,
                        objects.age(now - (b.created_at or self.created_at)),
                    ],
                    objects.pod_disruption_budget(b, self.created_at),
                )
                for b in page
            ]
            return _json(200, objects.table(columns, rows, cont))
        wire = (objects.pod_disruption_budget(b, self.created_at) for b in page)
        document = objects.object_list("PodDisruptionBudgetList", "policy/v1", wire, cont)
        return _listed(document, revision)

    def list_persistent_volumes(self, request: Request, _: Sequence[str]) -> Response:
        volumes = self.cluster.list_persistent_volumes()
        page, cont = _page(volumes, request)
        wire = (objects.persistent_volume(v, self.created_at) for v in page)
        return _json(200, objects.object_list("PersistentVolumeList", "v1", wire, cont))

    def list_services(self, request: Request, args: Sequence[str]) -> Response:
        services = self.cluster.list_services(args[0] if args else None)
        page, cont = _page(services, request)
        wire = (objects.service(s, self.created_at) for s in page)
        return _json(200, objects.object_list("ServiceList", "v1", wire, cont))

    def get_service(self, _: Request, args: Sequence[str]) -> Response:
        return _json(
            200, objects.service(self.cluster.get_service(args[0], args[1]), self.created_at)
        )

    def patch_service(self, request: Request, args: Sequence[str]) -> Response:
        """The selector as a merge patch: null removes a key."""
        selector = (request.json().get("spec") or {}).get("selector")
        with self._write_lock:
            service = self.cluster.get_service(args[0], args[1])
            if isinstance(selector, dict):
                merged = dict(service.selector)
                for key, value in selector.items():
                    if value is None:
                        merged.pop(key, None)
                    else:
                        merged[key] = str(value)
                service = self.cluster.patch_service_selector(args[0], args[1], merged)
        return _json(200, objects.service(service, self.created_at))

    def empty_list(self, _: Request, __: Sequence[str]) -> Response:
        """Events: nothing to show (describe asks for them)."""
        return _json(200, objects.object_list("EventList", "v1", []))

    def list_secrets(self, request: Request, args: Sequence[str]) -> Response:
        """The only Secrets the fake has: Helm's release Secrets, one per deployed release."""
        namespace = args[0] if args else None
        checks = _field_selector(request.query.get("fieldSelector", ""), _SECRET_FIELDS)
        labels = parse_label_selector(request.query.get("labelSelector") or "")
        secrets = [
            objects.helm_release_secret(r, self.created_at)
            for r in self.cluster.helm_releases()
            if namespace is None or r.namespace == namespace
        ]
        secrets = [
            s
            for s in secrets
            if labels.matches(s["metadata"]["labels"])
            and all(_field_matches(_SECRET_FIELDS, s, c) for c in checks)
        ]
        page, cont = _page(secrets, request)
        return _json(200, objects.object_list("SecretList", "v1", page, cont))

    def _paged(
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
            raise _HttpError(400, "BadRequest", f"bad limit: {e}") from e
        except lists.ContinueError as e:
            if e.expired:
                raise _HttpError(410, "Expired", str(e)) from e
            raise _HttpError(400, "BadRequest", str(e)) from e

    # watches ----------------------------------------------------------------------------------

    def _watch(
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
            raise _HttpError(400, "BadRequest", f"bad watch parameters: {e}") from e
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

    # leases -----------------------------------------------------------------------------------

    def get_lease(self, _: Request, args: Sequence[str]) -> Response:
        return _json(200, objects.lease(self.cluster.get_lease(args[0], args[1])))

    def create_lease(self, request: Request, args: Sequence[str]) -> Response:
        lease = objects.parse_lease(request.json(), args[0])
        with self._write_lock:
            try:
                self.cluster.get_lease(lease.namespace, lease.name)
            except NotFoundError:
                created = self.cluster.create_lease(replace(lease, resource_version=""))
                return _json(201, objects.lease(created))
        raise ConflictError(f'leases.coordination.k8s.io "{lease.name}" already exists')

    def replace_lease(self, request: Request, args: Sequence[str]) -> Response:
        lease = objects.parse_lease(request.json(), args[0], args[1])
        with self._write_lock:
            if not lease.resource_version:  # an unconditional update: the latest version
                current = self.cluster.get_lease(args[0], args[1])
                lease = replace(lease, resource_version=current.resource_version)
            return _json(200, objects.lease(self.cluster.update_lease(lease)))

    def delete_lease(self, _: Request, args: Sequence[str]) -> Response:
        self.cluster.delete_lease(args[0], args[1])
        return _json(200, objects.status(200, "", ""))

    # config maps ------------------------------------------------------------------------------

    def get_config_map(self, _: Request, args: Sequence[str]) -> Response:
        config_map = self.cluster.get_config_map(args[0], args[1])
        return _json(200, objects.config_map(config_map, self.created_at))

    def create_config_map(self, request: Request, args: Sequence[str]) -> Response:
        config_map = objects.parse_config_map(request.json(), args[0])
        with self._write_lock:
            try:
                self.cluster.get_config_map(config_map.namespace, config_map.name)
            except NotFoundError:
                stored = self.cluster.apply_config_map(config_map)
                return _json(201, objects.config_map(stored, self.created_at))
        raise ConflictError(f'configmaps "{config_map.name}" already exists')

    def replace_config_map(self, request: Request, args: Sequence[str]) -> Response:
        config_map = objects.parse_config_map(request.json(), args[0], args[1])
        with self._write_lock:
            current = self.cluster.get_config_map(args[0], args[1])
            if config_map.resource_version and (
                config_map.resource_version != current.resource_version
            ):
                raise ConflictError(
                    f'Operation cannot be fulfilled on configmaps "{args[1]}": the object has '
                    "been modified; please apply your changes to the latest version and try again"
                )
            stored = self.cluster.apply_config_map(config_map)
        return _json(200, objects.config_map(stored, self.created_at))


def _matches(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    return all(w.startswith("{") or w == g for w, g in zip(pattern, parts, strict=True))


def _workload_kind(resource: str) -> WorkloadKind:
    kind = objects.WORKLOAD_RESOURCES.get(resource)
    if kind is None:
        raise _HttpError(404, "NotFound", "the server could not find the requested resource")
    return kind


def _page(items: Sequence[Any], request: Request) -> tuple[Sequence[Any], str]:
    """`limit`/`continue` paging; the token is the offset of the next item."""
    token = request.query.get("continue", "")
    try:
        start = int(token) if token else 0
        limit = int(request.query.get("limit") or 0)
    except ValueError as e:
        raise _HttpError(400, "BadRequest", f"bad limit or continue: {e}") from e
    if limit <= 0:
        return items[start:], ""
    end = start + limit
    return items[start:end], str(end) if end < len(items) else ""


def _is_watch(request: Request) -> bool:
    return request.query.get("watch", "") in ("true", "1")


def _list_response(
    kind: str, api_version: str, revision: int, items: Sequence[lists.Item], cont: str
) -> Response:
    """A list of cached wire objects, dumped straight to bytes."""
    return Response(200, lists.list_body(kind, api_version, revision, (w for _, w in items), cont))


def _listed(document: Json, revision: int) -> Response:
    """A list (or Table) stamped with the change feed's revision, where a watch can start."""
    document["metadata"]["resourceVersion"] = str(revision)
    return _json(200, document)


def _same_template(replica_set: Workload, deployment: Workload) -> bool:
    template, wanted = replica_set.template, deployment.template
    return template.spec == wanted.spec and dict(template.annotations) == dict(wanted.annotations)


_FieldCheck = tuple[str, str, str]
_NODE_FIELDS: dict[str, Callable[[Node], str]] = {"metadata.name": lambda n: n.name}
_WORKLOAD_FIELDS: dict[str, Callable[[Workload], str]] = {
    "metadata.name": lambda w: w.name,
    "metadata.namespace": lambda w: w.namespace,
}
_SECRET_FIELDS: dict[str, Callable[[Json], str]] = {
    "type": lambda s: str(s.get("type", "")),
    "metadata.name": lambda s: str(s["metadata"]["name"]),
    "metadata.namespace": lambda s: str(s["metadata"]["namespace"]),
}
_POD_FIELDS: dict[str, Callable[[Pod], str]] = {
    "spec.nodeName": lambda p: p.node_name or "",
    "metadata.name": lambda p: p.name,
    "metadata.namespace": lambda p: p.namespace,
    "status.phase": lambda p: p.phase.value,
}


def _node_matcher(request: Request) -> Callable[[Node], bool]:
    checks = _field_selector(request.query.get("fieldSelector", ""), _NODE_FIELDS)
    labels = parse_label_selector(request.query.get("labelSelector") or "")
    return lambda node: (
        labels.matches(node.labels) and all(_field_matches(_NODE_FIELDS, node, c) for c in checks)
    )


def _workload_matcher(request: Request, namespace: str | None) -> Callable[[Workload], bool]:
    checks = _field_selector(request.query.get("fieldSelector", ""), _WORKLOAD_FIELDS)
    labels = parse_label_selector(request.query.get("labelSelector") or "")
    return lambda w: (
        (namespace is None or w.namespace == namespace)
        and labels.matches(w.labels)
        and all(_field_matches(_WORKLOAD_FIELDS, w, c) for c in checks)
    )


def _field_selector(text: str, fields: Mapping[str, Callable[[Any], str]]) -> list[_FieldCheck]:
    checks: list[_FieldCheck] = []
    for clause in filter(None, (c.strip() for c in text.split(","))):
        for op in ("!=", "==", "="):
            field_name, found, value = clause.partition(op)
            if found:
                break
        else:
            raise _HttpError(400, "BadRequest", f"invalid field selector {clause!r}")
        if field_name not in fields:
            raise _HttpError(400, "BadRequest", f'field label not supported: "{field_name}"')
        checks.append((field_name, "!=" if op == "!=" else "=", value))
    return checks


def _field_matches(
    fields: Mapping[str, Callable[[Any], str]], item: Any, check: _FieldCheck
) -> bool:
    field_name, op, value = check
    actual = fields[field_name](item)
    return (actual == value) == (op == "=")


# Subresources a write may name; a dry run answers with their object.
_SUBRESOURCES = frozenset({"eviction", "scale", "status"})

_ROUTES: list[tuple[str, str, _Handler]] = [
    ("GET", "/api", KubeApi.api),
    ("GET", "/apis", KubeApi.apis),
    ("GET", "/api/v1", KubeApi.core_v1),
    ("GET", "/apis/{group}/{version}", KubeApi.group_v1),
    ("GET", "/version", KubeApi.version),
    ("GET", "/metrics", KubeApi.metrics),
    ("GET", "/api/v1/nodes", KubeApi.list_nodes),
    ("GET", "/api/v1/nodes/{name}", KubeApi.get_node),
    ("PATCH", "/api/v1/nodes/{name}", KubeApi.patch_node),
    ("GET", "/api/v1/pods", KubeApi.list_pods),
    ("GET", "/api/v1/namespaces/{ns}/pods", KubeApi.list_pods),
    ("GET", "/api/v1/namespaces/{ns}/pods/{name}", KubeApi.get_pod),
    ("DELETE", "/api/v1/namespaces/{ns}/pods/{name}", KubeApi.delete_pod),
    ("POST", "/api/v1/namespaces/{ns}/pods/{name}/eviction", KubeApi.evict_pod),
    ("GET", "/api/v1/persistentvolumes", KubeApi.list_persistent_volumes),
    ("GET", "/api/v1/services", KubeApi.list_services),
    ("GET", "/api/v1/namespaces/{ns}/services", KubeApi.list_services),
    ("GET", "/api/v1/namespaces/{ns}/services/{name}", KubeApi.get_service),
    ("PATCH", "/api/v1/namespaces/{ns}/services/{name}", KubeApi.patch_service),
    ("GET", "/api/v1/events", KubeApi.empty_list),
    ("GET", "/api/v1/namespaces/{ns}/events", KubeApi.empty_list),
    ("GET", "/api/v1/secrets", KubeApi.list_secrets),
    ("GET", "/api/v1/namespaces/{ns}/secrets", KubeApi.list_secrets),
    ("GET", "/api/v1/namespaces/{ns}/configmaps/{name}", KubeApi.get_config_map),
    ("POST", "/api/v1/namespaces/{ns}/configmaps", KubeApi.create_config_map),
    ("PUT", "/api/v1/namespaces/{ns}/configmaps/{name}", KubeApi.replace_config_map),
    ("GET", "/apis/policy/v1/poddisruptionbudgets", KubeApi.list_pdbs),
    ("GET", "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", KubeApi.list_pdbs),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}", KubeApi.get_lease),
    ("POST", "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", KubeApi.create_lease),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}", KubeApi.replace_lease),
    (
        "DELETE",
        "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}",
        KubeApi.delete_lease,
    ),
    ("GET", "/apis/apps/v1/{resource}", KubeApi.list_workloads),
    ("GET", "/apis/batch/v1/{resource}", KubeApi.list_workloads),
    ("GET", "/apis/apps/v1/namespaces/{ns}/{resource}", KubeApi.list_workloads),
    ("GET", "/apis/batch/v1/namespaces/{ns}/{resource}", KubeApi.list_workloads),
    ("GET", "/apis/apps/v1/namespaces/{ns}/{resource}/{name}", KubeApi.get_workload),
    ("GET", "/apis/batch/v1/namespaces/{ns}/{resource}/{name}", KubeApi.get_workload),
    ("PATCH", "/apis/apps/v1/namespaces/{ns}/{resource}/{name}", KubeApi.patch_workload),
    ("PATCH", "/apis/batch/v1/namespaces/{ns}/{resource}/{name}", KubeApi.patch_workload),
    *WRITE_ROUTES,
    *NAMESPACE_ROUTES,
    *NETWORKING_ROUTES,
]
