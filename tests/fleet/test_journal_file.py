"""The fleet run's journal file (`upgrader.fleet.journal`), record by record, without an engine:
what each writer's record says, how requests from other terminals are answered by the
coordinator, and how the file is read back (a torn last line, a bad line, the earlier format)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from upgrader.core.errors import UserError
from upgrader.core.run.journal import append_records
from upgrader.core.run.records import Phase, Record, request_ref
from upgrader.fleet.journal import Coordinator, FleetJournal, parse_fleet_records
from upgrader.fleet.records import Entry, Request, cluster_step
from upgrader.sandbox.clock import VirtualClock

T0 = 1767225600.0  # 2026-01-01T00:00:00Z


def _journal(tmp_path: Path) -> FleetJournal:
    return FleetJournal(tmp_path / "run.json")


def _answers(records: list[Record]) -> dict[str, tuple[str | None, str]]:
    """request ref -> (step, outcome) of each `answered` record."""
    return {r.data["request"]: (r.step, r.outcome) for r in records if r.phase is Phase.ANSWERED}


def test_a_run_never_started_has_an_empty_journal(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    assert journal.path == tmp_path / "run.fleet" / "journal.jsonl"
    assert journal.records() == []
    assert journal.started() is False
    assert journal.argo_submission() is None
    assert journal.state().status == "not-started"


def test_a_request_is_its_writers_own_run_numbered_after_every_record(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    stop = journal.ask(T0, Request.STOP, "oncall")
    assert re.fullmatch(r"q-[0-9a-f]{8}", stop.run)
    assert (stop.seq, stop.at, stop.phase, stop.step) == (1, T0, Phase.REQUESTED, None)
    assert (stop.outcome, stop.detail) == ("stop", "stop requested by oncall")
    assert stop.data == {"by": "oncall", "for_run": ""}  # no coordinator started yet
    skip = journal.ask(T0 + 5, Request.SKIP, "sre", cluster_step("dev-c"), "retired")
    assert (skip.seq, skip.step, skip.outcome, skip.detail) == (
        2,
        "cluster/dev-c",
        "skip",
        "retired",
    )
    assert skip.run != stop.run
    assert journal.records() == [stop, skip]
    assert journal.started() is False  # requests alone start nothing


def test_an_approval_names_who_where_and_why(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    plain = journal.approve(T0, "gate/prod/before/cab", "cab")
    assert re.fullmatch(r"a-[0-9a-f]{8}", plain.run)
    assert (plain.seq, plain.at, plain.phase, plain.step) == (
        1,
        T0,
        Phase.APPROVED,
        "gate/prod/before/cab",
    )
    assert plain.data == {"by": "cab", "host": socket.gethostname()}  # no empty comment
    commented = journal.approve(T0 + 1, "gate/prod/before/cab", "cab", "CHG-9")
    assert commented.data == {"by": "cab", "comment": "CHG-9", "host": socket.gethostname()}
    assert commented.seq == 2
    assert journal.state().approved == {"prod/before/cab": "approved by cab: CHG-9"}


def test_a_submission_to_argo_is_recorded_and_found_again(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.ask(T0, Request.SKIP, "sre", cluster_step("dev-c"), "retired")
    submitted = journal.submitted_to_argo(
        T0 + 10, "alice", "https://argo.example:2746", "argo", "fleet-7-x2k9q"
    )
    assert re.fullmatch(r"f-[0-9a-f]{8}", submitted.run)
    assert (submitted.seq, submitted.at, submitted.phase, submitted.step) == (
        2,
        T0 + 10,
        Phase.RUN_STARTED,
        None,
    )
    assert submitted.detail == "submitted to Argo"
    assert submitted.data == {
        "by": "alice",
        "engine": "argo",
        "server": "https://argo.example:2746",
        "namespace": "argo",
        "workflow": "fleet-7-x2k9q",
    }
    assert journal.records()[-1] == submitted
    assert journal.started() is True
    assert journal.argo_submission() == {
        "server": "https://argo.example:2746",
        "namespace": "argo",
        "name": "fleet-7-x2k9q",
    }
    # Submitted again (to another server): the last submission is the one to ask.
    journal.submitted_to_argo(T0 + 20, "alice", "https://argo2:2746", "wf", "fleet-7-b")
    assert journal.argo_submission() == {
        "server": "https://argo2:2746",
        "namespace": "wf",
        "name": "fleet-7-b",
    }
    assert journal.state().status == "not-started"  # a run on Argo is read from its Workflow


def test_a_journal_that_cannot_be_read_is_one_error_naming_it(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    journal.path.mkdir(parents=True)  # a directory where the file should be
    with pytest.raises(UserError, match=r"journal\.jsonl: cannot read the fleet journal: "):
        journal.records()


def test_a_torn_last_line_is_dropped_and_a_bad_line_before_it_is_named(tmp_path: Path) -> None:
    whole = Record("f-1", 1, T0, Phase.RUN_STARTED, data={"engine": "local"}).to_json()
    torn = '{"v": 1, "run": "f-1", "seq": 2, "at": 1767225600.0, "pha'
    assert parse_fleet_records(f"{whole}\n\n{torn}", "j") == [Record.from_json(whole)]
    with pytest.raises(UserError) as bad:
        parse_fleet_records(f"{whole}\n{torn}\n{whole}\n", "run.fleet/journal.jsonl")
    assert str(bad.value).startswith("run.fleet/journal.jsonl:2: not a fleet journal record (")


def test_a_line_nested_too_deeply_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    whole = Record("f-1", 1, T0, Phase.RUN_STARTED).to_json()
    deep = "[" * 10_000 + "]" * 10_000  # json.loads would recurse once per level
    with pytest.raises(UserError, match=r"^j:1: not a fleet journal record \(nested too deeply\)$"):
        parse_fleet_records(f"{deep}\n{whole}\n", "j")
    assert parse_fleet_records(f"{whole}\n{deep}", "j") == [Record.from_json(whole)]


def test_an_earlier_eksups_lines_keep_their_time_and_are_numbered_in_order() -> None:
    old = [
        {"seq": 1, "at": T0, "kind": "cluster-started", "cluster": "a", "stage": "dev"},
        {"seq": 2, "at": T0 + 60, "kind": "cluster-soaking", "cluster": "a", "until": T0 + 900},
        {"seq": 3, "at": T0 + 120, "kind": "stop-requested", "by": "oncall"},
    ]
    found = parse_fleet_records("".join(json.dumps(line) + "\n" for line in old), "j")
    assert [(r.run, r.seq, r.at, r.phase) for r in found] == [
        ("legacy", 1, T0, Phase.STARTED),
        ("legacy", 2, T0 + 60, Phase.MEMO),  # one old line, two of today's records
        ("legacy", 3, T0 + 60, Phase.WAITING),
        ("legacy", 4, T0 + 120, Phase.REQUESTED),
    ]
    # Today's records after the old ones keep their own run and seq.
    today = Record("f-1", 5, T0 + 200, Phase.RUN_STARTED, data={"engine": "local"})
    text = "".join(json.dumps(line) + "\n" for line in old) + today.to_json() + "\n"
    assert parse_fleet_records(text, "j")[-1] == today


def test_a_coordinator_has_a_run_id_only_while_and_after_it_coordinates(tmp_path: Path) -> None:
    coordinator = Coordinator(_journal(tmp_path), VirtualClock())
    assert coordinator.run_id == ""
    with pytest.raises(AssertionError, match=r"^write\(\) outside coordinating\(\)$"):
        coordinator.write(Entry(Phase.MEMO))
    with pytest.raises(AssertionError, match=r"^state\(\) outside coordinating\(\)$"):
        coordinator.state()
    with coordinator.coordinating("alice", "local", "fleet-7"):
        [started] = coordinator.files.records()
        assert coordinator.run_id == started.run
    assert re.fullmatch(r"f-[0-9a-f]{8}", coordinator.run_id)
    with pytest.raises(AssertionError):  # its engine journal closed with the run
        coordinator.state()


def test_the_coordinator_writes_its_entries_whole_under_its_run(tmp_path: Path) -> None:
    clock = VirtualClock()
    clock.advance_to(T0)
    journal = _journal(tmp_path)
    coordinator = Coordinator(journal, clock)
    with coordinator.coordinating("alice", "local", "fleet-7"):
        entry = Entry(Phase.FAILED, cluster_step("a"), "failed", "boom", {"stage": "dev"})
        written = coordinator.write(entry)
    [started, on_file] = journal.records()
    assert written == on_file
    assert (written.run, written.seq, written.at) == (coordinator.run_id, 2, T0)
    assert (written.phase, written.step, written.outcome, written.detail) == (
        Phase.FAILED,
        "cluster/a",
        "failed",
        "boom",
    )
    assert written.data == {"stage": "dev"}
    assert started.data["fleet_run"] == "fleet-7"
    assert started.data["holder"].endswith(f" run {coordinator.run_id}")


def test_requests_asked_before_the_run_are_answered_when_it_starts(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    stop = journal.ask(T0, Request.STOP, "oncall")
    skip = journal.ask(T0, Request.SKIP, "sre", cluster_step("c"), "retired")
    retry = journal.ask(T0, Request.RETRY, "sre", cluster_step("a"), stage="dev")
    coordinator = Coordinator(journal, VirtualClock())
    with coordinator.coordinating("alice", "local", "fleet-7"):
        pass
    answers = _answers(journal.records())
    assert answers == {
        request_ref(stop): (None, "lapsed"),  # a stop lapsed with the run it was asked of
        request_ref(skip): ("cluster/c", "applied"),
        request_ref(retry): ("cluster/a", "applied"),
    }


def test_requests_asked_while_the_run_goes_on_are_answered_once(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    coordinator = Coordinator(journal, VirtualClock())
    with coordinator.coordinating("alice", "local", "fleet-7"):
        assert coordinator.state().status == "running"
        assert _answers(journal.records()) == {}  # nothing asked, nothing answered
        stop = journal.ask(T0, Request.STOP, "oncall")
        skip = journal.ask(T0, Request.SKIP, "sre", cluster_step("c"), "retired")
        retry = journal.ask(T0, Request.RETRY, "sre", cluster_step("a"), stage="dev")
        assert stop.data["for_run"] == coordinator.run_id
        # A request only a later eksup knows is answered too, so it is not asked forever.
        [later] = [Record("q-later", retry.seq + 1, T0, Phase.REQUESTED, None, "pause")]
        append_records(journal.path, [later])

        state = coordinator.state()
        records = journal.records()
        assert _answers(records) == {
            request_ref(stop): (None, "stopping"),
            request_ref(skip): ("cluster/c", "skipped"),
            request_ref(retry): ("cluster/a", "will-retry"),
            request_ref(later): (None, "ignored"),
        }
        answers = [r for r in records if r.phase is Phase.ANSWERED]
        assert {r.run for r in answers} == {coordinator.run_id}
        assert [r.seq for r in answers] == [later.seq + n for n in (1, 2, 3, 4)]
        # The state returned is the file's, its own answers included.
        assert state.last_seq == records[-1].seq == answers[-1].seq
        assert state.stop_requested == "oncall"
        assert state.cluster("c").reason == "retired"

        assert coordinator.state().last_seq == records[-1].seq  # each answered once
        assert journal.records() == records
        after = coordinator.write(Entry(Phase.MEMO, data={"key": "k", "value": "v"}))
        assert after.seq == records[-1].seq + 1  # its seq follows every writer's
