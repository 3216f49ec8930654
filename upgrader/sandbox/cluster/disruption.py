"""PodDisruptionBudget arithmetic, as the disruption controller and the Eviction API do it.

Drains stand or fall on these rules, so they follow kubernetes `pkg/controller/disruption`
(status: expected pods, currentHealthy, desiredHealthy, disruptionsAllowed) and
`pkg/registry/core/pod/storage/eviction.go` (which pods skip the budget, the 429 and the 500)
closely, as pure functions the fake cluster calls with fresh pod state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from upgrader.core.kube import Pod, PodDisruptionBudget, resolve_int_or_percent
from upgrader.drain.eviction_rules import covers

# The disruption controller's DeletionTimeout: an evicted pod still not deleted after this long
# counts as healthy again.
DISRUPTED_POD_TIMEOUT_SECONDS = 120.0


def budget_covers(pdb: PodDisruptionBudget, pod: Pod) -> bool:
    """Whether the disruption controller counts the pod (policy/v1: `{}` selects every pod of
    the namespace, a null selector none)."""
    return covers(pdb, pod)


def eviction_checks(pdb: PodDisruptionBudget, pod: Pod) -> bool:
    """Whether the Eviction API consults this PDB for the pod: the same pods the controller
    counts (eviction.go getPodDisruptionBudgets has no empty-selector skip in policy/v1)."""
    return covers(pdb, pod)


def is_healthy(pod: Pod, disrupted: Mapping[str, float], now: float) -> bool:
    """countHealthyPods: Ready, not being deleted, and not just evicted."""
    if pod.deletion_timestamp is not None or not pod.ready:
        return False
    evicted_at = disrupted.get(pod.name)
    return evicted_at is None or evicted_at + DISRUPTED_POD_TIMEOUT_SECONDS <= now


def pdb_status(
    pdb: PodDisruptionBudget,
    pods: Sequence[Pod],
    expected_scale: Callable[[], int | None],
    disrupted: Mapping[str, float],
    now: float,
) -> PodDisruptionBudget:
    """The PDB with its status recomputed from the pods it covers.

    `expected_scale` sums the replicas of the pods' controllers, or gives None when a pod's
    controller has no scale (a DaemonSet, a Job): the controller then fails safe to 0 allowed.
    """
    current = sum(1 for pod in pods if is_healthy(pod, disrupted, now))
    expected = 0
    desired = 0
    if pdb.max_unavailable is not None:
        scale = expected_scale()
        if scale is None:
            return _fail_safe(pdb, current)
        expected = scale
        unavailable = resolve_int_or_percent(pdb.max_unavailable, expected, round_up=True)
        desired = max(0, expected - unavailable)
    elif isinstance(pdb.min_available, int):
        expected = len(pods)
        desired = pdb.min_available
    elif pdb.min_available is not None:
        scale = expected_scale()
        if scale is None:
            return _fail_safe(pdb, current)
        expected = scale
        desired = resolve_int_or_percent(pdb.min_available, expected, round_up=True)
    # expectedCount must be positive: a PDB that matches nothing yet allows nothing.
    allowed = current - desired if expected > 0 else 0
    return replace(
        pdb,
        current_healthy=current,
        desired_healthy=desired,
        disruptions_allowed=max(0, allowed),
        expected_pods=expected,
        disrupted_pods=tuple(sorted(disrupted)),
    )


def _fail_safe(pdb: PodDisruptionBudget, current: int) -> PodDisruptionBudget:
    return replace(
        pdb, current_healthy=current, desired_healthy=0, disruptions_allowed=0, expected_pods=0
    )


def live_disruptions(
    disrupted: Mapping[str, float], pods: Iterable[Pod], now: float
) -> dict[str, float]:
    """buildDisruptedPodMap: forget evictions whose pod is gone, being deleted, or overdue."""
    alive = {pod.name for pod in pods if pod.deletion_timestamp is None}
    return {
        name: at
        for name, at in disrupted.items()
        if name in alive and at + DISRUPTED_POD_TIMEOUT_SECONDS > now
    }
