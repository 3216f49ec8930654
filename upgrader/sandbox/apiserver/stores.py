"""The API server's own state, beside the FakeCluster's objects: the namespaces created and
being deleted through the API, the Secrets created through it, and the cluster IPs given to
Services. The route modules act on them through the server's state Protocol (`state`), which
names these types; they live here, apart from those routes, so that neither imports the other.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from upgrader.core.errors import ConflictError, NotFoundError, UserError
from upgrader.core.kube import Service

# A new EKS cluster's namespaces (kube-apiserver creates the last three; `default` is built in).
BUILT_IN = ("default", "kube-node-lease", "kube-public", "kube-system")
# 172.20.0.1 is the `kubernetes` Service and 172.20.0.10 kube-dns in an EKS cluster.
_RESERVED_IPS = frozenset({"172.20.0.0", "172.20.0.1", "172.20.0.10", "172.20.255.255"})


class Namespaces:
    """Namespaces created through the API, with their creation times, and the ones being
    deleted, with their deletion times."""

    def __init__(self) -> None:
        self._created: dict[str, float] = {}
        self._terminating: dict[str, float] = {}
        self._recreated: dict[str, float] = {}  # built-in ones deleted and made again
        self._lock = threading.Lock()

    def terminate(self, name: str, now: float) -> float:
        """Mark the namespace Terminating (once): its deletion time."""
        with self._lock:
            return self._terminating.setdefault(name, now)

    def terminating(self) -> dict[str, float]:
        with self._lock:
            return dict(self._terminating)

    def gone(self, name: str, now: float) -> None:
        with self._lock:
            self._terminating.pop(name, None)
            self._created.pop(name, None)
            if name in BUILT_IN:
                self._recreated[name] = now

    def recreated(self) -> dict[str, float]:
        with self._lock:
            return dict(self._recreated)

    def create(self, name: str, now: float) -> float:
        with self._lock:
            if name in self._terminating:
                raise ConflictError(f'object is being deleted: namespaces "{name}" already exists')
            if name in self._created:
                raise ConflictError(f'namespaces "{name}" already exists')
            self._created[name] = now
            return now

    def created(self) -> dict[str, float]:
        with self._lock:
            return dict(self._created)


@dataclass(frozen=True)
class Secret:
    namespace: str
    name: str
    type: str = "Opaque"
    data: Mapping[str, bytes] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    version: int = 1


class Secrets:
    """The Secrets created through the API, by namespace and name."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Secret] = {}
        self._lock = threading.Lock()
        self._version = 0

    def list(self, namespace: str | None = None) -> list[Secret]:
        with self._lock:
            return [s for k, s in sorted(self._items.items()) if namespace in (None, k[0])]

    def get(self, namespace: str, name: str) -> Secret | None:
        with self._lock:
            return self._items.get((namespace, name))

    def put(self, secret: Secret, *, create: bool) -> Secret:
        with self._lock:
            key = (secret.namespace, secret.name)
            if create and key in self._items:
                raise ConflictError(f'secrets "{secret.name}" already exists')
            if not create and key not in self._items:
                raise NotFoundError(f'secrets "{secret.name}" not found')
            self._version += 1
            stored = replace(secret, version=self._version)
            self._items[key] = stored
            return stored

    def delete(self, namespace: str, name: str) -> None:
        with self._lock:
            if self._items.pop((namespace, name), None) is None:
                raise NotFoundError(f'secrets "{name}" not found')


class InvalidServiceError(UserError):
    """A Service the API server would refuse: "<field>: <what is wrong>"."""


class Addresses:
    """Cluster IPs and node ports, each given to one Service. A Service the world was built
    with (no cluster IP of its own) gets one the first time it is shown, the same for as long
    as it lives; the start of the search is a hash of its name, so a world reads the same on
    every run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._given: dict[tuple[str, str, float], str] = {}

    def cluster_ip(self, service: Service, taken: Sequence[Service]) -> str:
        if service.cluster_ip:
            return service.cluster_ip
        key = (service.namespace, service.name, service.created_at)
        with self._lock:
            if key not in self._given:
                used = {s.cluster_ip for s in taken} | set(self._given.values())
                self._given[key] = _free_ip(f"{service.namespace}/{service.name}", used)
            return self._given[key]

    def new_cluster_ip(self, service: Service, taken: Sequence[Service]) -> str:
        with self._lock:
            used = {s.cluster_ip for s in taken} | set(self._given.values())
            return _free_ip(f"{service.namespace}/{service.name}", used)


def _free_ip(name: str, used: set[str]) -> str:
    start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big")
    for step in range(65536):
        n = (start + step) % 65536
        ip = f"172.20.{n >> 8}.{n & 255}"
        if ip not in used and ip not in _RESERVED_IPS:
            return ip
    raise InvalidServiceError("spec.clusterIPs: Internal error: the service CIDR is full")
