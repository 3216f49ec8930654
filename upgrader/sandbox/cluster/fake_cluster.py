"""FakeCluster: the `Cluster` port answered by a small Kubernetes simulation in virtual time.

Upgrades fail in the interplay of controllers, the scheduler, disruption budgets and grace
periods, so canned answers would test nothing. Here an evicted pod is replaced by its controller,
the replacement waits for a node with room, becomes Ready after its workload's start-up delay,
and only then gives its PDB budget back; a node that vanishes takes its pods with it. Everything
that takes time is an event on the `VirtualClock`, so the code under test moves the world by
sleeping, and tests can assert on virtual time.

Pieces: `scheduler` places pods, `controllers` decide what pods should exist, `disruption` holds
the PDB rules, `actions` logs calls and injects faults, `node_groups` makes nodes. The object
store (`store`, the tracker of client-go's fake) is acted on by one layer per concern: `budgets`,
`pods`, `eviction`, `nodes`, `workloads`, `stored_objects` and `karpenter_port`. `FakeCluster`
stacks them. They are layers of one class, not separate objects, because they share one set of
indexes, one lock and one event outbox, and pods and nodes call each other (a node that goes
removes its pods; a Fargate pod that goes removes its node).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from upgrader.sandbox.cluster.eviction import EvictionApi
from upgrader.sandbox.cluster.karpenter_port import KarpenterPort
from upgrader.sandbox.cluster.nodes import DEFAULT_JOIN_DELAY_SECONDS, Nodes
from upgrader.sandbox.cluster.pods import DEFAULT_JOB_RUN_SECONDS, DEFAULT_STARTUP_SECONDS
from upgrader.sandbox.cluster.store import ClusterStats, IngressWatcher, PdbViolation
from upgrader.sandbox.cluster.stored_objects import StoredObjects
from upgrader.sandbox.cluster.workloads import HPA_SYNC_SECONDS, Workloads

if TYPE_CHECKING:
    from upgrader.core.ports import Cluster

__all__ = [
    "DEFAULT_JOB_RUN_SECONDS",
    "DEFAULT_JOIN_DELAY_SECONDS",
    "DEFAULT_STARTUP_SECONDS",
    "HPA_SYNC_SECONDS",
    "ClusterStats",
    "FakeCluster",
    "IngressWatcher",
    "PdbViolation",
]


class FakeCluster(Workloads, EvictionApi, Nodes, StoredObjects, KarpenterPort):
    """An in-memory Kubernetes cluster behind the `Cluster` port, driven by a `VirtualClock`."""

    def server_version(self) -> str:
        with self._api("get", "version"):
            return self._version

    def watching(self) -> AbstractContextManager[None]:
        """Always current: every read is answered from the world itself."""
        return nullcontext()

    def settle(self, limit_seconds: float = 3600.0) -> None:
        """Let virtual time run until nothing more is scheduled (at most `limit_seconds`)."""
        self._clock.run_until_idle(limit_seconds)

    def set_server_version(self, version: str) -> None:
        """The control plane was upgraded (the sandbox calls this when EKS says so)."""
        with self._lock:
            self._version = version
        if self._karpenter is not None:
            self._karpenter.wake()  # an AMI alias resolves for the new minor: drift


if TYPE_CHECKING:

    def _implements_the_port(cluster: FakeCluster) -> Cluster:
        """mypy checks here that FakeCluster satisfies the `Cluster` Protocol."""
        return cluster
