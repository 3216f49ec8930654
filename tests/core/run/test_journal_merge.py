"""The journal's ConfigMap mirror merges on write: two machines writing one journal each keep
the other's records (compare-and-swap on the resourceVersion, read again on a conflict).

The store below answers as the Kubernetes API server does (and as our adapter's
`apply_config_map` passes it on): an update carrying a resourceVersion that is no longer the
stored one fails with 409 Conflict, "the object has been modified; please apply your changes
to the latest version and try again" (Kubernetes docs, API concepts, "Resource versions";
client-go `util/retry.RetryOnConflict` is the client side of the same loop). The FakeCluster
does not compare versions, so these tests use this store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import ConfigMap
from upgrader.core.ports import Cluster
from upgrader.core.run.journal import (
    JOURNAL_KEY,
    ConfigMapMirror,
    Journal,
    JournalState,
    Phase,
    Record,
    merge_records,
    parse_records,
)
from upgrader.core.run.mirror import WRITE_ATTEMPTS
from upgrader.core.run.records import request_ref, same_journal


class CasConfigMaps:
    """ConfigMaps with the API server's optimistic concurrency. `before_write` runs once
    between a writer's read and its write: the other machine's write in that window."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, str], ConfigMap] = {}
        self.version = 0
        self.before_write: list[Callable[[], object]] = []
        self.writes = 0
        self.conflicts = 0
        self._inside = False

    def get_config_map(self, namespace: str, name: str) -> ConfigMap:
        try:
            return self.stored[(namespace, name)]
        except KeyError:
            raise NotFoundError(f'configmaps "{name}" not found') from None

    def apply_config_map(self, config_map: ConfigMap) -> ConfigMap:
        if self.before_write and not self._inside:
            self._inside = True  # the other machine's own write runs no hook
            try:
                self.before_write.pop(0)()
            finally:
                self._inside = False
        key = (config_map.namespace, config_map.name)
        current = self.stored.get(key)
        if config_map.resource_version and (
            current is None or current.resource_version != config_map.resource_version
        ):
            self.conflicts += 1
            raise ConflictError(
                f'Operation cannot be fulfilled on configmaps "{config_map.name}": the object '
                "has been modified; please apply your changes to the latest version and try again"
            )
        self.version += 1
        self.writes += 1
        stored = replace(config_map, resource_version=str(self.version))
        self.stored[key] = stored
        return stored

    def text(self, name: str = "eksup-journal-prod") -> str:
        return self.stored[("kube-system", name)].data[JOURNAL_KEY]


def _r(run: str, seq: int, phase: Phase, at: float = 0.0, **kw: object) -> Record:
    return Record(run=run, seq=seq, at=at, phase=phase, **kw)  # type: ignore[arg-type]


START = _r("r-1", 1, Phase.RUN_STARTED, data={"plan_fingerprint": "f", "plan_created": "c"})


def _mirror(store: CasConfigMaps, errors: list[str] | None = None) -> ConfigMapMirror:
    sink = errors if errors is not None else []
    return ConfigMapMirror(cast(Cluster, store), "prod", sink.append)


# --- merge_records ----------------------------------------------------------------------------


def test_merge_adds_what_ours_lack_at_its_place_in_time_and_keeps_our_order() -> None:
    ours = [START, _r("r-1", 2, Phase.STARTED, 10.0, step="a"), _r("r-1", 3, Phase.FINISHED, 5.0)]
    theirs = [START, _r("q-1", 2, Phase.REQUESTED, 7.0), _r("q-2", 9, Phase.APPROVED, 99.0)]
    merged = merge_records(ours, theirs)
    # Ours keep their order although the clock stepped back; each new one goes after the last
    # of ours written no later than it; (run, seq) tells records apart, not seq alone.
    assert merged == [*ours, _r("q-1", 2, Phase.REQUESTED, 7.0), theirs[2]]
    between = _r("q-5", 2, Phase.REQUESTED, 3.0)
    assert merge_records(ours[:2], [between]) == [START, between, ours[1]]
    assert merge_records(ours, ours) == ours
    assert merge_records(ours, []) == ours
    assert merge_records([], theirs) == theirs
    early = _r("q-3", 4, Phase.REQUESTED, -1.0)
    assert merge_records(ours, [early]) == [early, *ours]
    same_time = _r("q-4", 4, Phase.REQUESTED, 5.0)
    assert merge_records(ours, [same_time])[-1] == same_time
    # A record the copy holds twice is merged once.
    assert merge_records(ours, [same_time, same_time]) == [*ours, same_time]


def test_merge_drops_another_plans_journal() -> None:
    other = _r("r-0", 1, Phase.RUN_STARTED, data={"plan_fingerprint": "g", "plan_created": "c"})
    old = [other, _r("r-0", 2, Phase.FINISHED, step="x")]
    assert merge_records([START], old) == [START]
    assert not same_journal([START], old)
    # A side that names no plan (a request list, a trimmed copy) is the same journal.
    assert same_journal([START], [_r("q", 5, Phase.REQUESTED)])
    assert same_journal([_r("q", 5, Phase.REQUESTED)], old)
    assert merge_records([_r("q", 5, Phase.REQUESTED)], old) == [_r("q", 5, Phase.REQUESTED), *old]


# --- the mirror under a concurrent writer -----------------------------------------------------


def test_a_concurrent_writers_records_are_kept_not_overwritten() -> None:
    store = CasConfigMaps()
    run = _mirror(store)
    run.write([START])
    other = _mirror(store)
    request = _r("q-1", 2, Phase.REQUESTED, outcome="abort", data={"for_run": "r-1"})
    step = _r("r-1", 2, Phase.FINISHED, 1.0, step="s")

    # The run read version 1; the other machine writes its request before the run writes.
    store.before_write.append(lambda: other.write([START, request]))
    merged = run.write([START, step])

    assert store.conflicts == 1  # the run's first write was refused: the copy had moved
    assert merged == [START, request, step]
    assert parse_records(store.text(), "cm") == merged
    # And the other way round: the run writes between the requester's read and write.
    later = _r("r-1", 3, Phase.FINISHED, 2.0, step="t")
    second = _r("q-2", 3, Phase.REQUESTED, 3.0, outcome="promote", data={"for_run": "r-1"})
    store.before_write.append(lambda: run.write([START, step, later]))
    assert other.write([START, request, second], strict=True) == [
        START,
        request,
        step,
        later,
        second,
    ]
    assert parse_records(store.text(), "cm") == [START, request, step, later, second]


def test_a_write_that_keeps_losing_the_race_gives_up_and_says_why() -> None:
    store = CasConfigMaps()
    errors: list[str] = []
    mirror = _mirror(store, errors)
    mirror.write([START])
    intruder = _mirror(store)
    n = 0

    def intrude() -> None:
        nonlocal n
        n += 1
        store.before_write.append(intrude)  # again before the next attempt too
        intruder.write([START, _r("x", 100 + n, Phase.MEMO, data={"key": "k", "value": str(n)})])

    store.before_write.append(intrude)
    with pytest.raises(ConflictError) as refused:
        mirror.write([START, _r("r-1", 2, Phase.FINISHED)], strict=True)
    assert str(refused.value) == (
        f"ConfigMap kube-system/eksup-journal-prod changed under each of {WRITE_ATTEMPTS} "
        "writes in a row"
    )
    assert store.conflicts == WRITE_ATTEMPTS
    # Not strict: reported once, the run goes on, and it says what it holds (its own records).
    store.conflicts = 0
    assert mirror.write([START, _r("r-1", 2, Phase.FINISHED)]) == [
        START,
        _r("r-1", 2, Phase.FINISHED),
    ]
    assert mirror.failing
    assert store.conflicts == WRITE_ATTEMPTS
    assert errors == [
        "cannot mirror the journal to ConfigMap eksup-journal-prod: ConfigMap "
        f"kube-system/eksup-journal-prod changed under each of {WRITE_ATTEMPTS} writes in a row"
    ]
    store.before_write.clear()
    mirror.write([START, _r("r-1", 2, Phase.FINISHED)])
    assert not mirror.failing


def test_the_last_attempt_that_succeeds_is_enough() -> None:
    store = CasConfigMaps()
    mirror = _mirror(store)
    mirror.write([START])
    intruder = _mirror(store)
    for n in range(WRITE_ATTEMPTS - 1):

        def intrude(n: int = n) -> None:
            intruder.write([START, _r("x", 50 + n, Phase.MEMO, data={})])

        store.before_write.append(intrude)
    merged = mirror.write([START, _r("r-1", 2, Phase.FINISHED)], strict=True)
    assert store.conflicts == WRITE_ATTEMPTS - 1
    assert [r.run for r in merged].count("x") == WRITE_ATTEMPTS - 1


def test_the_first_write_creates_the_copy_and_a_new_plan_replaces_an_old_ones() -> None:
    store = CasConfigMaps()
    mirror = _mirror(store)
    mirror.write([START])
    assert store.stored[("kube-system", "eksup-journal-prod")].resource_version == "1"
    new_plan = _r("r-2", 1, Phase.RUN_STARTED, data={"plan_fingerprint": "g", "plan_created": ""})
    assert _mirror(store).write([new_plan]) == [new_plan]
    assert parse_records(store.text(), "cm") == [new_plan]


def test_a_copy_that_is_no_journal_is_replaced_and_reported() -> None:
    store = CasConfigMaps()
    store.stored[("kube-system", "eksup-journal-prod")] = ConfigMap(
        "kube-system", "eksup-journal-prod", {JOURNAL_KEY: "junk\nmore junk\n"}, "7"
    )
    errors: list[str] = []
    assert _mirror(store, errors).write([START]) == [START]
    assert parse_records(store.text(), "cm") == [START]
    assert errors == [
        "ConfigMap eksup-journal-prod held no readable journal (configmap eksup-journal-prod:1: "
        "not a journal record (Expecting value: line 1 column 1 (char 0))); replaced"
    ]
    # A ConfigMap of that name without the journal's key: ours is written beside nothing.
    store.stored[("kube-system", "eksup-journal-prod")] = ConfigMap(
        "kube-system", "eksup-journal-prod", {"other": "x"}, "9"
    )
    assert _mirror(store).write([START]) == [START]


def test_an_unchanged_copy_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    store = CasConfigMaps()
    mirror = _mirror(store)
    mirror.write([START])
    from upgrader.core.run import mirror as mmod

    def no_parse(_text: str, _source: str) -> list[Record]:
        raise AssertionError("parsed an unchanged copy")

    monkeypatch.setattr(mmod, "parse_records", no_parse)
    step = _r("r-1", 2, Phase.FINISHED)
    assert mirror.write([START, step]) == [START, step]
    monkeypatch.undo()
    assert parse_records(store.text(), "cm") == [START, step]
    # Someone else wrote: the new version is read and merged.
    _mirror(store).write([START, _r("q", 9, Phase.REQUESTED)])
    assert mirror.write([START, step]) == [START, step, _r("q", 9, Phase.REQUESTED)]


def test_the_mirror_can_live_beside_an_app() -> None:
    store = CasConfigMaps()
    mirror = ConfigMapMirror(
        cast(Cluster, store), "", lambda _: None, namespace="shop", name="eksup-rollout-web"
    )
    mirror.write([START])
    assert ("shop", "eksup-rollout-web") in store.stored
    assert mirror.read() == [START]


# --- requests, taken in by the run ------------------------------------------------------------


def test_a_run_takes_in_requests_made_of_it_and_answers_them(tmp_path: Path) -> None:
    from upgrader.sandbox.clock import VirtualClock

    store = CasConfigMaps()
    clock = VirtualClock(100.0)
    path = tmp_path / "j.jsonl"
    run = Journal(clock, "r-1", path=path, mirror=_mirror(store))
    run.append(Phase.RUN_STARTED, data={"plan_fingerprint": "f", "plan_created": "c"})
    assert run.refresh() == []

    # Another machine: reads the copy, adds a request for r-1 (and one for another run).
    asker = Journal(clock, "q-1", path=None, mirror=_mirror(store), earlier=_mirror(store).read())
    promote = asker.append(Phase.REQUESTED, outcome="promote", data={"for_run": "r-1"})
    asker.append(Phase.REQUESTED, outcome="abort", data={"for_run": "r-0"})
    assert promote.seq == 2

    taken = run.refresh()
    assert [r.outcome for r in taken] == ["promote", "abort"]
    assert run.state.pending_requests("r-1") == [promote]
    assert run.state.answer(promote) is None
    # Taken in: in the local file too, and the next record numbers after them.
    assert parse_records(path.read_text(), "f") == list(run.records)
    answer = run.append(Phase.ANSWERED, outcome="promoted", data={"request": request_ref(promote)})
    assert answer.seq == 4
    assert run.state.pending_requests("r-1") == []
    assert run.state.answer(promote) == answer
    assert run.refresh() == []
    # The asker sees the answer in the copy.
    assert JournalState(tuple(_mirror(store).read())).answer(promote) == answer
    assert request_ref(promote) == "q-1:2"
    # An answer to another request, or a record that only names this one, is no answer.
    other = _r("x", 90, Phase.ANSWERED, data={"request": "q-1:3"})
    naming = _r("x", 91, Phase.MEMO, data={"request": "q-1:2"})
    assert JournalState((promote, other, naming)).answer(promote) is None
    assert JournalState((promote, other, naming)).pending_requests("r-1") == [promote]


def test_refresh_keeps_numbering_after_the_highest_record(tmp_path: Path) -> None:
    from upgrader.sandbox.clock import VirtualClock

    store = CasConfigMaps()
    clock = VirtualClock(0.0)
    run = Journal(clock, "r-1", path=None, mirror=_mirror(store))
    run.append(Phase.RUN_STARTED, data={"plan_fingerprint": "f", "plan_created": "c"})
    for _ in range(4):
        run.append(Phase.STARTED, "s")
    # An asker that read an old copy numbers its request low: the run's next record still
    # numbers after its own highest.
    _mirror(store).write([START, _r("q-1", 2, Phase.REQUESTED, data={"for_run": "r-1"})])
    assert [r.seq for r in run.refresh()] == [2]
    assert run.append(Phase.FINISHED, "s").seq == 6
    # A request numbered above the run's records moves the numbering past it.
    _mirror(store).write([START, _r("q-2", 40, Phase.REQUESTED, data={"for_run": "r-1"})])
    assert [r.seq for r in run.refresh()] == [40]
    assert run.append(Phase.FINISHED, "t").seq == 41


def test_refresh_without_a_mirror_or_of_another_plan_takes_in_nothing(tmp_path: Path) -> None:
    from upgrader.sandbox.clock import VirtualClock

    clock = VirtualClock(0.0)
    assert Journal(clock, "r", path=None, mirror=None).refresh() == []
    store = CasConfigMaps()
    errors: list[str] = []
    run = Journal(clock, "r-1", path=None, mirror=_mirror(store, errors))
    run.append(Phase.RUN_STARTED, data={"plan_fingerprint": "f", "plan_created": "c"})
    other = _r("r-9", 1, Phase.RUN_STARTED, data={"plan_fingerprint": "g", "plan_created": "c"})
    store.stored[("kube-system", "eksup-journal-prod")] = ConfigMap(
        "kube-system", "eksup-journal-prod", {JOURNAL_KEY: other.to_json() + "\n"}, "50"
    )
    assert run.refresh() == []
    # A copy that cannot be read: reported, nothing taken in.
    store.stored[("kube-system", "eksup-journal-prod")] = ConfigMap(
        "kube-system", "eksup-journal-prod", {JOURNAL_KEY: "x\ny\n"}, "51"
    )
    assert run.refresh() == []
    assert errors[-1].startswith("cannot read ConfigMap eksup-journal-prod: configmap")
