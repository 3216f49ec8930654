"""`eksup status` on a run with an approval gate: waiting, approved (by whom, when), passed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execute.approvals import approve_gate
from tests.execute.worlds import Runner, build_world, control_plane, hand_plan, step
from upgrader.core.run.journal import parse_records
from upgrader.plan.document import Plan, StepKind
from upgrader.render.status import run_state, step_statuses
from upgrader.sandbox.world import Sandbox


@pytest.fixture
def world() -> Iterator[Sandbox]:
    """The engine tests' world (tests/execute/conftest.py): two groups at 1.28."""
    with Sandbox() as sandbox:
        build_world(sandbox)
        yield sandbox


@pytest.fixture
def runner(world: Sandbox, tmp_path: Path) -> Runner:
    return Runner(world, tmp_path)


def _plan() -> Plan:
    return hand_plan(
        [step(StepKind.APPROVAL, "approve-upgrade"), control_plane("1.29", "1.28")],
        target="1.29",
    )


def _status(runner: Runner, plan: Plan) -> tuple[dict[str, tuple[str, str]], str]:
    records = parse_records(runner.journal_path.read_text(), "journal")
    rows = {s.step_id: (s.state, s.detail) for s in step_statuses(plan, records)}
    return rows, run_state(records)


def test_status_follows_a_gate_from_waiting_to_passed(world: Sandbox, runner: Runner) -> None:
    plan = _plan()
    runner.run(plan)

    rows, state = _status(runner, plan)
    assert rows["approve-upgrade"][0] == "waiting for approval"
    assert "eksup approve plan.json --step approve-upgrade" in rows["approve-upgrade"][1]
    assert rows["control-plane-1.29"][0] == "not started"
    assert "stopped" in state
    assert "waiting for approval of approve-upgrade" in state

    approve_gate(runner, plan, by="alice", comment="CHG-42")
    rows, state = _status(runner, plan)
    assert rows["approve-upgrade"][0] == "approved, not run since"
    assert rows["approve-upgrade"][1].startswith("approved by alice (laptop) at 2026-")
    assert rows["approve-upgrade"][1].endswith("UTC: CHG-42")
    assert "approve-upgrade approved by alice" in state.splitlines()[-1]
    assert "--resume continues" in state

    runner.run(plan, resume=True)
    rows, state = _status(runner, plan)
    assert rows["approve-upgrade"][0] == "done"
    assert rows["approve-upgrade"][1].startswith("approved by alice (laptop) at ")
    assert rows["control-plane-1.29"][0] == "done"
    assert state.startswith("run ")
    assert "succeeded" in state
    assert "\n" not in state  # the approval was acted on: no longer news
