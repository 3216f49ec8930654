"""Nodes: list, read, cordon, taint, label.

Taints are read-modify-written with the resourceVersion read, so a concurrent writer yields
ConflictError (retried) instead of a lost update; while `watching()` is open lists come from
the node informer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from upgrader.adapters.kubernetes import encode, informer, wire
from upgrader.adapters.kubernetes.base import _CONFLICT_ATTEMPTS, ClusterApi, _taint_key
from upgrader.core.errors import ConflictError
from upgrader.core.kube import Node, Taint, TaintEffect


class NodeCalls(ClusterApi):
    def list_nodes(self, label_selector: str | None = None) -> list[Node]:
        if self.informers is not None:
            cached = self.informers.select("nodes", label_selector=label_selector)
            if cached is not None:
                return cached
        query = {"label_selector": label_selector} if label_selector else {}
        return self._list_decoded("nodes", self._raw("/api/v1/nodes"), wire.node, **query)

    def get_node(self, name: str) -> Node:
        return wire.node(self._read_node(name))

    def _read_node(self, name: str) -> dict[str, Any]:
        with self._errors("get", "nodes", name):
            return self._json(self.core.read_node, name)

    def _patch_node(self, name: str, body: dict[str, Any]) -> Node:
        with self._errors("patch", "nodes", name):
            node = wire.node(self._json(self.core.patch_node, name, body))
        if self.informers is not None:
            self.informers.wrote(informer.NODES, name, node)
        return node

    def set_unschedulable(self, name: str, unschedulable: bool) -> Node:
        # null, not false, on uncordon: as kubectl sends it, leaving the field unset.
        return self._patch_node(name, {"spec": {"unschedulable": True if unschedulable else None}})

    def add_taint(self, name: str, taint: Taint) -> Node:
        def change(taints: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
            same = [t for t in taints if (t.get("key"), t.get("effect")) == _taint_key(taint)]
            if same and same[0].get("value", "") == taint.value:
                return None  # already there: nothing to write
            kept = [t for t in taints if (t.get("key"), t.get("effect")) != _taint_key(taint)]
            # timeAdded on NoExecute, as kubectl sets it: tolerationSeconds count from here.
            added = encode.taint(taint)
            if taint.effect is TaintEffect.NO_EXECUTE:
                added["timeAdded"] = encode.timestamp(self.clock.now())
            return [*kept, added]

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
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            current = self._read_node(name)
            # As read, timeAdded and all: the whole list is sent back, and NoExecute
            # tolerationSeconds count from each taint's timeAdded.
            taints = [dict(t) for t in current.get("spec", {}).get("taints") or ()]
            changed = change(taints)
            if changed is None:
                return wire.node(current)
            version = current.get("metadata", {}).get("resourceVersion")
            try:
                return self._patch_node(
                    name,
                    {
                        "metadata": {"resourceVersion": version},
                        "spec": {"taints": changed},
                    },
                )
            except ConflictError:
                if attempt == _CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def label_node(self, name: str, labels: Mapping[str, str | None]) -> Node:
        return self._patch_node(name, {"metadata": {"labels": dict(labels)}})
