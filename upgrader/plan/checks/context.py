"""What a check knows besides the snapshot: the request and the rules to judge it by.

Everything a check could otherwise reach for (the clock, the version data file, the config)
comes in here, so a check is a pure function of (snapshot, context) and a test can pin "today".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from upgrader.core.defaults import drain_timeout
from upgrader.core.errors import UserError
from upgrader.plan.checks.config import Config, Thresholds
from upgrader.plan.snapshot import ClusterSnapshot
from upgrader.versions import KubeVersion, VersionCatalog


class NodeStrategy(StrEnum):
    """How node groups move to a new version."""

    BLUE_GREEN = "blue-green"  # a new group beside the old one, then drain and delete the old
    IN_PLACE = "in-place"  # EKS rolls the group's nodes itself, a few at a time


@dataclass(frozen=True)
class CheckContext:
    target: str  # the requested Kubernetes minor, "1.31", as the user typed it
    catalog: VersionCatalog
    today: dt.date
    strategy: NodeStrategy = NodeStrategy.BLUE_GREEN
    config: Config = field(default_factory=Config)
    drain_timeout_seconds: int | None = None  # None: the config's threshold
    max_unavailable: str | None = None  # in-place updates: "3" or "25%"; None: each group's own
    ami_family: str | None = None  # green groups off AL2: "al2023" or "bottlerocket" (ami_move)

    @property
    def thresholds(self) -> Thresholds:
        return self.config.thresholds

    @property
    def drain_timeout(self) -> int:
        return int(drain_timeout(self.drain_timeout_seconds, self.thresholds.drain_timeout_seconds))

    @property
    def target_version(self) -> KubeVersion | None:
        return KubeVersion.try_parse(self.target)

    def hops(self, snapshot: ClusterSnapshot) -> list[str] | None:
        """The control-plane versions after the current one, up to the target; None when there
        is no valid path (the `target-version` check says why), [] when the control plane is
        already on the target (nodes behind it may still move)."""
        if self.target_version is not None and self.target_version == KubeVersion.try_parse(
            snapshot.cluster.version
        ):
            return []
        try:
            return self.catalog.hops(snapshot.cluster.version, self.target)
        except UserError:
            return None
