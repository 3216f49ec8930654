"""What a list request selects and how much of it: field and label selectors (the fields each
kind's real API server indexes), `limit`/`continue` paging, and the list and watch answers the
route modules share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from upgrader.core.kube import Node, Pod, Workload
from upgrader.core.label_selector import parse_label_selector
from upgrader.sandbox.apiserver import lists
from upgrader.sandbox.apiserver.http import HttpError, Request, Response, json_response

Json = dict[str, Any]


def page_of(items: Sequence[Any], request: Request) -> tuple[Sequence[Any], str]:
    """`limit`/`continue` paging; the token is the offset of the next item."""
    token = request.query.get("continue", "")
    try:
        start = int(token) if token else 0
        limit = int(request.query.get("limit") or 0)
    except ValueError as e:
        raise HttpError(400, "BadRequest", f"bad limit or continue: {e}") from e
    if limit <= 0:
        return items[start:], ""
    end = start + limit
    return items[start:end], str(end) if end < len(items) else ""


def is_watch(request: Request) -> bool:
    return request.query.get("watch", "") in ("true", "1")


def list_response(
    kind: str, api_version: str, revision: int, items: Sequence[lists.Item], cont: str
) -> Response:
    """A list of cached wire objects, dumped straight to bytes."""
    return Response(200, lists.list_body(kind, api_version, revision, (w for _, w in items), cont))


def listed(document: Json, revision: int) -> Response:
    """A list (or Table) stamped with the change feed's revision, where a watch can start."""
    document["metadata"]["resourceVersion"] = str(revision)
    return json_response(200, document)


FieldCheck = tuple[str, str, str]
NODE_FIELDS: dict[str, Callable[[Node], str]] = {"metadata.name": lambda n: n.name}
WORKLOAD_FIELDS: dict[str, Callable[[Workload], str]] = {
    "metadata.name": lambda w: w.name,
    "metadata.namespace": lambda w: w.namespace,
}
POD_FIELDS: dict[str, Callable[[Pod], str]] = {
    "spec.nodeName": lambda p: p.node_name or "",
    "metadata.name": lambda p: p.name,
    "metadata.namespace": lambda p: p.namespace,
    "status.phase": lambda p: p.phase.value,
}


def node_matcher(request: Request) -> Callable[[Node], bool]:
    checks = field_selector(request.query.get("fieldSelector", ""), NODE_FIELDS)
    labels = parse_label_selector(request.query.get("labelSelector") or "")
    return lambda node: (
        labels.matches(node.labels) and all(field_matches(NODE_FIELDS, node, c) for c in checks)
    )


def workload_matcher(request: Request, namespace: str | None) -> Callable[[Workload], bool]:
    checks = field_selector(request.query.get("fieldSelector", ""), WORKLOAD_FIELDS)
    labels = parse_label_selector(request.query.get("labelSelector") or "")
    return lambda w: (
        (namespace is None or w.namespace == namespace)
        and labels.matches(w.labels)
        and all(field_matches(WORKLOAD_FIELDS, w, c) for c in checks)
    )


def field_selector(text: str, fields: Mapping[str, Callable[[Any], str]]) -> list[FieldCheck]:
    checks: list[FieldCheck] = []
    for clause in filter(None, (c.strip() for c in text.split(","))):
        for op in ("!=", "==", "="):
            field_name, found, value = clause.partition(op)
            if found:
                break
        else:
            raise HttpError(400, "BadRequest", f"invalid field selector {clause!r}")
        if field_name not in fields:
            raise HttpError(400, "BadRequest", f'field label not supported: "{field_name}"')
        checks.append((field_name, "!=" if op == "!=" else "=", value))
    return checks


def field_matches(fields: Mapping[str, Callable[[Any], str]], item: Any, check: FieldCheck) -> bool:
    field_name, op, value = check
    actual = fields[field_name](item)
    return (actual == value) == (op == "=")


# Subresources a write may name; a dry run answers with their object.
