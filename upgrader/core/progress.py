"""How far a drain is, as values: the tally the drain computes each round, the budget bound it
estimates, and the clock text every reporter prints them with.

In the core because both sides use them: the drain (which computes them) and the reporters
(which print them, `upgrader.execute.progress`) sit in different layers.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from upgrader.core.defaults import ASSUMED_STARTUP_SECONDS
from upgrader.core.kube import Pod


@dataclass(frozen=True)
class DrainTally:
    """How far a drain is, beyond the pods left and evicted."""

    nodes_total: int = 0
    nodes_drained: int = 0  # no pod left to evict or terminating on them
    replacements_pending: int = 0  # displaced workloads whose replacements are not Ready yet
    elapsed: float = 0.0
    estimate: float | None = None  # the budget bound, from the drain's first round
    headroom: int = 0  # disruptions the budgets covering the pods left allow right now
    held: int = 0  # pods a budget holds back this round

    def as_data(self, pods_left: int, evicted: int) -> dict[str, str]:
        """The journal's `progress` record (string values, as every record's data)."""
        return {
            "nodes": str(self.nodes_total),
            "drained": str(self.nodes_drained),
            "pods_left": str(pods_left),
            "evicted": str(evicted),
            "headroom": str(self.headroom),
            "held": str(self.held),
            "elapsed": f"{self.elapsed:.0f}",
        }

    def describe(self) -> str:
        parts = [f"nodes drained {self.nodes_drained}/{self.nodes_total}"]
        if self.replacements_pending:
            parts.append(f"{self.replacements_pending} workloads' replacements not Ready")
        parts.append(f"elapsed {clock_text(self.elapsed)}")
        if self.estimate is not None:
            parts.append(f"estimate ~{clock_text(self.estimate)} (budget bound)")
        return ", ".join(parts)


def clock_text(seconds: float) -> str:
    """`1h02m03s`, `4m05s`, `12s`: short enough for a log line."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def budget_bound(
    pods: Collection[Pod], covering: Mapping[str, str | None], budgets: Mapping[str, int]
) -> float:
    """The budget bound of evicting `pods` now (see `upgrader.plan.drain_estimate`): each PDB's
    pods leave in waves of its allowed disruptions, each wave costing the slowest grace period
    plus start-up. `covering` maps a pod key to its PDB key (None: no budget). A budget at 0
    has no bound and is left out, as in the planner's estimate."""
    by_pdb: dict[str | None, list[Pod]] = {}
    for pod in pods:
        by_pdb.setdefault(covering.get(pod.key), []).append(pod)
    worst = 0.0
    for pdb, members in by_pdb.items():
        waves = 1
        if pdb is not None:
            allowed = budgets.get(pdb, 0)
            if allowed <= 0:
                continue
            waves = math.ceil(len(members) / allowed)
        worst = max(worst, waves * _wave_seconds(members))
    return worst


def _wave_seconds(pods: Collection[Pod]) -> float:
    grace = max(p.spec.termination_grace_seconds for p in pods)
    startup = max(
        p.startup_seconds if p.startup_seconds is not None else ASSUMED_STARTUP_SECONDS
        for p in pods
    )
    return grace + startup
