"""A rollout's journal on the run engine: replayed into where the rollout stands; its local file
and its ConfigMap copy kept as one journal; an earlier eksup's state keys still read."""

from __future__ import annotations

from pathlib import Path

import pytest

from strategies.run.journal import (
    Actor,
    Phase,
    Request,
    RolloutJournal,
    legacy_records,
    replay,
)
from strategies.steps import Weights
from upgrader.core.errors import RefusedError, ServiceUnavailableError
from upgrader.core.kube import ConfigMap
from upgrader.core.run.journal import Phase as JournalPhase
from upgrader.core.run.journal import parse_records
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

NS = "shop"


def _journal(
    kube: FakeCluster, clock: VirtualClock, run: str = "r-1", path: Path | None = None
) -> RolloutJournal:
    return RolloutJournal(kube, clock, NS, "web", run_id=run, who=run, path=path)


def _copy(kube: FakeCluster) -> str:
    return kube.get_config_map(NS, "eksup-rollout-web").data["journal.jsonl"]


def test_a_rollout_replayed_from_its_records() -> None:
    clock = VirtualClock(1000.0)
    kube = FakeCluster(clock)
    journal = _journal(kube, clock)
    assert journal.read() is None
    journal.start(3, Actor("alice", clock.now()), "sha256:x")
    clock.sleep(10)
    journal.record(1, "running", Weights(90, 10), clock.now())
    journal.record_stable_replicas("web-stable", 3)
    journal.record_action("promoted", Actor("bob", clock.now()))
    journal.record(3, "succeeded", Weights(0, 100), clock.now(), reason="")
    state = _journal(kube, clock, "q").read()
    assert state is not None
    assert (state.phase, state.step, state.steps_total) == (Phase.SUCCEEDED, 3, 3)
    assert state.weights == Weights(0, 100)
    assert (state.stable_deployment, state.stable_replicas) == ("web-stable", 3)
    assert state.actions["started"].who == "alice"
    assert state.actions["promoted"].who == "bob"
    assert state.updated == 1010.0
    assert state.run == "r-1"
    assert state.to_json()["status"] == "succeeded"
    # A new rollout starts a new journal: the old one's copy is replaced at its first write.
    fresh = _journal(kube, clock, "r-2")
    fresh.start(2, Actor("carol", clock.now()))
    records = parse_records(_copy(kube), "cm")
    assert [r.run for r in records] == ["r-2"]
    again = fresh.read()
    assert again is not None
    assert (again.phase, again.step, again.stable_replicas) == (Phase.RUNNING, 0, None)


def test_each_command_says_who_ran_it_before_its_first_record() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    _journal(kube, clock).start(2, Actor("alice", 0))
    abort = RolloutJournal(kube, clock, NS, "web", run_id="r-9", who="bob", command="abort")
    abort.record(1, "rolled-back", Weights(100, 0), 0, reason="aborted by bob")
    records = parse_records(_copy(kube), "cm")
    assert [(r.run, r.phase.value) for r in records] == [
        ("r-1", "run-started"),
        ("r-9", "run-started"),
        ("r-9", "run-finished"),
    ]
    assert records[1].data == {"command": "abort", "by": "bob"}
    state = replay(tuple(records))
    assert state is not None
    assert (state.phase, state.reason) == (Phase.ROLLED_BACK, "aborted by bob")


def test_the_local_file_and_the_copy_are_one_journal(tmp_path: Path) -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    path = tmp_path / "web.journal.jsonl"
    run = _journal(kube, clock, "r-1", path)
    run.start(3, Actor("alice", 0))
    run.record(1, "running", Weights(90, 10), 0)
    assert parse_records(path.read_text(), "f") == parse_records(_copy(kube), "cm")

    # The cluster cannot be written for a while: the file keeps the record...
    def down(_: Action) -> None:
        raise ServiceUnavailableError("down")

    kube.add_reactor("patch", "configmaps", down)
    run.record(2, "running", Weights(50, 50), 0)
    kube.remove_reactors()
    assert len(parse_records(path.read_text(), "f")) == 3
    assert len(parse_records(_copy(kube), "cm")) == 2
    # ... and the next run on this machine merges it back into the copy.
    again = _journal(kube, clock, "r-2", path)
    assert again.completed_step() == 2
    again.resume(3, Actor("alice", 0))
    assert parse_records(path.read_text(), "f") == parse_records(_copy(kube), "cm")


def test_a_local_file_of_another_rollout_is_set_aside(tmp_path: Path) -> None:
    clock = VirtualClock()
    path = tmp_path / "web.journal.jsonl"
    elsewhere = FakeCluster(clock)  # another cluster (or an old rollout) left this file
    _journal(elsewhere, clock, "r-0", path).start(4, Actor("old", 0))
    kube = FakeCluster(clock)
    run = _journal(kube, clock, "r-1", path)
    assert run.read() is None  # the cluster has no rollout: the file is not trusted
    run.start(3, Actor("alice", 0))
    assert [r.run for r in parse_records(path.read_text(), "f")] == ["r-1"]
    previous = path.with_name(path.name + ".previous")
    assert [r.run for r in parse_records(previous.read_text(), "f")] == ["r-0"]


def test_a_request_names_the_run_it_asks_and_only_that_run_takes_it() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    run = _journal(kube, clock, "r-1")
    run.start(3, Actor("alice", 0))
    asker = _journal(kube, clock, "q-bob")
    made = asker.request(Request.ABORT, Actor("bob", 5), "r-1")
    assert (made.phase, made.outcome, made.data["for_run"]) == (
        JournalPhase.REQUESTED,
        "abort",
        "r-1",
    )
    state = asker.read()
    assert state is not None
    assert (state.request, state.requested_by) == (Request.ABORT, Actor("bob", clock.now()))
    assert _journal(kube, clock, "r-other").pending() == []
    (pending,) = run.pending()
    assert asker.answered(made) is None
    run.answer(pending, "aborted")
    assert asker.answered(made) is not None
    after = asker.read()
    assert after is not None
    assert after.request is None


# --- an earlier eksup's state ConfigMap -------------------------------------------------------

LEGACY = {
    "status": "running",
    "step": "2",
    "steps": "4",
    "weights": "75/25",
    "updated": "1700",
    "started-by": "alice@laptop pid 7",
    "started-at": "1600",
    "stable-deployment": "web-stable",
    "stable-replicas": "3",
    "promoted-by": "bob",
    "promoted-at": "1650",
}


def test_an_earlier_eksups_state_is_read_as_records() -> None:
    records = legacy_records(LEGACY)
    state = replay(tuple(records))
    assert state is not None
    assert (state.phase, state.step, state.steps_total) == (Phase.RUNNING, 2, 4)
    assert state.weights == Weights(75, 25)
    assert (state.stable_deployment, state.stable_replicas) == ("web-stable", 3)
    assert state.actions["started"] == Actor("alice@laptop pid 7", 1600.0)
    assert state.actions["promoted"] == Actor("bob", 1650.0)
    assert state.updated == 1700.0
    ended = replay(tuple(legacy_records({**LEGACY, "status": "rolled-back", "reason": "r"})))
    assert ended is not None
    assert (ended.phase, ended.reason, ended.step) == (Phase.ROLLED_BACK, "r", 2)
    odd = replay(tuple(legacy_records({"status": "what", "updated": "x"})))
    assert odd is not None
    assert (odd.phase, odd.step, odd.updated) == (Phase.FAILED, 0, 0.0)


def test_an_earlier_eksups_rollout_resumes_and_its_keys_give_way_to_the_journal() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    kube.apply_config_map(ConfigMap(NS, "eksup-rollout-web", LEGACY))
    run = _journal(kube, clock, "r-1")
    assert run.legacy
    assert run.completed_step() == 2
    run.resume(4, Actor("carol", 0))
    run.record(3, "running", Weights(50, 50), 0)
    data = kube.get_config_map(NS, "eksup-rollout-web").data
    assert list(data) == ["journal.jsonl"]
    state = _journal(kube, clock, "q").read()
    assert state is not None
    assert (state.step, state.stable_replicas) == (3, 3)
    assert state.actions["promoted"].who == "bob"


def test_a_run_of_an_earlier_eksup_cannot_be_asked_and_says_what_to_do() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    kube.apply_config_map(ConfigMap(NS, "eksup-rollout-web", LEGACY))
    with pytest.raises(RefusedError) as refused:
        _journal(kube, clock, "q").request(Request.PROMOTE, Actor("bob", 0), "legacy")
    assert str(refused.value) == (
        "the rollout of shop/web in progress was started by an earlier eksup, which does not "
        "read this one's requests: promote it with that version"
    )
    assert kube.get_config_map(NS, "eksup-rollout-web").data == LEGACY  # nothing written
