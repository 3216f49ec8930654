"""What the engine refuses before changing anything, and the gates a person answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.execute.approvals import run_through_gates
from tests.execute.worlds import (
    CLUSTER,
    Runner,
    build_world,
    control_plane,
    full_plan,
    hand_plan,
    step,
)
from upgrader.core.errors import RefusedError, UserError
from upgrader.core.run.journal import Phase, Record, parse_records
from upgrader.execute.engine import ExecuteOptions, RunStatus, StepOutcome, execute
from upgrader.execute.reporter import NullReporter
from upgrader.execute.steps import HANDLERS
from upgrader.plan.discovery import discover
from upgrader.plan.document import Step, StepKind, Verdict
from upgrader.plan.planner import make_plan
from upgrader.sandbox.world import Sandbox


def _nothing_changed(world: Sandbox) -> None:
    assert world.aws.list_updates(CLUSTER) == []
    writes = [a for a in world.kube(CLUSTER).actions if a.verb not in ("get", "list")]
    assert writes == []


def test_declining_the_confirmation_changes_nothing(world: Sandbox, runner: Runner) -> None:
    runner.answer = False
    world.kube(CLUSTER).clear_actions()
    with pytest.raises(RefusedError, match="not confirmed"):
        runner.run(full_plan(), yes=False)
    assert runner.questions == ["Execute 11 steps on cluster prod (1.28 -> 1.30)?"]
    _nothing_changed(world)
    assert not runner.journal_path.exists()


def test_a_manual_step_is_asked_even_with_yes(world: Sandbox, runner: Runner) -> None:
    plan = hand_plan([step(StepKind.MANUAL, "rotate-certs")], target="1.28")
    runner.answer = False
    result = runner.run(plan)
    assert result.status is RunStatus.STOPPED
    assert runner.questions
    assert "rotate-certs" in runner.questions[0]


def test_a_journal_without_resume_is_refused(world: Sandbox, runner: Runner) -> None:
    plan = hand_plan([control_plane("1.29", "1.28")], target="1.29")
    runner.run(plan)
    with pytest.raises(RefusedError, match="--resume"):
        runner.run(plan)


def test_a_journal_of_another_plan_is_refused(world: Sandbox, runner: Runner) -> None:
    runner.run(hand_plan([control_plane("1.29", "1.28")], target="1.29"))
    other = hand_plan([control_plane("1.29", "1.28")], target="1.29").model_copy(
        update={"created_at": "2026-02-02T00:00:00Z"}
    )
    with pytest.raises(RefusedError, match="journal of another plan"):
        runner.run(other, resume=True)


def test_a_run_that_changed_nothing_may_start_again_without_resume(
    world: Sandbox, runner: Runner
) -> None:
    runner.answer = False
    plan = hand_plan([control_plane("1.29", "1.28"), step(StepKind.MANUAL, "check")], target="1.29")
    plan = plan.model_copy(update={"steps": list(reversed(plan.steps))})
    assert runner.run(plan).status is RunStatus.STOPPED
    runner.answer = True
    assert runner.run(plan).status is RunStatus.SUCCEEDED


def test_unsupported_step_kinds_and_bad_params_are_refused_up_front(
    world: Sandbox, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every kind has a handler today; an eksup older than the plan would lack one.
    monkeypatch.delitem(HANDLERS, StepKind.KARPENTER_DRIFT)
    karpenter = hand_plan(
        [
            step(
                StepKind.KARPENTER_DRIFT,
                "karpenter-default-1.29",
                nodegroup="default",
                version="1.29",
            )
        ]
    )
    with pytest.raises(RefusedError, match="cannot execute step kinds karpenter-drift"):
        runner.run(karpenter)
    # Bad params never make a plan: a plan file with them is refused when it is read
    # (tests/plan/test_step_params.py), before any run starts.
    with pytest.raises(ValidationError, match="green_nodegroup: Field required"):
        step(StepKind.NODEGROUP_BLUE_GREEN, "ng", "1.29", nodegroup="general", version="1.29")
    not_ready = full_plan().model_copy(update={"verdict": Verdict.NOT_READY})
    with pytest.raises(RefusedError, match="NOT READY"):
        runner.run(not_ready)
    _nothing_changed(world)


def test_a_stale_plan_is_refused_naming_what_changed(tmp_path: Path) -> None:
    with Sandbox() as world:
        build_world(world, batch=0, network=True)
        kube = world.kube(CLUSTER)
        snapshot = discover(CLUSTER, world.aws, world.aws, kube, world.clock, target_version="1.30")
        plan = make_plan(snapshot, "1.30", region="us-east-1")
        world.aws.update_cluster_version(CLUSTER, "1.29")  # someone moved on by hand
        world.settle(900)
        runner = Runner(world, tmp_path)
        with pytest.raises(RefusedError, match=r"control plane now 1\.29, plan made at 1\.28"):
            runner.run(plan, skip_fingerprint=False)
        assert len(world.aws.list_updates(CLUSTER)) == 1
        # --replan flows skip the check: the steps still check fresh state themselves.
        result = run_through_gates(runner, plan, skip_fingerprint=True)
        assert result.status is RunStatus.SUCCEEDED, result.summary()
        outcomes = {s.step_id: s.outcome for s in result.steps}
        assert outcomes["control-plane-1.29"] is StepOutcome.ALREADY_DONE


def test_journal_lines_tolerate_a_torn_last_line_only() -> None:
    good = Record("r-1", 1, 0.0, Phase.STARTED, "s1").to_json()
    assert len(parse_records(good + "\n" + good[:20], "j")) == 1
    with pytest.raises(UserError, match="j:1: not a journal record"):
        parse_records(good[:20] + "\n" + good, "j")


def test_checks_are_read_again_right_before_the_steps_that_name_them(
    world: Sandbox, runner: Runner
) -> None:
    cp = control_plane("1.29", "1.28").model_copy(update={"verifies": ["cluster-health"]})
    plan = hand_plan([step(StepKind.PREFLIGHT, "preflight"), cp], target="1.29")
    asked: list[str] = []

    def checks(s: Step) -> list[str]:
        asked.append(s.id)
        return ["cluster-health: control plane reports HealthIssue"] if s.verifies else []

    result = execute(
        plan,
        runner.ports(),
        journal_path=runner.journal_path,
        options=ExecuteOptions(yes=True, skip_fingerprint=True),
        reporter=NullReporter(),
        confirm=runner.confirm,
        checks=checks,
    )

    assert asked == ["preflight", "control-plane-1.29"]
    assert result.status is RunStatus.REFUSED
    assert result.error is not None
    assert "checks cluster-health block step control-plane-1.29" in result.error
    assert world.aws.list_updates(CLUSTER) == []
