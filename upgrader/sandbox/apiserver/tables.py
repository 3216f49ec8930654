"""What kubectl prints from the sandbox server: meta.k8s.io/v1 Table documents, with the cells
(AGE, STATUS) computed as kubectl's printers compute them for a real API server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from upgrader.core.kube import Node, Pod, PodPhase

Json = dict[str, Any]


def table(
    columns: Iterable[tuple[str, int]], rows: Iterable[tuple[list[Any], Json]], cont: str = ""
) -> Json:
    """A meta.k8s.io/v1 Table: kubectl prints the cells verbatim (priority 1 only with -o wide).
    Each row's object is PartialObjectMetadata with kind and apiVersion, or kubectl drops it."""
    meta: Json = {"resourceVersion": "1"}
    if cont:
        meta["continue"] = cont
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [
            {"name": name, "type": "string", "format": "", "description": "", "priority": priority}
            for name, priority in columns
        ],
        "rows": [
            {
                "cells": cells,
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                },
            }
            for cells, obj in rows
        ],
    }


def age(seconds: float) -> str:
    """kubectl's short human duration: 45s, 5m12s, 3h, 12d."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def pod_status_text(value: Pod) -> str:
    """kubectl's STATUS column."""
    if value.deletion_timestamp is not None:
        return "Terminating"
    if value.phase is PodPhase.SUCCEEDED:
        return "Completed"
    if value.phase is PodPhase.FAILED:
        return "Error"
    if value.phase is PodPhase.PENDING:
        return "ContainerCreating" if value.node_name else "Pending"
    return "Running"


def node_status_text(value: Node) -> str:
    """kubectl's STATUS column: Ready, NotReady, and ",SchedulingDisabled" when cordoned."""
    text = "Ready" if value.ready else "NotReady"
    return f"{text},SchedulingDisabled" if value.unschedulable else text
