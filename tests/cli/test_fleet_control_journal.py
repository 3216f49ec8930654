"""`eksup fleet stop|skip|retry|approve|resume` at the command line write the run engine's
records into the fleet journal (each under its own run id), and `resume` is refused while
another coordinator runs the fleet run."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.usecases.fleet.builders import FLEET, engine, make_run
from upgrader.cli import app
from upgrader.core.run.records import Phase, Record
from upgrader.fleet.journal import FleetJournal
from upgrader.fleet.run_lock import coordinator_lock
from upgrader.fleet.state import ClusterStatus
from upgrader.sandbox.clock import VirtualClock

GATE = FLEET.replace("{allowed}", "0").replace(
    "selector: env=prod", "selector: env=prod\n    beforeGates: [{name: cab}]"
)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["fleet", *args])
    return result.exit_code, result.output


def _new(run_file: Path, before: list[Record]) -> list[Record]:
    seen = {(r.run, r.seq) for r in before}
    return [r for r in FleetJournal(run_file).records() if (r.run, r.seq) not in seen]


def test_control_commands_write_requests_and_approvals_for_the_coordinator(
    tmp_path: Path,
) -> None:
    run, run_file = make_run(tmp_path, GATE)
    eng, _ = engine(run, run_file, VirtualClock(), {"dev-a": ClusterStatus.FAILED})
    assert eng.execute().status == "failed"
    journal = FleetJournal(run_file)
    coordinator = journal.state().coordinator
    assert coordinator.startswith("f-")

    before = journal.records()
    code, output = _run("stop", str(run_file))
    assert code == 0, output
    [stop] = _new(run_file, before)
    assert (stop.phase, stop.outcome, stop.step) == (Phase.REQUESTED, "stop", None)
    assert stop.run.startswith("q-")
    assert stop.data["for_run"] == coordinator

    before = journal.records()
    code, output = _run("retry", str(run_file), "--cluster", "dev-a")
    assert code == 0, output
    [retry] = _new(run_file, before)
    assert (retry.phase, retry.outcome, retry.step) == (Phase.REQUESTED, "retry", "cluster/dev-a")
    assert retry.data["stage"] == "dev"
    assert journal.state().cluster("dev-a").status is ClusterStatus.PENDING

    before = journal.records()
    code, output = _run("skip", str(run_file), "--cluster", "dev-c", "--reason", "retired")
    assert code == 0, output
    [skip] = _new(run_file, before)
    assert (skip.phase, skip.outcome, skip.step) == (Phase.REQUESTED, "skip", "cluster/dev-c")
    assert skip.detail.startswith("retired (skipped by ")
    assert len({stop.run, retry.run, skip.run, coordinator}) == 4  # each writer its own run


def test_approve_writes_an_approved_record_of_the_waiting_gate(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, GATE)
    eng, _ = engine(run, run_file, VirtualClock())
    assert eng.execute().status == "stopped"
    before = FleetJournal(run_file).records()
    code, output = _run(
        "approve", str(run_file), "--gate", "prod/before/cab", "--by", "cab", "--comment", "CHG-9"
    )
    assert code == 0, output
    [approval] = _new(run_file, before)
    assert (approval.phase, approval.step) == (Phase.APPROVED, "gate/prod/before/cab")
    assert approval.run.startswith("a-")
    assert (approval.data["by"], approval.data["comment"]) == ("cab", "CHG-9")
    eng2, leaf2 = engine(run, run_file, VirtualClock())
    assert eng2.execute().status == "completed"
    assert [n for n, _, _ in leaf2.started] == ["prod"]


def test_resume_is_refused_with_exit_3_while_another_coordinator_runs(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, GATE)
    eng, _ = engine(run, run_file, VirtualClock())
    assert eng.execute().status == "stopped"
    journal = FleetJournal(run_file)
    before = journal.path.read_bytes()
    holder = "bob@ci-runner-7 pid 31337 run f-0badc0de"
    with coordinator_lock(journal.directory, holder, run.run_id):
        code, output = _run("resume", str(run_file), "--yes")
    assert code == 3
    assert "Traceback" not in output
    assert len([line for line in output.splitlines() if line.strip()]) == 1, output
    assert f"is being run by {holder}" in output
    assert journal.path.read_bytes() == before  # nothing written


def test_the_first_ctrl_c_asks_the_coordinator_to_stop(tmp_path: Path) -> None:
    # The handler writes from another thread: the signal may have stopped the coordinator's
    # own thread inside a journal write, holding the file's lock.
    import signal
    import threading

    from upgrader.cli.fleet_options import _ctrl_c_stops

    _, run_file = make_run(tmp_path, GATE)
    journal = FleetJournal(run_file)
    with _ctrl_c_stops(journal, VirtualClock()):
        signal.raise_signal(signal.SIGINT)
        for thread in threading.enumerate():
            if thread.name == "fleet-stop":
                thread.join(timeout=10)
    [stop] = journal.records()
    assert (stop.phase, stop.outcome) == (Phase.REQUESTED, "stop")
    assert stop.data["by"].endswith(" (Ctrl-C)")
