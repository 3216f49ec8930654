"""Approval gates: a run stops at one nobody approved, `eksup approve` records who and when,
and the resumed run goes on without repeating what was done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.execute.approvals import approve_gate
from tests.execute.worlds import (
    CLUSTER,
    CountingControlPlane,
    Delegate,
    Runner,
    blue_green,
    control_plane,
    hand_plan,
    step,
)
from upgrader.core.errors import EksupError, NotFoundError, RefusedError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.run.journal import (
    JOURNAL_KEY,
    JOURNAL_NAMESPACE,
    Phase,
    mirror_name,
    parse_records,
)
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE, ClusterLock
from upgrader.execute.engine import RunStatus, StepOutcome
from upgrader.plan.document import Plan, StepKind
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.approve import approver


def _gated_plan() -> Plan:
    """A change, then a gate, then the node group: the gate stops the run part-way."""
    return hand_plan(
        [
            control_plane("1.29", "1.28"),
            step(StepKind.APPROVAL, "approve-nodes"),
            blue_green("general", "general-1-29", "1.29"),
        ],
        target="1.29",
    )


def _local(runner: Runner) -> list[Phase]:
    return [r.phase for r in parse_records(runner.journal_path.read_text(), "local")]


def _mirrored(world: Sandbox) -> str:
    found = world.kube(CLUSTER).get_config_map(JOURNAL_NAMESPACE, mirror_name(CLUSTER))
    return found.data[JOURNAL_KEY]


def test_a_run_stops_at_an_unapproved_gate_even_with_yes(world: Sandbox, runner: Runner) -> None:
    result = runner.run(_gated_plan(), yes=True)

    assert result.status is RunStatus.STOPPED
    assert result.exit_code is ExitCode.STOPPED
    assert result.waiting_for == result.resume_from == "approve-nodes"
    assert "eksup approve plan.json --step approve-nodes" in result.summary()
    assert "eksup execute plan.json --resume" in result.summary()
    # The change before the gate was made, nothing after it.
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"
    assert "general-1-29" not in world.aws.list_nodegroups(CLUSTER)
    outcomes = {s.step_id: s.outcome for s in result.steps}
    assert outcomes["nodegroup-general-1.29"] is StepOutcome.NOT_RUN
    # "waiting" in the journal and in its ConfigMap copy; the lock is released.
    assert Phase.WAITING in _local(runner)
    assert '"phase": "waiting"' in _mirrored(world)
    with pytest.raises(NotFoundError):
        world.kube(CLUSTER).get_lease(LOCK_NAMESPACE, LOCK_NAME)


def test_approve_records_who_when_and_the_plan_and_resume_repeats_nothing(
    world: Sandbox, runner: Runner
) -> None:
    plan = _gated_plan()
    runner.run(plan)
    world.clock.sleep(600)  # the approver takes ten minutes
    approved_at = world.clock.now()

    given = approve_gate(runner, plan, "approve-nodes", by="alice", comment="CHG-1234")

    record = given.record
    assert record.phase is Phase.APPROVED
    assert record.step == "approve-nodes"
    assert record.at == approved_at
    assert record.data["by"] == "alice"
    assert record.data["host"] == "laptop"
    assert record.data["comment"] == "CHG-1234"
    assert record.data["plan_fingerprint"] == plan.fingerprint
    assert given.written_to == (
        str(runner.journal_path),
        f"ConfigMap {JOURNAL_NAMESPACE}/{mirror_name(CLUSTER)}",
    )
    assert _local(runner)[-1] is Phase.APPROVED
    assert '"by": "alice"' in _mirrored(world)

    counting = CountingControlPlane(world.aws)
    resumed = runner.run(plan, resume=True, ports=runner.ports(control_plane=counting))

    assert resumed.status is RunStatus.SUCCEEDED, resumed.summary()
    outcomes = {s.step_id: s for s in resumed.steps}
    assert outcomes["control-plane-1.29"].outcome is StepOutcome.SKIPPED
    assert counting.calls["update_cluster_version"] == 0
    assert outcomes["approve-nodes"].outcome is StepOutcome.DONE
    assert outcomes["approve-nodes"].detail.startswith("approved by alice (laptop) at ")
    assert outcomes["approve-nodes"].detail.endswith(": CHG-1234")
    assert "general-1-29" in world.aws.list_nodegroups(CLUSTER)


def test_a_gate_first_needs_no_resume_flag(world: Sandbox, runner: Runner) -> None:
    """Stopped before any change: a plain re-run continues, as after a refusal."""
    plan = hand_plan(
        [step(StepKind.APPROVAL, "approve-upgrade"), control_plane("1.29", "1.28")],
        target="1.29",
    )
    assert runner.run(plan).waiting_for == "approve-upgrade"
    assert world.aws.list_updates(CLUSTER) == []
    approve_gate(runner, plan)  # no --step: the one the run waits at
    assert runner.run(plan).status is RunStatus.SUCCEEDED
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"


def test_a_step_marked_for_approval_waits_before_it_runs(world: Sandbox, runner: Runner) -> None:
    gated = blue_green("general", "general-1-29", "1.29").model_copy(update={"approval": True})
    plan = hand_plan([control_plane("1.29", "1.28"), gated], target="1.29")

    stopped = runner.run(plan)

    assert stopped.waiting_for == "nodegroup-general-1.29"
    assert "general-1-29" not in world.aws.list_nodegroups(CLUSTER)
    approve_gate(runner, plan, "nodegroup-general-1.29", by="bob")
    assert runner.run(plan, resume=True).status is RunStatus.SUCCEEDED
    assert "general-1-29" in world.aws.list_nodegroups(CLUSTER)


def test_approve_refuses_when_the_step_is_not_waiting(world: Sandbox, runner: Runner) -> None:
    plan = _gated_plan()
    with pytest.raises(RefusedError, match=r"no run of .* has stopped at an approval gate"):
        approve_gate(runner, plan)
    runner.run(plan)
    lines = runner.journal_path.read_text()
    refusals = {
        "control-plane-1.29": "not an approval gate",
        "nope": "no step nope",
    }
    for step_id, message in refusals.items():
        with pytest.raises(RefusedError, match=message):
            approve_gate(runner, plan, step_id)
    assert runner.journal_path.read_text() == lines  # nothing written

    approve_gate(runner, plan, "approve-nodes")
    with pytest.raises(RefusedError, match="already approved by alice"):
        approve_gate(runner, plan, "approve-nodes")
    with pytest.raises(RefusedError, match=r"no step of .* is waiting"):
        approve_gate(runner, plan)
    runner.run(plan, resume=True)
    with pytest.raises(RefusedError, match="the run already passed it"):
        approve_gate(runner, plan, "approve-nodes")


def test_approve_refuses_the_journal_of_another_plan(world: Sandbox, runner: Runner) -> None:
    runner.run(_gated_plan())
    other = _gated_plan().model_copy(update={"created_at": "2026-02-02T00:00:00Z"})
    lines = runner.journal_path.read_text()
    with pytest.raises(RefusedError, match="journal of another plan"):
        approve_gate(runner, other, "approve-nodes")
    assert runner.journal_path.read_text() == lines


def test_approve_refuses_while_a_run_holds_the_lock(world: Sandbox, runner: Runner) -> None:
    plan = _gated_plan()
    runner.run(plan)
    ClusterLock(world.kube(CLUSTER), world.clock, "bob@ci").acquire()
    with pytest.raises(RefusedError, match="a run holds the lock"):
        approve_gate(runner, plan, "approve-nodes")
    assert _local(runner)[-1] is not Phase.APPROVED


def test_an_approval_from_another_machine_reaches_the_run_through_the_configmap(
    world: Sandbox, runner: Runner, tmp_path: Path
) -> None:
    plan = _gated_plan()
    runner.run(plan)
    elsewhere = tmp_path / "bob" / "plan.journal.jsonl"  # bob's machine has no journal
    elsewhere.parent.mkdir()

    given = approve_gate(runner, plan, "approve-nodes", by="bob", journal_path=elsewhere)

    assert given.written_to == (f"ConfigMap {JOURNAL_NAMESPACE}/{mirror_name(CLUSTER)}",)
    assert not elsewhere.exists()
    assert Phase.APPROVED not in _local(runner)  # this machine has not heard yet
    resumed = runner.run(plan, resume=True)
    assert resumed.status is RunStatus.SUCCEEDED, resumed.summary()
    assert "approved by bob" in {s.step_id: s.detail for s in resumed.steps}["approve-nodes"]
    # The approval is now in the local journal too, once.
    assert _local(runner).count(Phase.APPROVED) == 1


def test_an_approver_with_a_stale_journal_copy_reads_the_configmap(
    world: Sandbox, runner: Runner, tmp_path: Path
) -> None:
    """Bob approved the first gate from his machine and kept a copy; the run went on to the
    second gate; his copy is behind, the ConfigMap is not."""
    plan = hand_plan(
        [
            step(StepKind.APPROVAL, "approve-upgrade"),
            control_plane("1.29", "1.28"),
            step(StepKind.APPROVAL, "approve-nodes"),
            blue_green("general", "general-1-29", "1.29"),
        ],
        target="1.29",
    )
    runner.run(plan)
    bob = tmp_path / "bob.journal.jsonl"
    bob.write_text(runner.journal_path.read_text())
    approve_gate(runner, plan, "approve-upgrade", by="bob", journal_path=bob)
    assert runner.run(plan, resume=True).waiting_for == "approve-nodes"

    approve_gate(runner, plan, "approve-nodes", by="bob", journal_path=bob)

    assert runner.run(plan, resume=True).status is RunStatus.SUCCEEDED
    assert "general-1-29" in world.aws.list_nodegroups(CLUSTER)


class _NoConfigMaps(Delegate):
    def apply_config_map(self, *_args: object) -> None:
        raise EksupError("connection refused")


def test_an_approval_nobody_could_keep_is_an_error(
    world: Sandbox, runner: Runner, tmp_path: Path
) -> None:
    plan = _gated_plan()
    runner.run(plan)
    cut_off = _NoConfigMaps(world.kube(CLUSTER))
    with pytest.raises(EksupError, match="the approval was not recorded"):
        approve_gate(
            runner,
            plan,
            "approve-nodes",
            journal_path=tmp_path / "nowhere.jsonl",
            cluster=cut_off,
        )
    # With a local journal the approval stands; the mirror failure is only reported.
    given = approve_gate(runner, plan, "approve-nodes", cluster=cut_off)
    assert given.written_to == (str(runner.journal_path),)
    assert "cannot mirror the journal" in runner.out.getvalue()


def test_a_dry_run_notes_the_gate_and_goes_on(world: Sandbox, runner: Runner) -> None:
    result = runner.run(_gated_plan(), dry_run=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert result.waiting_for is None
    assert "would wait for approval of approve-nodes" in runner.out.getvalue()
    assert any(c.action == "CreateNodegroup" for c in result.intended_calls)
    assert not runner.journal_path.exists()
    assert world.aws.list_updates(CLUSTER) == []


def test_the_approver_defaults_to_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "carol")
    assert approver(None).by == "carol"
    assert approver("dave", "CHG-9").by == "dave"
    assert approver("dave", "CHG-9").comment == "CHG-9"
    assert json.dumps(approver(None).host)  # the machine's name, for the journal
