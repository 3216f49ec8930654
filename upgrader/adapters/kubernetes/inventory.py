"""Cluster-wide reads the checks need: disruption budgets, persistent volumes, services, the
deprecated-API metric and Helm releases.
"""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from upgrader.adapters.kubernetes import usage, wire
from upgrader.adapters.kubernetes.api_errors import translate_api_exception
from upgrader.adapters.kubernetes.base import (
    _NAMESPACED_PDBS,
    _NAMESPACED_SERVICES,
    _PDB_PATH,
    _PDBS,
    ClusterApi,
)
from upgrader.core.kube import (
    DeprecatedApiRequest,
    HelmRelease,
    PersistentVolume,
    PodDisruptionBudget,
    Service,
)


class InventoryCalls(ClusterApi):
    def list_pdbs(self, namespace: str | None = None) -> list[PodDisruptionBudget]:
        if self.informers is not None:
            index = ("namespace", namespace) if namespace is not None else None
            cached = self.informers.select(_PDBS, index=index)
            if cached is not None:
                return cached
        resource, decode = "poddisruptionbudgets.policy", wire.pod_disruption_budget
        if namespace is None:
            return self._list_decoded(resource, self._raw(_PDB_PATH), decode)
        return self._list_decoded(
            resource, self._raw(_NAMESPACED_PDBS), decode, namespace=namespace
        )

    def list_persistent_volumes(self) -> list[PersistentVolume]:
        return self._list_decoded(
            "persistentvolumes", self._raw("/api/v1/persistentvolumes"), wire.persistent_volume
        )

    def list_services(self, namespace: str | None = None) -> list[Service]:
        if namespace is None:
            return self._list_decoded("services", self._raw("/api/v1/services"), wire.service)
        return self._list_decoded(
            "services", self._raw(_NAMESPACED_SERVICES), wire.service, namespace=namespace
        )

    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        with self._errors("get", "metrics"):
            method, url, headers, body, post = self.api_client.param_serialize(
                "GET", "/metrics", auth_settings=["BearerToken"]
            )
            response = self.api_client.call_api(method, url, headers, body, post)
            raw: bytes = response.read() or b""  # type: ignore[no-untyped-call]
        if response.status >= 400:
            raise translate_api_exception(
                ApiException(status=response.status, reason=response.reason), "get", "metrics"
            )
        return usage.parse_deprecated_api_metric(raw.decode("utf-8", "replace"))

    def helm_releases(self) -> list[HelmRelease]:
        secrets = self._list_decoded(
            "secrets",
            self._raw("/api/v1/secrets"),
            wire.secret_data,
            label_selector="owner=helm",
            field_selector="type=helm.sh/release.v1",
        )
        decoded = (usage.decode_helm_release(data.get("release", "")) for data in secrets)
        return usage.deployed_releases(r for r in decoded if r is not None)
