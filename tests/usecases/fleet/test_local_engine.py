"""The local engine's rules, each on virtual time with scripted clusters (no AWS, no sandbox):
order, concurrency, fail-fast, maxAllowedFailures, stop/resume, skip, retry, gates, soaks,
windows, plan-time verdicts. Semantics: Azure Fleet Manager update runs (its docs
concepts-update-orchestration.md and update-strategies-gates-approvals.md)."""

from __future__ import annotations

from pathlib import Path

from tests.usecases.fleet.builders import FLEET, engine, make_run
from upgrader.core.exit_codes import ExitCode
from upgrader.fleet.journal import FleetJournal
from upgrader.fleet.records import Request, cluster_step, gate_step, group_step
from upgrader.fleet.run_doc import ClusterVerdict
from upgrader.fleet.state import ClusterStatus
from upgrader.sandbox.clock import VirtualClock


def test_stages_in_order_groups_bounded_and_parallel_work_overlaps(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    clock = VirtualClock()
    start = clock.now()
    eng, leaf = engine(run, run_file, clock)
    outcome = eng.execute()
    assert outcome.status == "completed"
    assert outcome.exit_code is ExitCode.OK
    names = [name for name, _, _ in leaf.started]
    assert names[0] == "mgmt"
    assert names[-1] == "prod"
    assert leaf.max_running["dev"] == 2  # maxConcurrency 2 of 3
    starts = {name: at for name, at, _ in leaf.started}
    assert starts["dev-a"] == starts["dev-b"] < starts["dev-c"]
    # mgmt 30 min, dev 2 waves of 30 min, a 2 h soak, prod 30 min (+ polling slack).
    elapsed = clock.now() - start
    assert 4 * 3600 <= elapsed < 4 * 3600 + 600
    assert starts["prod"] - starts["dev-c"] >= 30 * 60 + 2 * 3600


def test_fail_fast_in_flight_finish_and_nothing_new_starts(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock, {"dev-a": ClusterStatus.FAILED})
    outcome = eng.execute()
    assert outcome.status == "failed"
    assert outcome.exit_code is ExitCode.FAILED
    assert "maxAllowedFailures 0" in outcome.reason
    state = FleetJournal(run_file).state()
    assert state.cluster("dev-b").status is ClusterStatus.SUCCEEDED  # was in flight: finished
    assert state.cluster("dev-c").status is ClusterStatus.PENDING  # never started
    assert state.cluster("prod").status is ClusterStatus.PENDING
    assert [n for n, _, _ in leaf.started] == ["mgmt", "dev-a", "dev-b"]


def test_max_allowed_failures_is_honoured_and_reported(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "1"))
    eng, _leaf = engine(run, run_file, VirtualClock(), {"dev-a": ClusterStatus.FAILED})
    outcome = eng.execute()
    assert outcome.status == "completed-with-failures"
    assert outcome.exit_code is ExitCode.FAILED  # not every cluster is at the target
    assert "1 failed cluster" in outcome.reason
    state = FleetJournal(run_file).state()
    assert state.stage_outcomes["dev"] == "completed-with-failures"
    assert state.cluster("prod").status is ClusterStatus.SUCCEEDED


def test_percent_allowance_rounds_up_and_a_second_failure_fails(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", '"34%"'))
    assert run.stage("dev").allowed_failures == 2  # ceil(3 * 0.34)
    eng, _ = engine(
        run,
        run_file,
        VirtualClock(),
        {
            "dev-a": ClusterStatus.FAILED,
            "dev-b": ClusterStatus.FAILED,
            "dev-c": ClusterStatus.FAILED,
        },
    )
    assert eng.execute().status == "failed"


def test_an_upstream_failure_is_never_tolerated(tmp_path: Path) -> None:
    text = FLEET.replace("{allowed}", "0").replace(
        "selector: env=mgmt", "selector: env=mgmt\n    maxAllowedFailures: 1"
    )
    run, run_file = make_run(tmp_path, text)
    eng, leaf = engine(run, run_file, VirtualClock(), {"mgmt": ClusterStatus.FAILED})
    outcome = eng.execute()
    assert outcome.status == "failed"
    assert "upstream" in outcome.reason
    assert [n for n, _, _ in leaf.started] == ["mgmt"]


def test_stop_lets_in_flight_finish_and_resume_starts_with_the_first_unprocessed(
    tmp_path: Path,
) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock)
    # Someone runs `eksup fleet stop` while dev-a and dev-b are upgrading.
    leaf.before_finish["dev-b"] = lambda: FleetJournal(run_file).ask(
        clock.now(), Request.STOP, "oncall"
    )
    outcome = eng.execute()
    assert outcome.status == "stopped"
    assert outcome.exit_code is ExitCode.STOPPED
    assert "resume` starts with dev-c" in outcome.reason
    state = FleetJournal(run_file).state()
    assert state.cluster("dev-a").status is ClusterStatus.SUCCEEDED
    assert state.cluster("dev-b").status is ClusterStatus.SUCCEEDED
    eng2, leaf2 = engine(run, run_file, clock)
    assert eng2.execute().status == "completed"
    assert [n for n, _, _ in leaf2.started] == ["dev-c", "prod"]  # nothing ran twice


def test_skip_a_cluster_and_a_group_with_a_reason(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    journal = FleetJournal(run_file)
    journal.ask(0, Request.SKIP, "sre", cluster_step("dev-b"), "decommissioned (skipped by sre)")
    journal.ask(0, Request.SKIP, "sre", group_step("prod", "prod"), "freeze (skipped by sre)")
    eng, leaf = engine(run, run_file, VirtualClock())
    assert eng.execute().status == "completed"
    assert [n for n, _, _ in leaf.started] == ["mgmt", "dev-a", "dev-c"]
    state = journal.state()
    assert state.cluster("dev-b").reason.startswith("decommissioned")
    assert state.cluster("prod").status is ClusterStatus.SKIPPED
    assert "freeze" in state.cluster("prod").reason


def test_retry_runs_a_failed_cluster_again_with_the_same_plan(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    clock = VirtualClock()
    eng, _ = engine(run, run_file, clock, {"dev-a": ClusterStatus.FAILED})
    assert eng.execute().status == "failed"
    journal = FleetJournal(run_file)
    assert eng.execute().status == "failed"  # resuming alone does not forgive a failure
    journal.ask(clock.now(), Request.RETRY, "sre", cluster_step("dev-a"), stage="dev")
    eng2, leaf2 = engine(run, run_file, clock)
    assert eng2.execute().status == "completed"
    assert [n for n, _, _ in leaf2.started][:2] == ["dev-a", "dev-c"]
    assert journal.state().cluster("dev-a").attempts == 2


def test_approval_gate_stops_the_run_until_approved(tmp_path: Path) -> None:
    text = FLEET.replace("{allowed}", "0").replace(
        "selector: env=prod", "selector: env=prod\n    beforeGates: [{name: cab}]"
    )
    run, run_file = make_run(tmp_path, text)
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock)
    outcome = eng.execute()
    assert outcome.status == "stopped"
    assert "prod/before/cab" in outcome.reason
    journal = FleetJournal(run_file)
    assert journal.state().waiting_gates == ["prod/before/cab"]
    assert "prod" not in [n for n, _, _ in leaf.started]
    journal.approve(clock.now(), gate_step("prod/before/cab"), "cab-chair")
    eng2, leaf2 = engine(run, run_file, clock)
    assert eng2.execute().status == "completed"
    assert [n for n, _, _ in leaf2.started] == ["prod"]


def test_after_stage_soak_and_after_gate_run_together(tmp_path: Path) -> None:
    text = FLEET.replace("{allowed}", "0").replace(
        "afterStageWait: 2h", "afterStageWait: 2h\n    afterGates: [{name: qa}]"
    )
    run, run_file = make_run(tmp_path, text)
    clock = VirtualClock()
    eng, _ = engine(run, run_file, clock)
    assert eng.execute().status == "stopped"
    journal = FleetJournal(run_file)
    soak_until = journal.state().stage_soak_until["dev"]
    clock.sleep(3 * 3600)  # the approval comes after the soak is over: no further wait
    journal.approve(clock.now(), gate_step("dev/after/qa"), "qa")
    before = clock.now()
    eng2, leaf2 = engine(run, run_file, clock)
    assert eng2.execute().status == "completed"
    assert leaf2.started[0][1] - before < 600
    assert soak_until < before


def test_control_plane_soak_holds_the_nodes(tmp_path: Path) -> None:
    text = FLEET.replace("{allowed}", "0").replace(
        "labels: {env: mgmt}}", "labels: {env: mgmt}, soakAfterControlPlane: 3h}"
    )
    run, run_file = make_run(tmp_path, text)
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock, {"mgmt": ClusterStatus.SOAKING})
    assert eng.execute().status == "completed"
    mgmt = [(at, soak) for name, at, soak in leaf.started if name == "mgmt"]
    assert [soak for _, soak in mgmt] == [False, True]
    assert mgmt[1][0] - mgmt[0][0] >= 30 * 60 + 3 * 3600


def test_plan_time_verdicts_blocked_fails_at_target_skips(tmp_path: Path) -> None:
    run, run_file = make_run(
        tmp_path,
        FLEET.replace("{allowed}", "1"),
        {"dev-a": ClusterVerdict.SKIPPED, "dev-b": ClusterVerdict.UNREACHABLE},
    )
    eng, leaf = engine(run, run_file, VirtualClock())
    outcome = eng.execute()
    assert outcome.status == "completed-with-failures"
    state = FleetJournal(run_file).state()
    assert state.cluster("dev-a").status is ClusterStatus.SKIPPED
    assert state.cluster("dev-b").status is ClusterStatus.FAILED
    assert state.cluster("dev-b").reason.startswith("unreachable at plan time")
    assert "dev-a" not in [n for n, _, _ in leaf.started]


def test_a_closed_window_stops_the_run_and_says_when_it_opens(tmp_path: Path) -> None:
    # The sandbox epoch is Thursday 2026-01-01 00:00 UTC: 01:00 in Paris.
    text = FLEET.replace("{allowed}", "0").replace(
        "selector: env=prod",
        "selector: env=prod\n    window: {days: [sat], start: '02:00', end: '06:00', "
        "timezone: Europe/Paris}",
    )
    run, run_file = make_run(tmp_path, text)
    clock = VirtualClock()
    eng, _leaf = engine(run, run_file, clock)
    outcome = eng.execute()
    assert outcome.status == "stopped"
    assert "prod waits for its maintenance window (opens 2026-01-03 01:00 UTC)" in outcome.reason
    clock.advance_to(1767402000.0)  # Saturday 01:00 UTC = 02:00 Paris
    eng2, leaf2 = engine(run, run_file, clock)
    assert eng2.execute().status == "completed"
    assert [n for n, _, _ in leaf2.started] == ["prod"]


def test_wait_for_windows_waits_on_the_clock_instead_of_stopping(tmp_path: Path) -> None:
    text = FLEET.replace("{allowed}", "0").replace(
        "selector: env=prod",
        "selector: env=prod\n    window: {days: [sat], start: '02:00', end: '06:00', "
        "timezone: Europe/Paris}",
    )
    run, run_file = make_run(tmp_path, text)
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock, wait_for_windows=True)
    assert eng.execute().status == "completed"
    prod = next(at for name, at, _ in leaf.started if name == "prod")
    assert 1767402000.0 <= prod < 1767402000.0 + 600  # Saturday 02:00 Paris, give or take a poll
