"""Where the moto EKS extension meets the rest of the sandbox: its clock, its delays, its hooks.

moto answers EKS calls but knows nothing of nodes or pods. The sandbox joins the two worlds:
it points `settings.clock` at its `VirtualClock` (so an update that "takes nine minutes" ends
when nine virtual minutes have passed) and registers `EksWorldHooks`, told when a managed node
group's nodes must appear, change or go, so that the fake Kubernetes cluster follows what the
EKS API says. All of this is module state because moto builds its backends itself; tests reset
it with `settings.reset()`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Protocol


class TimeSource(Protocol):
    """Anything with `now()`, in seconds since the epoch: the system clock or a VirtualClock."""

    def now(self) -> float: ...


class SystemTime:
    def now(self) -> float:
        return time.time()


@dataclass(frozen=True)
class NodegroupFacts:
    """A managed node group as the sandbox's nodes should reflect it."""

    cluster: str
    name: str
    version: str  # Kubernetes minor of the nodes, e.g. "1.30" (the target, for an update)
    release_version: str  # AMI release, e.g. "1.30.14-20251209"
    ami_type: str
    capacity_type: str
    instance_types: tuple[str, ...]
    desired_size: int
    min_size: int
    max_size: int
    labels: Mapping[str, str]
    taints: tuple[Mapping[str, str], ...]  # EKS spelling: key, value, effect NO_SCHEDULE...
    max_unavailable: int | None  # from updateConfig: exactly one of the two is set
    max_unavailable_percentage: int | None
    delay: float  # seconds of virtual time until the nodes exist (or, for a delete, are gone)


class EksWorldHooks(Protocol):
    """What the sandbox is told. Called after the EKS state changed, from the request's thread."""

    def cluster_version_updating(
        self, cluster: str, version: str, update_id: str, delay: float
    ) -> None:
        """The control plane reaches `version` in `delay` seconds (unless the update is
        finished otherwise with `finish_update`)."""
        ...

    def nodegroup_created(self, facts: NodegroupFacts) -> None: ...

    def nodegroup_scaled(self, facts: NodegroupFacts) -> None:
        """update_nodegroup_config changed the scaling config; `facts` has the new sizes."""
        ...

    def nodegroup_version_updating(self, facts: NodegroupFacts, update_id: str) -> bool:
        """An in-place update to `facts.version`/`facts.release_version` started. Return True to
        take over: the update then stays InProgress until the sandbox calls
        `finish_update(cluster, update_id, ...)`. Return False to let it end by time."""
        ...

    def nodegroup_deleting(self, facts: NodegroupFacts) -> None: ...


class NoHooks:
    """A do-nothing EksWorldHooks, to subclass when only some events matter."""

    def cluster_version_updating(
        self, cluster: str, version: str, update_id: str, delay: float
    ) -> None:
        del cluster, version, update_id, delay

    def nodegroup_created(self, facts: NodegroupFacts) -> None:
        del facts

    def nodegroup_scaled(self, facts: NodegroupFacts) -> None:
        del facts

    def nodegroup_version_updating(self, facts: NodegroupFacts, update_id: str) -> bool:
        del facts, update_id
        return False

    def nodegroup_deleting(self, facts: NodegroupFacts) -> None:
        del facts


@dataclass
class EksSettings:
    """The extension's knobs. Durations are seconds of `clock` time; defaults are AWS's orders of
    magnitude, so a sandbox run waits about as long, in virtual time, as a real one would."""

    clock: TimeSource = field(default_factory=SystemTime)
    hooks: EksWorldHooks | None = None
    # CreateCluster until the control plane is ACTIVE: AWS takes about 10 minutes.
    cluster_create_seconds: float = 600.0
    # Control plane minor update: AWS takes about 8-10 minutes.
    cluster_update_seconds: float = 540.0
    # Managed node group create (ASG, instances, join): a few minutes on AWS.
    nodegroup_create_seconds: float = 240.0
    # Delete: instances drained and terminated, then the group disappears.
    nodegroup_delete_seconds: float = 300.0
    # In-place version update when no hook takes over: a small group's rolling replacement.
    nodegroup_update_seconds: float = 900.0
    # Until a new node is Ready after a scale-up or during an update; passed to the hooks.
    node_join_seconds: float = 90.0
    # Add-on create / update / delete: one to two minutes on AWS.
    addon_create_seconds: float = 60.0
    addon_update_seconds: float = 90.0
    addon_delete_seconds: float = 45.0
    # What create_cluster uses when no version is given (AWS's default lags the newest).
    default_cluster_version: str = "1.31"
    # AWS refuses UpdateClusterVersion while a managed node group is not at the cluster's
    # version ("Nodegroups ... must be updated to match cluster version"). Switch off only to
    # build a scenario AWS itself could not reach through its API.
    require_nodegroups_at_cluster_version: bool = True

    def reset(self) -> None:
        """Back to the defaults above (tests call this after changing the clock or hooks)."""
        fresh = EksSettings()
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))


settings = EksSettings()
