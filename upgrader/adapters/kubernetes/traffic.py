"""What rollouts move traffic with: Service selectors, HPAs, Ingress annotations, Gateway API
HTTPRoutes. Read-modify-write calls send the resourceVersion they read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from upgrader.adapters.kubernetes import gateway, wire
from upgrader.adapters.kubernetes.base import ClusterApi
from upgrader.core.errors import ConflictError
from upgrader.core.kube import HorizontalPodAutoscaler, HTTPRoute, HTTPRouteRule, Ingress, Service

_HPAS = "/apis/autoscaling/v2/horizontalpodautoscalers"
_NAMESPACED_HPAS = "/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"


class TrafficCalls(ClusterApi):
    def get_service(self, namespace: str, name: str) -> Service:
        with self._errors("get", "services", f"{namespace}/{name}"):
            return wire.service(self._json(self.core.read_namespaced_service, name, namespace))

    def patch_service_selector(
        self, namespace: str, name: str, selector: Mapping[str, str]
    ) -> Service:
        """Replace the selector exactly: a merge patch alone would keep old keys, so keys that
        go away are sent as null; the read resourceVersion guards against a concurrent edit."""
        target = f"{namespace}/{name}"
        with self._errors("get", "services", target):
            current = self._json(self.core.read_namespaced_service, name, namespace)
        old = current.get("spec", {}).get("selector") or {}
        patch: dict[str, str | None] = dict.fromkeys(old)
        patch.update(selector)
        body = {
            "metadata": {"resourceVersion": current.get("metadata", {}).get("resourceVersion")},
            "spec": {"selector": patch},
        }
        with self._errors("patch", "services", target):
            return wire.service(
                self._json(self.core.patch_namespaced_service, name, namespace, body)
            )

    def list_hpas(self, namespace: str | None = None) -> list[HorizontalPodAutoscaler]:
        resource = "horizontalpodautoscalers.autoscaling"
        decode = wire.horizontal_pod_autoscaler
        if namespace is None:
            return self._list_decoded(resource, self._raw(_HPAS), decode)
        return self._list_decoded(
            resource, self._raw(_NAMESPACED_HPAS), decode, namespace=namespace
        )

    def set_hpa_min_replicas(
        self, namespace: str, name: str, min_replicas: int
    ) -> HorizontalPodAutoscaler:
        body = {"spec": {"minReplicas": min_replicas}}
        with self._errors("patch", "horizontalpodautoscalers.autoscaling", f"{namespace}/{name}"):
            return wire.horizontal_pod_autoscaler(
                self._json(
                    self.autoscaling.patch_namespaced_horizontal_pod_autoscaler,
                    name,
                    namespace,
                    body,
                )
            )

    # ingresses

    def get_ingress(self, namespace: str, name: str) -> Ingress:
        with self._errors("get", "ingresses.networking.k8s.io", f"{namespace}/{name}"):
            return wire.ingress(
                self._json(self.networking.read_namespaced_ingress, name, namespace)
            )

    def patch_ingress_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Ingress:
        """A merge patch of these annotations only (None removes one): whatever else the
        Ingress carries, and whoever else edits it, is left alone."""
        body = {"metadata": {"annotations": dict(annotations)}}
        with self._errors("patch", "ingresses.networking.k8s.io", f"{namespace}/{name}"):
            return wire.ingress(
                self._json(self.networking.patch_namespaced_ingress, name, namespace, body)
            )

    # Gateway API

    def _read_http_route(self, namespace: str, name: str) -> dict[str, Any]:
        with self._errors("get", f"{gateway.PLURAL}.{gateway.GROUP}", f"{namespace}/{name}"):
            found = self.custom.get_namespaced_custom_object(
                gateway.GROUP, gateway.VERSION, namespace, gateway.PLURAL, name
            )
        return cast("dict[str, Any]", found)

    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        return gateway.http_route(self._read_http_route(namespace, name))

    def replace_http_route_rules(
        self, namespace: str, name: str, rules: Sequence[HTTPRouteRule], resource_version: str
    ) -> HTTPRoute:
        """GET the object, swap `spec.rules`, PUT it back with the caller's resourceVersion:
        the API server refuses it (409) when anyone changed the route in between."""
        target = f"{namespace}/{name}"
        if not resource_version:
            raise ConflictError(
                f"HTTPRoute {target}: no resource_version to compare; read it first"
            )
        current = self._read_http_route(namespace, name)
        current.setdefault("spec", {})["rules"] = gateway.rules_to_k8s(rules)
        current.setdefault("metadata", {})["resourceVersion"] = resource_version
        # The status is a subresource: a PUT of the main resource ignores it.
        current.pop("status", None)
        with self._errors("update", f"{gateway.PLURAL}.{gateway.GROUP}", target):
            replaced = self.custom.replace_namespaced_custom_object(
                gateway.GROUP, gateway.VERSION, namespace, gateway.PLURAL, name, current
            )
        return gateway.http_route(cast("dict[str, Any]", replaced))
