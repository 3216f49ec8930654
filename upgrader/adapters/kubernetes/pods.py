"""Pods: list (from the node's informer while `watching()`), read, evict, delete.

An eviction or deletion tells the informers, so the next read waits for its own events.
"""

from __future__ import annotations

from typing import Any

from upgrader.adapters.kubernetes import informer, wire
from upgrader.adapters.kubernetes.base import _NAMESPACED_PODS, ClusterApi
from upgrader.core.kube import Pod


class PodCalls(ClusterApi):
    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        if self.informers is not None and (node_name is not None or namespace is not None):
            resource = (
                informer.pods_on(node_name)
                if node_name is not None
                else informer.pods_in(namespace or "")
            )
            cached = self.informers.select(resource, label_selector=label_selector)
            if cached is not None:
                return [p for p in cached if namespace is None or p.namespace == namespace]
        query: dict[str, Any] = {}
        if node_name is not None:
            query["field_selector"] = f"spec.nodeName={node_name}"
        if label_selector:
            query["label_selector"] = label_selector
        if namespace is None:
            return self._list_decoded("pods", self._raw("/api/v1/pods"), wire.pod, **query)
        return self._list_decoded(
            "pods", self._raw(_NAMESPACED_PODS), wire.pod, namespace=namespace, **query
        )

    def get_pod(self, namespace: str, name: str) -> Pod:
        with self._errors("get", "pods", f"{namespace}/{name}"):
            return wire.pod(self._json(self.core.read_namespaced_pod, name, namespace))

    def evict_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> None:
        from kubernetes.client import V1DeleteOptions, V1Eviction, V1ObjectMeta

        key = f"{namespace}/{name}"
        body = V1Eviction(
            metadata=V1ObjectMeta(name=name, namespace=namespace),
            delete_options=(
                V1DeleteOptions(grace_period_seconds=grace_period_seconds)
                if grace_period_seconds is not None
                else None
            ),
        )
        informers = self.informers
        before = informers.before_pod_change(key, eviction=True) if informers else {}
        with self._errors("create", "pods/eviction", key):
            self.core.create_namespaced_pod_eviction(name, namespace, body)
        if informers is not None:
            informers.changed(before)

    def delete_pod(
        self, namespace: str, name: str, grace_period_seconds: int | None = None
    ) -> None:
        key = f"{namespace}/{name}"
        informers = self.informers
        before = informers.before_pod_change(key, eviction=False) if informers else {}
        with self._errors("delete", "pods", key):
            self.core.delete_namespaced_pod(
                name, namespace, grace_period_seconds=grace_period_seconds
            )
        if informers is not None:
            informers.changed(before)
