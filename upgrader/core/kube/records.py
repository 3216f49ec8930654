"""Objects eksup keeps or reads as records rather than schedules: the Lease it locks with,
the ConfigMaps it mirrors state into, the API server's deprecated-API metric, and Helm releases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lease:
    """A coordination.k8s.io/v1 Lease, used as the per-cluster execution lock."""

    namespace: str
    name: str
    holder: str
    acquired_at: float
    renewed_at: float
    duration_seconds: int
    resource_version: str = ""

    def expired(self, now: float) -> bool:
        return now > self.renewed_at + self.duration_seconds


@dataclass(frozen=True)
class ConfigMap:
    namespace: str
    name: str
    data: Mapping[str, str] = field(default_factory=dict)
    resource_version: str = ""
    created_at: float = 0.0  # metadata.creationTimestamp; 0 when the source does not say


@dataclass(frozen=True)
class DeprecatedApiRequest:
    """One series of the API server's `apiserver_requested_deprecated_apis` metric: a client
    asked for a deprecated group/version/resource since the API server started."""

    group: str  # "" for the core group
    version: str
    resource: str
    subresource: str = ""
    removed_release: str = ""  # "1.25", when the API server knows it

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True)
class HelmRelease:
    """The deployed revision of a Helm release and the manifest Helm applied for it."""

    namespace: str
    name: str
    revision: int
    manifest: str
