"""Nodes: list, read, cordon, taint, label.

Taints are read-modify-written with the resourceVersion read, so a concurrent writer yields
ConflictError (retried) instead of a lost update; while `watching()` is open lists come from
the node informer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from upgrader.adapters.kubernetes import convert, informer, wire
from upgrader.adapters.kubernetes.base import _CONFLICT_ATTEMPTS, ClusterApi, _taint_key
from upgrader.core.errors import ConflictError
from upgrader.core.kube import Node, Taint, TaintEffect

if TYPE_CHECKING:
    from kubernetes.client import (
        V1Node,
    )


class NodeCalls(ClusterApi):
    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        if self.informers is not None:
            cached = self.informers.select("nodes", label_selector=label_selector)
            if cached is not None:
                return cached
        query = {"label_selector": label_selector} if label_selector else {}
        return self._list_decoded("nodes", self._raw("/api/v1/nodes"), wire.node, **query)

    def get_node(self, name: str) -> Node:
        return convert.node(self._read_node(name))

    def _read_node(self, name: str) -> V1Node:
        with self._errors("get", "nodes", name):
            return self.core.read_node(name)

    def _patch_node(self, name: str, body: dict[str, Any]) -> Node:
        with self._errors("patch", "nodes", name):
            node = convert.node(self.core.patch_node(name, body))
        if self.informers is not None:
            self.informers.wrote(informer.NODES, name, node)
        return node

    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        # null, not false, on uncordon: as kubectl sends it, leaving the field unset.
        return self._patch_node(name, {"spec": {"unschedulable": True if unschedulable else None}})

    def add_taint(self, name: str, taint: Taint) -> Node:
        from kubernetes.client import V1Taint

        def change(taints: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            same = [t for t in taints if (t.get("key"), t.get("effect")) == _taint_key(taint)]
            if same and same[0].get("value", "") == taint.value:
                return None  # already there: nothing to write
            kept = [t for t in taints if (t.get("key"), t.get("effect")) != _taint_key(taint)]
            # timeAdded on NoExecute, as kubectl sets it: tolerationSeconds count from here.
            added = V1Taint(
                key=taint.key,
                effect=taint.effect.value,
                value=taint.value or None,
                time_added=(
                    convert.from_epoch(self.clock.now())
                    if taint.effect is TaintEffect.NO_EXECUTE
                    else None
                ),
            )
            return [*kept, convert.taint_to_wire(added)]

        return self._update_taints(name, change)

    def remove_taint(self, name: str, key: str, effect: TaintEffect) -> Node:
        def change(taints: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            kept = [t for t in taints if (t.get("key"), t.get("effect")) != (key, effect.value)]
            return kept if len(kept) != len(taints) else None  # absent: already done

        return self._update_taints(name, change)

    def _update_taints(
        self, name: str, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]
    ) -> Node:
        """Read the node, change its taint list, and write the whole list back (a strategic
        merge patch replaces `taints` whole), guarded by the resourceVersion that was read."""
        from kubernetes.client import V1ObjectMeta

        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            current = self._read_node(name)
            taints = [
                convert.taint_to_wire(t)
                for t in (current.spec.taints if current.spec is not None else None) or ()
            ]
            changed = change(taints)
            if changed is None:
                return convert.node(current)
            meta = current.metadata if current.metadata is not None else V1ObjectMeta()
            try:
                return self._patch_node(
                    name,
                    {
                        "metadata": {"resourceVersion": meta.resource_version},
                        "spec": {"taints": changed},
                    },
                )
            except ConflictError:
                if attempt == _CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        return self._patch_node(name, {"metadata": {"labels": dict(labels)}})
