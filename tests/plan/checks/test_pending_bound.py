"""A pod bound to a node that never started (spec.nodeName set, phase Pending) in the plan's
budget check (issue 11, item 4).

kubernetes pkg/registry/core/pod/storage/eviction.go, `canIgnorePDB`: a Pending pod is deleted
without asking its PodDisruptionBudget, so a budget at 0 because that pod is not Ready holds
nothing back; a drain is not stuck on it. A Ready pod under the same budget still is.
"""

from __future__ import annotations

from dataclasses import replace

from tests.plan.checks.factories import only, pdb, pod, run, snapshot
from upgrader.core.kube import PodDisruptionBudget, PodPhase
from upgrader.plan.checks import CheckStatus

# Bound, their image never pulled.
STUCK = pod("web-1", node="n1", phase=PodPhase.PENDING)
STUCK_TOO = pod("web-2", node="n2", phase=PodPhase.PENDING)


def _budget(healthy: int, expected: int) -> PodDisruptionBudget:
    return replace(
        pdb("web", min_available=1, expected=expected, allowed=0),
        current_healthy=healthy,
        desired_healthy=1,
    )


def test_a_budget_at_zero_only_because_its_pod_never_started_does_not_block() -> None:
    assert STUCK.node_name == "n1"
    assert not STUCK.ready
    snap = snapshot(pods=(STUCK, STUCK_TOO), pdbs=(_budget(healthy=0, expected=2),))
    assert only(run("pdb-zero-disruptions", snap)).status is CheckStatus.PASS


def test_a_ready_pod_under_that_budget_still_blocks() -> None:
    snap = snapshot(pods=(STUCK, pod("web-2")), pdbs=(_budget(healthy=1, expected=2),))
    finding = only(run("pdb-zero-disruptions", snap))
    assert finding.status is CheckStatus.FAIL
    assert "allow no disruption now" in finding.message
