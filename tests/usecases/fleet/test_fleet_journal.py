"""The fleet run as a client of the run engine: its journal is the engine's record format,
requests from other terminals reach the running coordinator and are answered, a crash is
resumed from what was recorded, an earlier eksup's journal is still read, and one coordinator
runs a fleet run at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.usecases.fleet.builders import FLEET, engine, make_run
from upgrader.core.errors import RefusedError, UserError
from upgrader.core.run.journal import append_records
from upgrader.core.run.records import Phase, Record, parse_records, request_ref
from upgrader.fleet.journal import FleetJournal
from upgrader.fleet.records import Request, cluster_step, gate_step, group_step
from upgrader.fleet.run_lock import coordinator_lock
from upgrader.fleet.state import ClusterStatus
from upgrader.sandbox.clock import VirtualClock

KEYS = {"v", "run", "seq", "at", "phase", "step", "outcome", "detail", "data"}


def _records(run_file: Path) -> list[Record]:
    return FleetJournal(run_file).records()


def _coordinators(records: list[Record]) -> list[str]:
    return [r.run for r in records if r.phase is Phase.RUN_STARTED]


def _answer(records: list[Record], asked: Record) -> Record:
    [found] = [
        r
        for r in records
        if r.phase is Phase.ANSWERED and r.data.get("request") == request_ref(asked)
    ]
    return found


def test_the_journal_is_the_run_engines_record_format(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    eng, _ = engine(run, run_file, VirtualClock())
    assert eng.execute().status == "completed"
    path = tmp_path / "run.fleet" / "journal.jsonl"
    text = path.read_text()
    assert text.endswith("\n")
    for line in text.splitlines():
        raw = json.loads(line)
        assert set(raw) == KEYS
        assert raw["v"] == 1
        assert all(isinstance(v, str) for v in raw["data"].values())
    records = parse_records(text, str(path))  # the run engine's own reader takes it whole
    assert len({(r.run, r.seq) for r in records}) == len(records)
    [coordinator] = _coordinators(records)
    assert coordinator.startswith("f-")
    started = records[0]
    assert started.phase is Phase.RUN_STARTED
    assert started.data["engine"] == "local"
    assert started.data["fleet_run"] == "fleet-test"
    assert " pid " in started.data["holder"]
    mgmt = [(r.phase, r.outcome) for r in records if r.step == cluster_step("mgmt")]
    assert mgmt == [(Phase.STARTED, ""), (Phase.FINISHED, "succeeded")]
    [soak] = [r for r in records if r.step == "stage/dev" and r.phase is Phase.MEMO]
    assert soak.data["key"] == "stage/dev#soak-until"
    assert float(soak.data["value"]) > started.at
    stages = [(r.step, r.outcome) for r in records if (r.step or "").startswith("stage/")]
    assert ("stage/dev", "completed") in stages
    assert records[-1].phase is Phase.RUN_FINISHED
    assert records[-1].outcome == "completed"


def test_a_stop_from_another_terminal_reaches_the_running_coordinator(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock)
    asked: list[Record] = []
    leaf.before_finish["dev-b"] = lambda: asked.append(
        FleetJournal(run_file).ask(clock.now(), Request.STOP, "oncall")
    )
    assert eng.execute().status == "stopped"
    records = _records(run_file)
    [coordinator] = _coordinators(records)
    [stop] = asked
    assert stop.phase is Phase.REQUESTED
    assert stop.run.startswith("q-")
    assert stop.run != coordinator
    assert stop.data == {"by": "oncall", "for_run": coordinator}
    answer = _answer(records, stop)
    assert (answer.run, answer.outcome) == (coordinator, "stopping")
    assert records.index(stop) < records.index(answer)


def test_a_skip_asked_while_the_run_goes_on_is_taken_in(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock)
    journal = FleetJournal(run_file)

    def skip() -> None:
        journal.ask(clock.now(), Request.SKIP, "sre", cluster_step("dev-c"), "retired (by sre)")
        journal.ask(clock.now(), Request.SKIP, "sre", group_step("prod", "prod"), "freeze")

    leaf.before_finish["mgmt"] = skip
    assert eng.execute().status == "completed"
    assert [n for n, _, _ in leaf.started] == ["mgmt", "dev-a", "dev-b"]
    state = journal.state()
    assert state.cluster("dev-c").status is ClusterStatus.SKIPPED
    assert state.cluster("prod").reason == "group prod.prod skipped: freeze"
    records = _records(run_file)
    requests = [r for r in records if r.phase is Phase.REQUESTED]
    assert [(r.outcome, r.step) for r in requests] == [
        ("skip", "cluster/dev-c"),
        ("skip", "group/prod.prod"),
    ]
    assert [_answer(records, r).outcome for r in requests] == ["skipped", "skipped"]


def test_a_retry_asked_while_the_stage_runs_starts_the_cluster_again(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "1"))
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock, {"dev-a": ClusterStatus.FAILED})

    def retry() -> None:  # dev-a failed before dev-c started; it is fixed now
        leaf.outcomes["dev-a"] = ClusterStatus.SUCCEEDED
        FleetJournal(run_file).ask(
            clock.now(), Request.RETRY, "sre", cluster_step("dev-a"), stage="dev"
        )

    leaf.before_finish["dev-c"] = retry
    outcome = eng.execute()
    assert outcome.status == "completed"  # the failure was retried away within the run
    assert [n for n, _, _ in leaf.started].count("dev-a") == 2
    state = FleetJournal(run_file).state()
    assert state.cluster("dev-a").attempts == 2
    assert state.stage_outcomes["dev"] == "completed"
    records = _records(run_file)
    [asked] = [r for r in records if r.phase is Phase.REQUESTED]
    assert _answer(records, asked).outcome == "will-retry"


GROUPS = """
target: "1.31"
clusters:
  - {name: a, account: "111111111111", region: us-east-1, labels: {env: dev, grp: one}}
  - {name: b, account: "111111111111", region: us-east-1, labels: {env: dev, grp: two}}
stages:
  - name: dev
    selector: env=dev
    groups:
      - {name: one, selector: grp=one}
      - {name: two, selector: grp=two, beforeGates: [{name: ok}]}
"""


def test_a_gate_approved_while_another_group_runs_lets_its_group_start(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, GROUPS)
    assert run.gates == ["dev.two/before/ok"]
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock)
    leaf.before_finish["a"] = lambda: FleetJournal(run_file).approve(
        clock.now(), gate_step("dev.two/before/ok"), "qa", "QA-7"
    )
    assert eng.execute().status == "completed"
    assert [n for n, _, _ in leaf.started] == ["a", "b"]
    records = _records(run_file)
    [approval] = [r for r in records if r.phase is Phase.APPROVED]
    assert approval.run.startswith("a-")
    assert approval.data["by"] == "qa"
    assert approval.data["comment"] == "QA-7"
    waiting = [r for r in records if r.phase is Phase.WAITING]
    assert [(r.step, r.outcome) for r in waiting] == [("gate/dev.two/before/ok", "approval")]
    assert FleetJournal(run_file).state().approved["dev.two/before/ok"] == "approved by qa: QA-7"


def test_after_a_crash_a_cut_short_line_is_dropped_and_the_cluster_in_flight_resumes(
    tmp_path: Path,
) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock)
    leaf.before_finish["dev-b"] = lambda: FleetJournal(run_file).ask(
        clock.now(), Request.STOP, "oncall"
    )
    assert eng.execute().status == "stopped"
    # A second coordinator started dev-c, then died mid-write (kill -9, a power cut).
    path = FleetJournal(run_file).path
    seq = max(r.seq for r in _records(run_file))
    dead = [
        Record("f-dead", seq + 1, clock.now(), Phase.RUN_STARTED, data={"engine": "local"}),
        Record(
            "f-dead", seq + 2, clock.now(), Phase.STARTED, "cluster/dev-c", data={"stage": "dev"}
        ),
    ]
    append_records(path, dead)
    torn = '{"v": 1, "run": "f-dead", "seq": 99, "at": 1767225600.0, "phase": "fin'
    with path.open("a") as handle:
        handle.write(torn)
    assert FleetJournal(run_file).state().cluster("dev-c").status is ClusterStatus.RUNNING

    eng2, leaf2 = engine(run, run_file, clock)
    assert eng2.execute().status == "completed"
    assert [n for n, _, _ in leaf2.started] == ["dev-c", "prod"]  # dev-c again, nothing else
    text = path.read_text()
    assert torn not in text  # removed before the next record, not glued to it
    records = parse_records(text, str(path))  # every line whole
    assert FleetJournal(run_file).state().cluster("dev-c").attempts == 2
    assert records[-1].outcome == "completed"


OLD = """\
{"seq": 1, "at": 1767225600.0, "kind": "run-started", "by": "alice", "engine": "local"}
{"seq": 2, "at": 1767225600.0, "kind": "cluster-started", "cluster": "mgmt", "stage": "management"}
{"seq": 3, "at": 1767227400.0, "kind": "cluster-finished", "cluster": "mgmt", "outcome": "succeeded", "detail": "scripted succeeded"}
{"seq": 4, "at": 1767227400.0, "kind": "stage-finished", "stage": "management", "outcome": "completed", "failures": 0}
{"seq": 5, "at": 1767227405.0, "kind": "cluster-skipped", "cluster": "dev-b", "reason": "retired (skipped by sre)", "by": "sre"}
{"seq": 6, "at": 1767227405.0, "kind": "cluster-started", "cluster": "dev-a", "stage": "dev"}
{"seq": 7, "at": 1767227500.0, "kind": "stop-requested", "by": "oncall"}
{"seq": 8, "at": 1767229205.0, "kind": "cluster-finished", "cluster": "dev-a", "outcome": "succeeded", "detail": "scripted succeeded"}
{"seq": 9, "at": 1767229205.0, "kind": "run-finished", "status": "stopped", "reason": "stopped by oncall; `eksup fleet resume run.json` starts with dev-c"}
"""  # noqa: E501 (an earlier eksup's journal, verbatim)


def test_a_journal_in_the_earlier_format_is_read_and_its_run_resumed(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    journal = FleetJournal(run_file)
    journal.directory.mkdir()
    journal.path.write_text(OLD)
    state = journal.state()
    assert (state.status, state.stop_requested) == ("stopped", "oncall")
    assert state.cluster("mgmt").status is ClusterStatus.SUCCEEDED
    assert state.cluster("dev-a").status is ClusterStatus.SUCCEEDED
    assert state.cluster("dev-b").status is ClusterStatus.SKIPPED
    assert state.cluster("dev-b").reason == "retired (skipped by sre)"
    assert state.stage_outcomes == {"management": "completed"}
    old = journal.records()
    assert {r.run for r in old} == {"legacy"}
    assert [r.seq for r in old] == list(range(1, 10))

    clock = VirtualClock()
    clock.advance_to(1767229300.0)
    eng, leaf = engine(run, run_file, clock)
    assert eng.execute().status == "completed"
    assert [n for n, _, _ in leaf.started] == ["dev-c", "prod"]
    assert journal.path.read_text().startswith(OLD)  # the old lines stay as they were
    records = journal.records()
    [coordinator] = [run for run in _coordinators(records) if run != "legacy"]
    answers = {r.data["request"]: r.outcome for r in records if r.phase is Phase.ANSWERED}
    assert answers == {"legacy:7": "lapsed", "legacy:5": "applied"}
    assert all(r.seq > 9 for r in records if r.run == coordinator)


def test_every_kind_of_the_earlier_format_folds_as_it_did(tmp_path: Path) -> None:
    lines = [
        {"kind": "argo-submitted", "server": "https://argo:2746", "namespace": "argo", "name": "w"},
        {"kind": "gate-waiting", "gate": "prod/before/cab"},
        {"kind": "gate-approved", "gate": "prod/before/cab", "by": "cab", "comment": "CHG-1"},
        {"kind": "gate-waiting", "gate": "dev/after/qa"},
        {"kind": "stage-soak", "stage": "dev", "until": 1767240000.5},
        {"kind": "cluster-started", "cluster": "mgmt", "stage": "management"},
        {"kind": "cluster-soaking", "cluster": "mgmt", "until": 1767236400.0, "reason": "cp"},
        {"kind": "cluster-finished", "cluster": "dev-a", "outcome": "failed", "detail": "boom"},
        {"kind": "stage-finished", "stage": "dev", "outcome": "failed", "reason": "too many"},
        {"kind": "cluster-retry", "cluster": "dev-a", "stage": "dev", "by": "sre"},
        {"kind": "group-skipped", "stage": "prod", "group": "prod", "reason": "freeze"},
        {"kind": "cluster-finished", "cluster": "dev-b", "outcome": "waiting", "detail": "gate"},
        {"kind": "cluster-approved", "cluster": "dev-b", "by": "bob"},
    ]
    _, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    journal = FleetJournal(run_file)
    journal.directory.mkdir()
    journal.path.write_text(
        "".join(
            json.dumps({"seq": n, "at": 1767225600.0 + n, **line}) + "\n"
            for n, line in enumerate(lines, 1)
        )
    )
    state = journal.state()
    assert journal.argo_submission() == {
        "server": "https://argo:2746",
        "namespace": "argo",
        "name": "w",
    }
    assert state.status == "not-started"  # a run on Argo is read from its Workflow
    assert state.approved == {"prod/before/cab": "approved by cab: CHG-1"}
    assert state.waiting_gates == ["dev/after/qa"]
    assert state.stage_soak_until == {"dev": 1767240000.5}
    mgmt = state.cluster("mgmt")
    assert (mgmt.status, mgmt.soak_until, mgmt.reason) == (
        ClusterStatus.SOAKING,
        1767236400.0,
        "cp",
    )
    assert state.cluster("dev-a").status is ClusterStatus.PENDING
    assert state.cluster("dev-a").reason == "retry requested by sre"
    assert "dev" not in state.stage_outcomes  # a retry reopens its stage
    assert state.skipped_groups == {"prod.prod": "freeze"}
    assert state.cluster("dev-b").status is ClusterStatus.STOPPED
    assert state.cluster("dev-b").reason == "its gate approved by bob"


def test_a_bad_line_before_the_last_is_one_error_naming_it(tmp_path: Path) -> None:
    _, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    journal = FleetJournal(run_file)
    journal.directory.mkdir()
    journal.path.write_text(
        '{"seq": 1, "at": 0, "kind": "run-started", "by": "x", "engine": "local"}\n'
        '{"seq": 2, "at": 0, "kind": "something-new"}\n'
        '{"seq": 3, "at": 0, "kind": "stop-requested", "by": "x"}\n'
    )
    with pytest.raises(UserError, match=r"journal.jsonl:2: not a fleet journal record"):
        journal.state()


def test_a_second_coordinator_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    run, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    journal = FleetJournal(run_file)
    holder = "alice@laptop pid 4242 run f-1a2b3c4d"
    with coordinator_lock(journal.directory, holder, run.run_id):
        eng, leaf = engine(run, run_file, VirtualClock())
        with pytest.raises(RefusedError) as refused:
            eng.execute()
        assert str(refused.value).startswith(f"fleet run fleet-test is being run by {holder} (")
        assert "\n" not in str(refused.value)
        assert refused.value.exit_code == 3
        assert leaf.started == []
        assert journal.records() == []
    # Released with its holder: the next coordinator goes ahead.
    eng, _ = engine(run, run_file, VirtualClock())
    assert eng.execute().status == "completed"


def test_a_whole_last_record_that_lacks_only_its_newline_is_kept(tmp_path: Path) -> None:
    _, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    journal = FleetJournal(run_file)
    journal.directory.mkdir()
    whole = Record("f-1", 1, 1767225600.0, Phase.RUN_STARTED, data={"engine": "local"})
    journal.path.write_text(whole.to_json())  # the write ended just before its newline
    asked = journal.ask(1767225700.0, Request.STOP, "oncall")
    assert journal.records() == [whole, asked]
    assert asked.seq == 2
    assert asked.data["for_run"] == "f-1"
