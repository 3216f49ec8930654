"""Coordination and state: leases (the run lock) and config maps (the journal's mirror), both
written as compare-and-swap on their resourceVersion.
"""

from __future__ import annotations

import dataclasses

from upgrader.adapters.kubernetes import encode, wire
from upgrader.adapters.kubernetes.base import _CONFLICT_ATTEMPTS, ClusterApi
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import ConfigMap, Lease


class StateCalls(ClusterApi):
    def get_lease(self, namespace: str, name: str) -> Lease:
        with self._errors("get", "leases.coordination.k8s.io", f"{namespace}/{name}"):
            return wire.lease(self._json(self.coordination.read_namespaced_lease, name, namespace))

    def create_lease(self, lease: Lease) -> Lease:
        # A create must not carry a resourceVersion; the server assigns the first one.
        body = encode.lease(dataclasses.replace(lease, resource_version=""))
        with self._errors(
            "create", "leases.coordination.k8s.io", f"{lease.namespace}/{lease.name}"
        ):
            return wire.lease(
                self._json(self.coordination.create_namespaced_lease, lease.namespace, body)
            )

    def update_lease(self, lease: Lease) -> Lease:
        target = f"{lease.namespace}/{lease.name}"
        if not lease.resource_version:
            # An unversioned replace would overwrite whoever holds the lock.
            raise ConflictError(f"lease {target} has no resource_version to compare; read it first")
        with self._errors("update", "leases.coordination.k8s.io", target):
            return wire.lease(
                self._json(
                    self.coordination.replace_namespaced_lease,
                    lease.name,
                    lease.namespace,
                    encode.lease(lease),
                )
            )

    def delete_lease(self, namespace: str, name: str) -> None:
        with self._errors("delete", "leases.coordination.k8s.io", f"{namespace}/{name}"):
            self.coordination.delete_namespaced_lease(name, namespace)

    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        with self._errors("get", "configmaps", f"{namespace}/{name}"):
            return wire.config_map(
                self._json(self.core.read_namespaced_config_map, name, namespace)
            )

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        """Create it, or replace its data (and only its data).

        With a `resource_version` the replace is a compare-and-swap: ConflictError when it
        moved. Without one, the latest version is replaced, retrying when another writer gets
        in between.
        """
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            if not config_map.resource_version:
                created = self._create_config_map(config_map)
                if created is not None:
                    return created
            try:
                return self._replace_config_map_data(config_map)
            except (ConflictError, NotFoundError):
                if config_map.resource_version or attempt == _CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_config_map(self, config_map: ConfigMap) -> ConfigMap | None:
        """The created ConfigMap, or None when one of that name exists."""
        body = encode.config_map(dataclasses.replace(config_map, resource_version=""))
        try:
            with self._errors("create", "configmaps", f"{config_map.namespace}/{config_map.name}"):
                return wire.config_map(
                    self._json(self.core.create_namespaced_config_map, config_map.namespace, body)
                )
        except ConflictError:
            return None

    def _replace_config_map_data(self, config_map: ConfigMap) -> ConfigMap:
        namespace, name = config_map.namespace, config_map.name
        target = f"{namespace}/{name}"
        with self._errors("get", "configmaps", target):
            current = self._json(self.core.read_namespaced_config_map, name, namespace)
        # Everything but the data stays as it is: labels, annotations, owners, binaryData.
        current["data"] = dict(config_map.data)
        if config_map.resource_version:
            current.setdefault("metadata", {})["resourceVersion"] = config_map.resource_version
        with self._errors("update", "configmaps", target):
            return wire.config_map(
                self._json(self.core.replace_namespaced_config_map, name, namespace, current)
            )
