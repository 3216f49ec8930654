"""Which evictions to issue next: the pure core of eksup's PDB-aware parallel drain.

`kubectl drain` goes node by node and retries refused evictions blindly; `eksctl --parallel`
drains many nodes at once, still blind to budgets, and collects 429s. eksup instead looks at
every evictable pod on every blue node together and spends each PodDisruptionBudget's remaining
budget exactly: never more evictions in flight for a PDB than it allows, pods whose
replacements take longest to start first (they bound the makespan), and nothing more until the
replacements are Ready and the budget comes back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from upgrader.kube import Pod, PodDisruptionBudget


@dataclass(frozen=True)
class Candidate:
    """An evictable pod, the PDBs that cover it, and how long its replacement takes to start."""

    pod: Pod
    pdbs: tuple[str, ...]
    startup_seconds: float


class PdbIndex:
    """PDBs by namespace, so matching a pod costs its namespace's PDBs, not all of them."""

    def __init__(self, pdbs: Iterable[PodDisruptionBudget]) -> None:
        self.by_key: dict[str, PodDisruptionBudget] = {}
        self._by_namespace: dict[str, list[PodDisruptionBudget]] = defaultdict(list)
        for pdb in pdbs:
            self.by_key[pdb.key] = pdb
            self._by_namespace[pdb.namespace].append(pdb)

    def covering(self, pod: Pod) -> tuple[str, ...]:
        return tuple(
            pdb.key
            for pdb in self._by_namespace.get(pod.namespace, ())
            if pdb.selector.matches(pod.labels)
        )

    def budget(self, key: str) -> int:
        return self.by_key[key].disruptions_allowed


def next_evictions(
    candidates: Sequence[Candidate],
    budgets: Mapping[str, int],
    *,
    unbudgeted_limit: int = 50,
) -> list[Candidate]:
    """The evictions to issue now.

    `budgets` is each PDB's disruptions allowed as freshly read (the API server lowers it the
    moment it admits an eviction). A pod covered by several PDBs is never chosen: the Eviction
    API refuses it, and the drain reports it instead. Pods without a PDB go `unbudgeted_limit`
    at a time so a large drain does not flood the API server.
    """
    remaining = dict(budgets)
    unbudgeted = unbudgeted_limit
    chosen: list[Candidate] = []
    # Longest start-up first: those replacements gate the end of the drain.
    ordered = sorted(candidates, key=lambda c: (-c.startup_seconds, c.pod.key))
    for candidate in ordered:
        if len(candidate.pdbs) > 1:
            continue
        if not candidate.pdbs:
            if unbudgeted > 0:
                unbudgeted -= 1
                chosen.append(candidate)
            continue
        (pdb,) = candidate.pdbs
        if remaining.get(pdb, 0) > 0:
            remaining[pdb] -= 1
            chosen.append(candidate)
    return chosen


def waiting_on(candidates: Sequence[Candidate], budgets: Mapping[str, int]) -> dict[str, list[str]]:
    """For progress and timeout reports: PDB -> the pods it is holding back right now."""
    held: dict[str, list[str]] = defaultdict(list)
    for candidate in candidates:
        if len(candidate.pdbs) == 1 and budgets.get(candidate.pdbs[0], 0) <= 0:
            held[candidate.pdbs[0]].append(candidate.pod.key)
    return dict(held)
