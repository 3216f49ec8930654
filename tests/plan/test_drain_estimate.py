"""The budget bound of a drain, and the planner raising a too-short drain timeout to fit it."""

from __future__ import annotations

from dataclasses import replace

from tests.plan.builders import pod, snapshot
from upgrader.core.kube import LabelSelector, PodDisruptionBudget
from upgrader.plan.document import StepKind
from upgrader.plan.drain_estimate import ASSUMED_STARTUP_SECONDS, estimate_drain
from upgrader.plan.planner import make_plan
from upgrader.plan.snapshot import ClusterSnapshot


def _world(allowed: int, pods_per_node: int = 6) -> tuple[ClusterSnapshot, list[str]]:
    snap = snapshot("1.29", target="1.30")
    nodes = [n.name for n in snap.nodes]
    made = [
        replace(
            pod(f"db-{node}-{i}", node, owner="db-abc"),
            labels={"app": "db"},
            created_at=100.0,
            ready_since=190.0,  # 90 s to start
        )
        for node in nodes
        for i in range(pods_per_node)
    ]
    budget = PodDisruptionBudget(
        "shop", "db", LabelSelector(match_labels={"app": "db"}), disruptions_allowed=allowed
    )
    return replace(snap, pods=tuple(made), pdbs=(budget,)), nodes


def test_a_tight_budget_costs_one_wave_per_allowed_disruption() -> None:
    snap, nodes = _world(allowed=1)
    estimate = estimate_drain(snap, nodes)
    waves = 6 * len(nodes)
    assert estimate.seconds == waves * (30 + 90)  # default grace 30 s + observed start-up 90 s
    assert "PDB shop/db" in estimate.reason
    assert f"{waves} waves of 1" in estimate.reason


def test_pods_without_a_budget_go_in_one_wave_with_an_assumed_startup() -> None:
    snap = snapshot("1.29", target="1.30")
    node = snap.nodes[0].name
    snap = replace(snap, pods=(pod("web-1", node),))
    estimate = estimate_drain(snap, [node])
    assert estimate.seconds == 30 + ASSUMED_STARTUP_SECONDS
    assert estimate_drain(snap, [snap.nodes[1].name]).seconds == 0.0


def test_a_budget_at_zero_is_left_to_its_check() -> None:
    snap, nodes = _world(allowed=0)
    # Its pods are budgeted (not "free"), and no timeout fits a zero budget.
    assert estimate_drain(snap, nodes).seconds == 0.0


def _drain_timeouts(snap: ClusterSnapshot) -> list[object]:
    plan = make_plan(snap, "1.30", drain_timeout_seconds=900)
    steps = [s for s in plan.steps if s.kind is StepKind.NODEGROUP_BLUE_GREEN]
    assert steps
    return [s.params.drain_timeout_seconds for s in steps]


def test_the_planner_raises_a_timeout_below_twice_the_budget_bound() -> None:
    tight, nodes = _world(allowed=1)
    bound = 6 * len(nodes) * 120
    assert bound * 2 > 900
    assert _drain_timeouts(tight) == [bound * 2]
    roomy, _ = _world(allowed=100)
    assert _drain_timeouts(roomy) == [900]  # 2 x 120 s fits the configured 900 s
