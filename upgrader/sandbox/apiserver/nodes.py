"""Node routes: list (and watch), get, and the patches `kubectl cordon|uncordon|taint|label`
and eksup's adapter send; kubectl's `get nodes` columns (printers.go nodeColumnDefinitions)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import wire
from upgrader.core.errors import ConflictError
from upgrader.core.kube import Node
from upgrader.sandbox.apiserver import lists, objects, tables
from upgrader.sandbox.apiserver.http import HttpError, Request, Response, json_response
from upgrader.sandbox.apiserver.selectors import is_watch, list_response, listed, node_matcher

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]


def list_nodes(api: ApiState, request: Request, _: Sequence[str]) -> Response:
    matches = node_matcher(request)
    if is_watch(request):
        table = functools.partial(node_table, api) if request.wants_table else None
        return api.watch_response(request, "nodes", "Node", "v1", matches=matches, table=table)

    def fresh() -> tuple[int, Callable[[], list[lists.Item]]]:
        revision, state = api.feed.snapshot("nodes")
        return revision, lambda: [i for i in state.values() if matches(i[0])]

    items, cont, revision = api.paged(request, fresh)
    if request.wants_table:
        return listed(node_table(api, [n for n, _ in items], cont), revision)
    return list_response("NodeList", "v1", revision, items, cont)


def get_node(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    node = api.cluster.get_node(args[0])
    if request.wants_table:
        return json_response(200, node_table(api, [node], ""))
    return json_response(200, objects.node(node))


def patch_node(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    if "json-patch" in request.content_type:
        raise HttpError(415, "UnsupportedMediaType", "JSON patches are not supported here")
    patch = request.json()
    name = args[0]
    with api.write_lock:
        node = api.cluster.get_node(name)
        meta = patch.get("metadata") or {}
        wanted_version = meta.get("resourceVersion")
        if wanted_version and wanted_version != objects.version_of(node):
            raise ConflictError(
                f'Operation cannot be fulfilled on nodes "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again"
            )
        if isinstance(meta.get("labels"), dict):
            node = api.cluster.label_node(name, meta["labels"])
        spec = patch.get("spec") or {}
        if "unschedulable" in spec and bool(spec["unschedulable"]) != node.unschedulable:
            node = api.cluster.set_unschedulable(name, bool(spec["unschedulable"]))
        if "taints" in spec:
            node = _set_taints(api, node, spec["taints"] or [])
    return json_response(200, objects.node(node))


def _set_taints(api: ApiState, node: Node, taints: Sequence[Mapping[str, Any]]) -> Node:
    """A merge patch replaces the list; the fake changes taints one by one, so diff."""
    try:
        wanted = [wire.taint(dict(t)) for t in taints]
    except (KeyError, ValueError) as e:
        raise HttpError(422, "Invalid", f"invalid taint: {e}") from e
    for old in node.taints:
        if old not in wanted:
            node = api.cluster.remove_taint(node.name, old.key, old.effect)
    for new in wanted:
        if new not in node.taints:
            node = api.cluster.add_taint(node.name, new)
    return node


def node_table(api: ApiState, nodes: Sequence[Node], cont: str) -> Json:
    now = api.now()
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
            tables.node_status_text(n),
            "<none>",
            tables.age(now - n.created_at),
            n.kubelet_version,
            objects.node_ip(n.name),
            "<none>",
            info["osImage"],
            info["kernelVersion"],
            info["containerRuntimeVersion"],
        ]
        rows.append((cells, wire))
    return tables.table(columns, rows, cont)
