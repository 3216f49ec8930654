"""How long draining a group of nodes must take at least, from its pods' budgets: the budget bound.

Each PodDisruptionBudget lets its pods leave in waves of `disruptionsAllowed`; a wave costs the
slowest pod's grace period (it must stop) plus its start-up time (its replacement must be Ready
before the budget frees again). The drain cannot finish before its slowest budget has gone
through all its waves, so a drain timeout below that bound is a guaranteed failure, half-way
through, with blue cordoned. The planner uses this to raise a too-short timeout.

A budget at zero is left out: no timeout fits it, and the `pdb-blocks-drain` check says so.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from upgrader.core.defaults import ASSUMED_STARTUP_SECONDS
from upgrader.core.kube import Pod
from upgrader.plan.checks._common import is_moved_by_drain
from upgrader.plan.snapshot import ClusterSnapshot

# Named here too: the estimate's tests and readers look for it beside the estimate.
__all__ = ["ASSUMED_STARTUP_SECONDS", "DrainEstimate", "estimate_drain"]


@dataclass(frozen=True)
class DrainEstimate:
    seconds: float
    reason: str  # which budget binds, in a reviewer's words

    def __str__(self) -> str:
        return f"{self.seconds:.0f} s ({self.reason})"


def _wave_seconds(pods: Collection[Pod]) -> float:
    grace = max(p.spec.termination_grace_seconds for p in pods)
    startup = max(
        (p.startup_seconds if p.startup_seconds is not None else ASSUMED_STARTUP_SECONDS)
        for p in pods
    )
    return grace + startup


def estimate_drain(snapshot: ClusterSnapshot, node_names: Collection[str]) -> DrainEstimate:
    """The budget bound of draining `node_names` at once (eksup's drain, all nodes together)."""
    nodes = set(node_names)
    moved = {
        p.key: p
        for name in nodes
        for p in snapshot.pods_by_node.get(name, ())
        if is_moved_by_drain(p)
    }
    if not moved:
        return DrainEstimate(0.0, "no pod to move")
    # From the moved pods to their budgets, not from every budget to all its pods: the planner
    # asks once per node group and hop, and a big cluster has 100,000s of budgeted pods.
    by_pdb: dict[str, list[Pod]] = defaultdict(list)
    for key, pod in moved.items():
        for pdb_key in snapshot.pdb_keys_by_pod.get(key, ()):
            by_pdb[pdb_key].append(pod)
    budgeted: set[str] = set()
    worst = DrainEstimate(0.0, "")
    for pdb in snapshot.pdbs:
        pods = by_pdb.get(pdb.key)
        if not pods:
            continue
        budgeted.update(p.key for p in pods)
        allowed = pdb.disruptions_allowed
        if allowed <= 0:
            continue
        waves = math.ceil(len(pods) / allowed)
        seconds = waves * _wave_seconds(pods)
        if seconds > worst.seconds:
            worst = DrainEstimate(
                seconds,
                f"PDB {pdb.key}: {len(pods)} pods in {waves} waves of {allowed}, "
                f"~{seconds / waves:.0f} s each",
            )
    free = [p for key, p in moved.items() if key not in budgeted]
    if free and _wave_seconds(free) > worst.seconds:
        worst = DrainEstimate(_wave_seconds(free), "pods without a budget, all at once")
    return worst
