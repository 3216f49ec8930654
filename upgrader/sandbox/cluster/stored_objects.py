"""Objects the fake cluster stores and serves but does not simulate beyond their own fields:
PersistentVolumes, Services, Ingresses, HTTPRoutes, Leases, ConfigMaps, Helm releases and the
deprecated-API metric.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace

from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import (
    ConfigMap,
    DeprecatedApiRequest,
    HelmRelease,
    HTTPRoute,
    HTTPRouteRule,
    Ingress,
    Lease,
    PersistentVolume,
    RouteParentStatus,
    Service,
)
from upgrader.sandbox.cluster.store import ClusterStore, IngressWatcher, frozen


class StoredObjects(ClusterStore):
    """Store-and-serve objects, with the conflicts and statuses the API gives them."""

    def list_persistent_volumes(self) -> list[PersistentVolume]:
        with self._api("list", "persistentvolumes"):
            return [self._volumes[name] for name in sorted(self._volumes)]

    def add_persistent_volume(self, volume: PersistentVolume) -> PersistentVolume:
        """A PersistentVolume, bound to `volume.claim` as the PV controller would have bound it
        (the fake keeps no PersistentVolumeClaim objects: a pod's claim is found through the
        volume's claimRef)."""
        with self._locked():
            if volume.name in self._volumes:
                raise ConflictError(f'persistentvolumes "{volume.name}" already exists')
            self._volumes[volume.name] = volume
            return volume

    def list_services(self, namespace: str | None = None) -> list[Service]:
        with self._api("list", "services", namespace or ""):
            return [
                service
                for key, service in sorted(self._services.items())
                if namespace is None or key[0] == namespace
            ]

    def get_service(self, namespace: str, name: str) -> Service:
        with self._api("get", "services", namespace, name):
            return self._service(namespace, name)

    def patch_service_selector(
        self, namespace: str, name: str, selector: Mapping[str, str]
    ) -> Service:
        with self._api("patch", "services", namespace, name):
            service = replace(self._service(namespace, name), selector=frozen(selector))
            self._services[(namespace, name)] = service
            return service

    def add_service(self, service: Service) -> None:
        with self._locked():
            self._services[(service.namespace, service.name)] = replace(
                service,
                selector=frozen(service.selector),
                created_at=service.created_at or self._stamp(),
            )

    def delete_service(self, namespace: str, name: str) -> None:
        with self._api("delete", "services", namespace, name):
            if self._services.pop((namespace, name), None) is None:
                raise NotFoundError(f'services "{name}" not found')

    def _service(self, namespace: str, name: str) -> Service:
        service = self._services.get((namespace, name))
        if service is None:
            raise NotFoundError(f'services "{name}" not found in namespace {namespace}')
        return service

    def deprecated_api_requests(self) -> list[DeprecatedApiRequest]:
        with self._api("get", "metrics", ""):
            return list(self._deprecated_requests)

    def record_deprecated_api_request(self, request: DeprecatedApiRequest) -> None:
        """A client used a deprecated API: the metric shows it from now on."""
        with self._locked():
            self._deprecated_requests.append(request)

    def helm_releases(self) -> list[HelmRelease]:
        with self._api("list", "secrets", ""):
            return list(self._helm_releases)

    def add_helm_release(self, release: HelmRelease) -> None:
        with self._locked():
            self._helm_releases.append(release)

    def get_ingress(self, namespace: str, name: str) -> Ingress:
        with self._api("get", "ingresses", namespace, name):
            return self._ingress(namespace, name)

    def patch_ingress_annotations(
        self, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Ingress:
        with self._api("patch", "ingresses", namespace, name):
            ingress = self._ingress(namespace, name)
            merged = dict(ingress.annotations)
            for key, value in annotations.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            return self._store_ingress(replace(ingress, annotations=frozen(merged)))

    def add_ingress(self, ingress: Ingress) -> Ingress:
        with self._locked():
            if (ingress.namespace, ingress.name) in self._ingresses:
                raise ConflictError(f'ingresses "{ingress.name}" already exists')
            return self._store_ingress(replace(ingress, annotations=frozen(ingress.annotations)))

    def watch_ingresses(self, watcher: IngressWatcher) -> None:
        """Call `watcher` with every Ingress as stored after a change, as an informer would:
        on the clock at the instant of the change, never inside the call that made it."""
        with self._locked():
            self._ingress_watchers.append(watcher)

    def _ingress(self, namespace: str, name: str) -> Ingress:
        ingress = self._ingresses.get((namespace, name))
        if ingress is None:
            raise NotFoundError(f'ingresses "{name}" not found in namespace {namespace}')
        return ingress

    def _store_ingress(self, ingress: Ingress) -> Ingress:
        stored = replace(ingress, resource_version=str(next(self._serial)))
        self._ingresses[(ingress.namespace, ingress.name)] = stored
        for watcher in self._ingress_watchers:
            self._at(self._clock.now(), functools.partial(watcher, stored))
        return stored

    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        with self._api("get", "httproutes", namespace, name):
            return self._http_route(namespace, name)

    def replace_http_route_rules(
        self, namespace: str, name: str, rules: Sequence[HTTPRouteRule], resource_version: str
    ) -> HTTPRoute:
        with self._api("update", "httproutes", namespace, name):
            current = self._http_route(namespace, name)
            if resource_version != current.resource_version:
                raise ConflictError(
                    f'Operation cannot be fulfilled on httproutes "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again"
                )
            return self._store_http_route(
                replace(current, rules=tuple(rules), generation=current.generation + 1)
            )

    def add_http_route(self, route: HTTPRoute, gateway: str = "gateway") -> HTTPRoute:
        """A route attached to one Gateway (`route.parents`, or `namespace/gateway`), whose
        controller accepts each generation at once and resolves refs to known Services."""
        with self._locked():
            if not route.parents:
                route = replace(
                    route,
                    parents=(RouteParentStatus(f"{route.namespace}/{gateway}", True, True, 0),),
                )
            return self._store_http_route(route)

    def _http_route(self, namespace: str, name: str) -> HTTPRoute:
        found = self._http_routes.get((namespace, name))
        if found is None:
            raise NotFoundError(f'httproutes "{name}" not found in namespace {namespace}')
        return found

    def _store_http_route(self, route: HTTPRoute) -> HTTPRoute:
        """Store `route` as its Gateway controller would leave it: every parent has observed
        this generation, and ResolvedRefs is False while a backend Service is missing."""
        missing = [
            f"{ref.namespace or route.namespace}/{ref.name}"
            for rule in route.rules
            for ref in (*rule.backend_refs, *(m.backend for m in rule.mirrors))
            if ref.kind == "Service"
            and (ref.namespace or route.namespace, ref.name) not in self._services
        ]
        message = f"Service {', '.join(missing)} not found" if missing else ""
        parents = tuple(
            replace(
                p,
                accepted=True,
                resolved_refs=not missing,
                observed_generation=route.generation,
                message=message,
            )
            for p in route.parents
        )
        stored = replace(route, parents=parents, resource_version=str(next(self._serial)))
        self._http_routes[(route.namespace, route.name)] = stored
        return stored

    def get_lease(self, namespace: str, name: str) -> Lease:
        with self._api("get", "leases", namespace, name):
            return self._lease(namespace, name)

    def create_lease(self, lease: Lease) -> Lease:
        with self._api("create", "leases", lease.namespace, lease.name):
            if (lease.namespace, lease.name) in self._leases:
                raise ConflictError(f'leases "{lease.name}" already exists')
            return self._store_lease(lease)

    def update_lease(self, lease: Lease) -> Lease:
        with self._api("update", "leases", lease.namespace, lease.name):
            current = self._lease(lease.namespace, lease.name)
            if lease.resource_version != current.resource_version:
                raise ConflictError(
                    f'Operation cannot be fulfilled on leases "{lease.name}": the object has '
                    "been modified; please apply your changes to the latest version and try again"
                )
            return self._store_lease(lease)

    def delete_lease(self, namespace: str, name: str) -> None:
        with self._api("delete", "leases", namespace, name):
            self._lease(namespace, name)
            del self._leases[(namespace, name)]

    def _lease(self, namespace: str, name: str) -> Lease:
        lease = self._leases.get((namespace, name))
        if lease is None:
            raise NotFoundError(f'leases "{name}" not found in namespace {namespace}')
        return lease

    def _store_lease(self, lease: Lease) -> Lease:
        stored = replace(lease, resource_version=str(next(self._serial)))
        self._leases[(lease.namespace, lease.name)] = stored
        return stored

    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        with self._api("get", "configmaps", namespace, name):
            found = self._config_maps.get((namespace, name))
            if found is None:
                raise NotFoundError(f'configmaps "{name}" not found in namespace {namespace}')
            return found

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        with self._api("patch", "configmaps", config_map.namespace, config_map.name):
            before = self._config_maps.get((config_map.namespace, config_map.name))
            stored = replace(
                config_map,
                data=frozen(config_map.data),
                resource_version=str(next(self._serial)),
                # an update keeps the creation time of the object it replaces
                created_at=before.created_at if before else self._stamp(),
            )
            self._config_maps[(config_map.namespace, config_map.name)] = stored
            return stored

    def delete_config_map(self, namespace: str, name: str) -> None:
        with self._api("delete", "configmaps", namespace, name):
            if self._config_maps.pop((namespace, name), None) is None:
                raise NotFoundError(f'configmaps "{name}" not found')

    def list_config_maps(self, namespace: str | None = None) -> list[ConfigMap]:
        with self._lock:
            return sorted(
                (c for c in self._config_maps.values() if namespace in (None, c.namespace)),
                key=lambda c: (c.namespace, c.name),
            )
