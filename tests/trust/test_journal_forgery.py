"""Issue 12, item 3: the journal must agree with the cluster's ConfigMap copy.

Every run writes each journal record to the local file and to the ConfigMap mirror. A line
added to the local file by hand (a forged "done" for the approval gate, say) is not in the
mirror: `--resume` refuses it with one line instead of skipping the gate. One sandbox world
serves all the runs of a test, as one cluster would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execute.worlds import Runner, build_world, control_plane, hand_plan, step
from upgrader.core.errors import RefusedError
from upgrader.core.run.journal import Phase, Record, append_records, parse_records
from upgrader.execute.engine import RunStatus
from upgrader.plan.document import Plan, StepKind
from upgrader.sandbox.world import Sandbox


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    with Sandbox() as world:
        build_world(world)
        yield Runner(world, tmp_path)


def _gated_plan() -> Plan:
    gate = step(StepKind.APPROVAL, "approve-upgrade").model_copy(update={"approval": True})
    return hand_plan([gate, control_plane("1.29", "1.28")])


def _records(runner: Runner) -> list[Record]:
    return parse_records(runner.journal_path.read_text(), "journal")


def test_a_forged_done_line_for_the_approval_gate_is_refused(runner: Runner) -> None:
    plan = _gated_plan()
    first = runner.run(plan)
    assert first.status is RunStatus.STOPPED  # waiting for approval
    last = _records(runner)[-1]
    forged = Record(
        run=last.run,
        seq=last.seq + 1,
        at=last.at,
        phase=Phase.FINISHED,
        step="approve-upgrade",
        outcome="done",
        detail="approved by nobody",
    )
    append_records(runner.journal_path, [forged])

    with pytest.raises(RefusedError) as refused:
        runner.run(plan, resume=True)

    message = str(refused.value)
    assert "\n" not in message
    assert "finished approve-upgrade" in message
    assert "cluster's copy of the journal does not" in message
    # The control plane was not touched.
    cluster = runner.world.aws.describe_cluster("prod")
    assert cluster.version == "1.28"


def test_an_edited_journal_line_is_refused(runner: Runner) -> None:
    plan = _gated_plan()
    runner.run(plan)
    lines = runner.journal_path.read_text().splitlines()
    waiting = next(i for i, line in enumerate(lines) if '"waiting"' in line)
    record = json.loads(lines[waiting])
    record.update(phase="finished", outcome="done")
    lines[waiting] = json.dumps(record, sort_keys=True)
    runner.journal_path.write_text("\n".join(lines) + "\n")

    with pytest.raises(RefusedError, match="differs from the cluster's copy"):
        runner.run(plan, resume=True)


def test_an_honest_journal_resumes(runner: Runner) -> None:
    plan = _gated_plan()
    runner.run(plan)
    again = runner.run(plan, resume=True)
    assert again.status is RunStatus.STOPPED  # still waiting: nobody approved
    assert again.waiting_for == "approve-upgrade"
