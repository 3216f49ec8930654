"""Progress a person (or a CI job) can trust during long work: what a wait is at, and a heartbeat.

A control-plane update takes ten minutes, a node-group drain can take an hour. CI systems kill
jobs that print nothing for a while (GitLab and Jenkins after minutes of silence), and a person
cannot tell a stuck run from a slow one. So every reporter says how far a wait or a drain is,
how long it has taken, what the budget bound predicts, and repeats itself at least every
`HEARTBEAT_SECONDS` of the Clock's time even when nothing changed.

Pure values and formatting; the drain computes a `DrainTally`, the reporters print it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from upgrader.core.kube import Pod
from upgrader.plan.drain_estimate import ASSUMED_STARTUP_SECONDS

# At most this long (Clock seconds) between two progress lines of a wait or a drain: the
# promise. Waits tell their reporter every TICK_SECONDS, and a reporter repeats an unchanged
# line after REPEAT_AFTER_SECONDS, so no gap exceeds REPEAT_AFTER + TICK = HEARTBEAT.
HEARTBEAT_SECONDS = 30.0
TICK_SECONDS = 10.0
REPEAT_AFTER_SECONDS = HEARTBEAT_SECONDS - TICK_SECONDS


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


class Beat:
    """Decides when a progress line is due: its text changed, or a heartbeat is."""

    def __init__(self) -> None:
        self._text: dict[str, str] = {}
        self._at: dict[str, float] = {}

    def due(self, kind: str, text: str, now: float | None) -> bool:
        changed = self._text.get(kind) != text
        stale = now is not None and now - self._at.get(kind, -math.inf) >= REPEAT_AFTER_SECONDS
        if not (changed or stale):
            return False
        self._text[kind] = text
        if now is not None:
            self._at[kind] = now
        return True

    def clear(self) -> None:
        self._text.clear()
        self._at.clear()
