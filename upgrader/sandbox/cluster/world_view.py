"""What a part of the sandbox world reads of the whole: its region, its clock, and the fake
cluster behind an EKS cluster.

The parts that act on the world's behalf (self-managed and Fargate nodes, the in-place node
group update) are built by `upgrader.sandbox.world.Sandbox` and hold it; they name it through
this Protocol, so no part imports the module that builds it (no import cycle).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from upgrader.sandbox.clock import VirtualClock
    from upgrader.sandbox.cluster.fake_cluster import FakeCluster


class WorldView(Protocol):
    @property
    def region(self) -> str: ...

    @property
    def clock(self) -> VirtualClock: ...

    def kube(self, cluster: str) -> FakeCluster:
        """The fake Kubernetes cluster behind EKS cluster `cluster`."""
        ...
