"""Pod routes: list (and watch, by node and namespace through the cluster's indexes), get,
delete and the Eviction API; kubectl's `get pods` columns (printers.go podColumnDefinitions)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from upgrader.core.kube import Pod
from upgrader.core.label_selector import parse_label_selector
from upgrader.sandbox.apiserver import lists, objects, tables
from upgrader.sandbox.apiserver.http import Request, Response, json_response
from upgrader.sandbox.apiserver.selectors import (
    POD_FIELDS,
    field_matches,
    field_selector,
    is_watch,
    list_response,
    listed,
)

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver.state import ApiState

Json = dict[str, Any]


def list_pods(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    namespace = args[0] if args else None
    checks = field_selector(request.query.get("fieldSelector", ""), POD_FIELDS)
    labels = parse_label_selector(request.query.get("labelSelector") or "")

    def matches(pod: Pod) -> bool:
        return (
            (namespace is None or pod.namespace == namespace)
            and labels.matches(pod.labels)
            and all(field_matches(POD_FIELDS, pod, c) for c in checks)
        )

    if is_watch(request):
        table = functools.partial(pod_table, api) if request.wants_table else None
        return api.watch_response(request, "pods", "Pod", "v1", matches=matches, table=table)
    node_name = next((v for f, op, v in checks if f == "spec.nodeName" and op == "="), None)

    def fresh() -> tuple[int, Callable[[], list[lists.Item]]]:
        revision, state = api.feed.snapshot("pods")

        def build() -> list[lists.Item]:
            if namespace is None and node_name is None:
                candidates: Iterable[lists.Item] = state.values()
            else:  # the cluster's indexes pick the candidates; the snapshot has their state
                keys = (p.key for p in api.cluster.list_pods(namespace, node_name))
                candidates = (state[k] for k in keys if k in state)
            return [i for i in candidates if matches(i[0])]

        return revision, build

    items, cont, revision = api.paged(request, fresh)
    if request.wants_table:
        return listed(pod_table(api, [p for p, _ in items], cont), revision)
    return list_response("PodList", "v1", revision, items, cont)


def get_pod(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    pod = api.cluster.get_pod(args[0], args[1])
    if request.wants_table:
        return json_response(200, pod_table(api, [pod], ""))
    return json_response(200, objects.pod(pod))


def delete_pod(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    grace = request.query.get("gracePeriodSeconds")
    if grace is None and request.body:
        grace = request.json().get("gracePeriodSeconds")
    pod = api.cluster.get_pod(args[0], args[1])
    api.cluster.delete_pod(args[0], args[1], int(grace) if grace is not None else None)
    return json_response(200, objects.pod(pod))


def evict_pod(api: ApiState, request: Request, args: Sequence[str]) -> Response:
    options = request.json().get("deleteOptions") or {}
    grace = options.get("gracePeriodSeconds")
    api.cluster.evict_pod(args[0], args[1], int(grace) if grace is not None else None)
    return json_response(201, objects.status(201, "", ""))


def pod_table(api: ApiState, pods: Sequence[Pod], cont: str) -> Json:
    now = api.now()
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
            tables.pod_status_text(p),
            p.restart_count,
            tables.age(now - p.created_at),
            wire["status"].get("podIP", "<none>"),
            p.node_name or "<none>",
            "<none>",
            "<none>",
        ]
        rows.append((cells, wire))
    return tables.table(columns, rows, cont)
