"""Helpers for engine tests whose plans hold approval gates: approve as `eksup approve` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.execute.worlds import CLUSTER, Runner
from upgrader.execute.engine import RunResult
from upgrader.plan.document import Plan
from upgrader.usecases.approve import ApprovalResult, Approver, approve


def approve_gate(
    runner: Runner,
    plan: Plan,
    step_id: str | None = None,
    *,
    by: str = "alice",
    comment: str = "",
    journal_path: Path | None = None,
    cluster: Any = None,
) -> ApprovalResult:
    """`eksup approve plan.json [--step ID] --by BY` on the runner's world; `journal_path`
    elsewhere plays another machine."""
    return approve(
        plan,
        runner.tmp_path / "plan.json",
        cluster or runner.world.kube(CLUSTER),
        runner.world.clock,
        Approver(by, "laptop", comment),
        step_id=step_id,
        warn=runner.out.write,
        journal_path=journal_path or runner.journal_path,
    )


def run_through_gates(runner: Runner, plan: Plan, **options: Any) -> RunResult:
    """Run, and at each gate the run stops at, approve it and resume."""
    result = runner.run(plan, **options)
    while result.waiting_for is not None:
        approve_gate(runner, plan, result.waiting_for)
        result = runner.run(plan, **{**options, "resume": True})
    return result
