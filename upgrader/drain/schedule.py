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

from upgrader.core.kube import Pod, PodDisruptionBudget
from upgrader.drain.eviction_rules import can_ignore_pdb, covers, unhealthy_goes_free


@dataclass(frozen=True)
class Candidate:
    """An evictable pod, the PDBs that cover it, and how long its replacement takes to start."""

    pod: Pod
    pdbs: tuple[str, ...]
    startup_seconds: float
    # The Eviction API lets this pod go without lowering its PDB's budget: it is Pending, or
    # not Ready under a policy that allows that (eviction_rules.unhealthy_goes_free).
    free: bool = False


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
            pdb.key for pdb in self._by_namespace.get(pod.namespace, ()) if covers(pdb, pod)
        )

    def budget(self, key: str) -> int:
        return self.by_key[key].disruptions_allowed

    def free(self, pod: Pod, pdbs: tuple[str, ...]) -> bool:
        """Whether the Eviction API would let `pod` go without spending a budget."""
        if can_ignore_pdb(pod):
            return True
        return len(pdbs) == 1 and unhealthy_goes_free(pod, self.by_key[pdbs[0]])


def next_evictions(
    candidates: Sequence[Candidate],
    budgets: Mapping[str, int],
    *,
    unbudgeted_limit: int = 50,
) -> list[Candidate]:
    """The evictions to issue now.

    `budgets` is each PDB's disruptions allowed as freshly read (the API server lowers it the
    moment it admits an eviction). A pod covered by several PDBs is never chosen: the Eviction
    API refuses it, and the drain reports it instead. Pods without a PDB, and pods the API lets
    go without spending a budget (`free`), go `unbudgeted_limit` at a time so a large drain does
    not flood the API server; a free pod never takes a budget another pod could use.
    """
    remaining = dict(budgets)
    unbudgeted = unbudgeted_limit
    chosen: list[Candidate] = []
    # Free evictions first (they cost nothing), then longest start-up first: those
    # replacements gate the end of the drain.
    ordered = sorted(candidates, key=lambda c: (not c.free, -c.startup_seconds, c.pod.key))
    for candidate in ordered:
        if not candidate.pdbs or candidate.free:
            if unbudgeted > 0:
                unbudgeted -= 1
                chosen.append(candidate)
            continue
        if len(candidate.pdbs) > 1:
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
        if (
            len(candidate.pdbs) == 1
            and not candidate.free
            and budgets.get(candidate.pdbs[0], 0) <= 0
        ):
            held[candidate.pdbs[0]].append(candidate.pod.key)
    return dict(held)
