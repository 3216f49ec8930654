"""Which pods the Eviction API lets go without spending a PodDisruptionBudget.

kubernetes pkg/registry/core/pod/storage/eviction.go: `canIgnorePDB` deletes a Succeeded,
Failed or Pending pod (a pod bound to a node whose containers never started is Pending too), or
one already being deleted, without looking at any budget; a pod that is not Ready does not
count as healthy, so it goes without lowering the budget under `unhealthyPodEvictionPolicy:
AlwaysAllow`, and under the default `IfHealthyBudget` while `currentHealthy >= desiredHealthy >
0`. Shared by the drain (upgrader/drain/eviction_rules.py, which the fake's Eviction API uses)
and the plan's disruption checks.
"""

from __future__ import annotations

from upgrader.core.kube import Pod, PodDisruptionBudget, PodPhase

ALWAYS_ALLOW = "AlwaysAllow"
IF_HEALTHY_BUDGET = "IfHealthyBudget"


def can_ignore_pdb(pod: Pod) -> bool:
    """Finished, Pending or already terminating pods are deleted without asking any budget."""
    return pod.phase is not PodPhase.RUNNING or pod.deletion_timestamp is not None


def unhealthy_goes_free(pod: Pod, pdb: PodDisruptionBudget) -> bool:
    """A not-Ready pod the API lets go without lowering the budget (either policy)."""
    if pod.ready:
        return False
    if pdb.unhealthy_pod_eviction_policy == ALWAYS_ALLOW:
        return True
    return pdb.current_healthy >= pdb.desired_healthy and pdb.desired_healthy > 0


def goes_free(pod: Pod, pdb: PodDisruptionBudget) -> bool:
    """Whether evicting `pod`, covered by `pdb` alone, needs none of its budget."""
    return can_ignore_pdb(pod) or unhealthy_goes_free(pod, pdb)
