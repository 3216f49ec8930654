"""How long an EKS update is likely to take: the estimate a wait's progress line carries.

A person watching "control plane demo -> 1.30: EKS update u-1 is InProgress" for eight minutes
cannot tell a slow update from a stuck one; CI logs cannot either. So every EKS wait (control
plane, node group, add-on) says what it expects, and where the figure comes from:

- this run's own history first: the last update of the same kind that this run saw finish
  (a second control-plane hop takes about as long as the first did on the same cluster); node
  group updates are kept per batch of replaced nodes, so a 12-node group is not judged by a
  3-node one;
- else a typical duration (`TYPICAL_SECONDS`, below, with where each comes from).

The figure is an expectation, never a deadline: the step's timeout (`--timeout-*`) decides when
a wait gives up. Pure values; the step records durations through its journal (`record_key`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from upgrader.execute.progress import clock_text


class UpdateKind(StrEnum):
    CONTROL_PLANE = "control-plane"
    NODEGROUP = "node-group"  # a version update: EKS replaces the nodes in batches
    NODEGROUP_CONFIG = "node-group-config"  # UpdateNodegroupConfig (e.g. maxUnavailable)
    ADDON = "add-on"


# Typical durations, seconds. AWS documents none of them as a number; these are the orders of
# magnitude AWS describes and the sandbox's EKS extension uses (upgrader/sandbox/eks/state.py):
# - control plane: UpdateClusterVersion "should finish within a few minutes" (EKS API reference),
#   in practice 8-10 minutes for a minor version;
# - add-on: UpdateAddon rolls the add-on's DaemonSet or Deployment, one to two minutes;
# - node-group config: a settings change, no node is replaced;
# - node group version update, per batch of `maxUnavailable` nodes: a new node launched and
#   Ready (~1.5-2 min), the old one cordoned, drained and terminated (~3 min).
TYPICAL_SECONDS: dict[UpdateKind, float] = {
    UpdateKind.CONTROL_PLANE: 600.0,
    UpdateKind.ADDON: 120.0,
    UpdateKind.NODEGROUP_CONFIG: 60.0,
    UpdateKind.NODEGROUP: 300.0,
}


def batches(nodes: int, at_a_time: int) -> int:
    """How many rounds EKS replaces `nodes` in, `at_a_time` per round (at least one)."""
    return max(1, math.ceil(max(nodes, 1) / max(at_a_time, 1)))


@dataclass(frozen=True)
class UpdateEstimate:
    """What a wait expects: `seconds` in total, and whether it comes from this run."""

    kind: UpdateKind
    seconds: float
    from_run: bool

    def text(self) -> str:
        source = f"this run's last {self.kind}" if self.from_run else f"typical {self.kind}"
        return f"estimate ~{clock_text(self.seconds)} ({source})"


def record_key(kind: UpdateKind) -> str:
    """The journal memo that keeps this run's last duration of `kind` (per batch for nodes)."""
    return f"eks-update-seconds/{kind}"


def estimate(kind: UpdateKind, rounds: int = 1, recorded: str | None = None) -> UpdateEstimate:
    """The estimate of an update of `kind` that takes `rounds` batches (node groups), from a
    recorded per-batch duration of this run when there is a usable one."""
    per_round = TYPICAL_SECONDS[kind]
    from_run = False
    if recorded:
        try:
            seen = float(recorded)
        except ValueError:
            seen = 0.0
        if math.isfinite(seen) and seen > 0:
            per_round, from_run = seen, True
    return UpdateEstimate(kind, per_round * max(rounds, 1), from_run)


def per_round(seconds: float, rounds: int) -> str:
    """The memo value for an update that took `seconds` over `rounds` batches."""
    return f"{seconds / max(rounds, 1):.0f}"
