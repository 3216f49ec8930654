"""How the Eviction API decides one pod: the rules the drain plans with and the fake enforces.

kubernetes pkg/registry/core/pod/storage/eviction.go, `EvictionREST.Create`:
- `canIgnorePDB`: a Succeeded, Failed or Pending pod, or one already being deleted, is deleted
  without looking at any budget;
- `getPodDisruptionBudgets`: every PDB of the pod's namespace whose selector matches its labels;
  in policy/v1 an empty selector (`{}`) matches every pod and a null one none (the
  `selector.Empty()` skip of the v1beta1 days is gone);
- more than one such PDB: 500, "more than one PodDisruptionBudget";
- a pod that is not Ready does not count as healthy, so removing it spends nothing: it is let go
  when the PDB says `unhealthyPodEvictionPolicy: AlwaysAllow`, and under the default
  `IfHealthyBudget` while `currentHealthy >= desiredHealthy > 0`; otherwise it is judged like a
  healthy pod (`checkAndDecrement`);
- `checkAndDecrement`: 429 when `disruptionsAllowed` is 0; else the budget is lowered by one and
  the pod recorded in `status.disruptedPods`.

Pure, so the drain can ask "would this eviction go through, and would it spend a budget?"
before it asks the API server, and the fake answers with the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from upgrader.core.eviction import (
    ALWAYS_ALLOW,
    IF_HEALTHY_BUDGET,
    can_ignore_pdb,
    unhealthy_goes_free,
)
from upgrader.core.kube import Pod, PodDisruptionBudget

# The rules a single pod decides live in core (the plan's checks use them too); re-exported.
__all__ = [
    "ALWAYS_ALLOW",
    "IF_HEALTHY_BUDGET",
    "Verdict",
    "can_ignore_pdb",
    "covers",
    "decide_eviction",
    "never_allows",
    "unhealthy_goes_free",
]


class Verdict(StrEnum):
    ALLOW = "allow"  # delete; no budget involved
    CONSUME = "consume"  # delete and record the pod in the PDB's disruptedPods
    BLOCKED = "blocked"  # 429 Too Many Requests
    MULTIPLE_PDBS = "multiple-pdbs"  # 500: the eviction subresource supports one PDB per pod


def covers(pdb: PodDisruptionBudget, pod: Pod) -> bool:
    """getPodDisruptionBudgets' test: same namespace, selector matches (`{}` matches all)."""
    return pod.namespace == pdb.namespace and pdb.selector.matches(pod.labels)


def decide_eviction(pod: Pod, budgets: Sequence[PodDisruptionBudget]) -> Verdict:
    """The Eviction API's answer for `pod`, given the PDBs covering it (with fresh status)."""
    if can_ignore_pdb(pod) or not budgets:
        return Verdict.ALLOW
    if len(budgets) > 1:
        return Verdict.MULTIPLE_PDBS
    (pdb,) = budgets
    if unhealthy_goes_free(pod, pdb):
        return Verdict.ALLOW
    if pdb.disruptions_allowed <= 0:
        return Verdict.BLOCKED
    return Verdict.CONSUME


def never_allows(pdb: PodDisruptionBudget) -> bool:
    """A budget no amount of waiting opens: maxUnavailable 0 (or 0%), or a minAvailable that
    asks for every pod it expects (minAvailable = replicas, 100%)."""
    if pdb.max_unavailable is not None:
        return str(pdb.max_unavailable).strip() in ("0", "0%")
    if pdb.min_available is None:
        return False
    if str(pdb.min_available).strip() == "100%":
        return True
    return pdb.expected_pods > 0 and pdb.desired_healthy >= pdb.expected_pods
