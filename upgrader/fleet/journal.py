"""A fleet run's journal: `run.fleet/journal.jsonl`, the run engine's records, many writers.

The coordinator (`eksup fleet run|resume`, one at a time: `upgrader.fleet.run_lock`) writes its
records through the run engine's `Journal`, fsynced one by one. Other terminals (`eksup fleet
stop|skip|retry|approve`) append theirs to the same file, each under its own run id, so (run,
seq) stays unique; every record is one write with O_APPEND, so lines from two writers never
interleave. The coordinator takes in what others added by reading the file again on each poll
(`Coordinator.state`), re-opening its engine journal on what it read: the run engine's
`refresh` reads only a ConfigMap mirror, and a fleet run on the local engine has none.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from socket import gethostname

from upgrader.core import loaders
from upgrader.core.errors import UserError
from upgrader.core.ports import Clock
from upgrader.core.run.journal import Journal, append_records
from upgrader.core.run.lock_holder import holder_name
from upgrader.core.run.records import Phase, Record, request_ref
from upgrader.fleet import records
from upgrader.fleet.journal_legacy import LEGACY_RUN, is_legacy, legacy_entries
from upgrader.fleet.records import Entry, Request
from upgrader.fleet.run_lock import coordinator_lock
from upgrader.fleet.state import FleetState, fold, state_dir

JOURNAL_FILE = "journal.jsonl"


def new_run_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def parse_fleet_records(text: str, source: str) -> list[Record]:
    """Records from the journal's lines, today's and an earlier eksup's (converted). A line cut
    short by a crash, the last one, is dropped; a bad line anywhere else is a user error."""
    lines = [line for line in text.splitlines() if line.strip()]
    found: list[Record] = []
    legacy = 0
    for number, line in enumerate(lines, start=1):
        try:
            line_records = _parse_line(line, legacy)
        except _BAD_LINE as error:
            if number == len(lines):
                break
            raise UserError(f"{source}:{number}: not a fleet journal record ({error})") from None
        legacy += sum(1 for r in line_records if r.run == LEGACY_RUN)
        found.extend(line_records)
    return found


_BAD_LINE = (ValueError, KeyError, TypeError, OverflowError)


def _parse_line(line: str, legacy_before: int) -> list[Record]:
    """One line's records: today's one, or an earlier eksup's event converted (numbered after
    the `legacy_before` converted records before it)."""
    if loaders.json_depth_error(line, loaders.JOURNAL.max_depth) is not None:
        raise ValueError("nested too deeply")
    raw = json.loads(line)
    if not is_legacy(raw):
        return [Record.from_json(line)]
    at = float(raw["at"])
    entries = legacy_entries(raw)
    return [_record(e, LEGACY_RUN, legacy_before + n, at) for n, e in enumerate(entries, 1)]


@contextmanager
def appending(path: Path) -> Iterator[None]:
    """While one writer appends, the other writers wait (for one record's write and fsync).
    The core's `append_records` ends a line a crashed writer left cut short; under this lock
    no live writer's line is mistaken for one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # and the flock with it


def _record(entry: Entry, run: str, seq: int, at: float) -> Record:
    return Record(run, seq, at, entry.phase, entry.step, entry.outcome, entry.detail, entry.data)


class FleetJournal:
    """The journal file of one fleet run, as anyone reads it and as other terminals add to it."""

    def __init__(self, run_file: Path) -> None:
        self.directory = state_dir(run_file)
        self.path = self.directory / JOURNAL_FILE

    def records(self) -> list[Record]:
        if not self.path.exists():
            return []
        text = loaders.read_text(self.path, loaders.JOURNAL, "fleet journal")
        return parse_fleet_records(text, str(self.path))

    def state(self) -> FleetState:
        return fold(self.records())

    def started(self) -> bool:
        return any(r.phase is Phase.RUN_STARTED for r in self.records())

    def argo_submission(self) -> dict[str, str] | None:
        """Where the run was submitted to Argo (server, namespace, name), if it was."""
        found = [
            r
            for r in self.records()
            if r.phase is Phase.RUN_STARTED and r.data.get("engine") == "argo"
        ]
        if not found:
            return None
        data = found[-1].data
        return {"server": data["server"], "namespace": data["namespace"], "name": data["workflow"]}

    def ask(
        self,
        at: float,
        what: Request,
        by: str,
        step: str | None = None,
        detail: str = "",
        **data: str,
    ) -> Record:
        """A request of the run's coordinator (the last one started; "" before any did)."""
        coordinator = fold(self.records()).coordinator
        entry = records.request(what, by, step, detail, **data, for_run=coordinator)
        return self._append(entry, new_run_id("q"), at)

    def approve(self, at: float, step: str, by: str, comment: str = "") -> Record:
        return self._append(records.approved(step, by, comment, gethostname()), new_run_id("a"), at)

    def submitted_to_argo(
        self, at: float, by: str, server: str, namespace: str, workflow: str
    ) -> Record:
        entry = records.argo_submitted(by, server, namespace, workflow)
        return self._append(entry, new_run_id("f"), at)

    def _append(self, entry: Entry, run: str, at: float) -> Record:
        with appending(self.path):
            seq = max((r.seq for r in self.records()), default=0) + 1
            record = _record(entry, run, seq, at)
            append_records(self.path, [record])  # one line, one write, O_APPEND, fsynced
        return record


# How the coordinator answers a request: asked of it, or of a run that ended before it took
# it (skip and retry were in effect from the start; a stop lapsed with its run).
# Keyed by `Request`, a StrEnum: a record's outcome text finds its answer as it is.
_ANSWERS: Mapping[str, str] = {
    Request.STOP: "stopping",
    Request.SKIP: "skipped",
    Request.RETRY: "will-retry",
}
_ANSWERS_LATE: Mapping[str, str] = {
    Request.STOP: "lapsed",
    Request.SKIP: "applied",
    Request.RETRY: "applied",
}
_UNKNOWN = "ignored"  # a request a later eksup knows and this one does not


class Coordinator:
    """The coordinator's side of the journal: its records through the run engine's `Journal`
    under its own run id (`f-...`), and other terminals' records taken in on each `state()`."""

    def __init__(self, files: FleetJournal, clock: Clock) -> None:
        self.files = files
        self.clock = clock
        self.run_id = ""
        self._journal: Journal | None = None

    @property
    def directory(self) -> Path:
        return self.files.directory

    @contextmanager
    def coordinating(self, by: str, engine: str, fleet_run: str) -> Iterator[None]:
        """Hold the run's lock (refused, exit 3, while another coordinator holds it), say the
        run started, and answer what was asked of earlier runs."""
        self.run_id = new_run_id("f")
        holder = holder_name(self.run_id)
        with coordinator_lock(self.directory, holder, fleet_run):  # makes the directory
            earlier = self.files.records()
            self._journal = Journal(
                self.clock, self.run_id, path=self.files.path, mirror=None, earlier=earlier
            )
            self.write(records.run_started(by, engine, fleet_run, holder))
            self._answer(earlier, _ANSWERS_LATE)
            try:
                yield
            finally:
                self._journal = None

    def write(self, entry: Entry) -> Record:
        assert self._journal is not None, "write() outside coordinating()"
        with appending(self.files.path):
            return self._journal.append(
                entry.phase, entry.step, outcome=entry.outcome, detail=entry.detail, data=entry.data
            )

    def state(self) -> FleetState:
        """The run's state, with what other terminals asked since taken in and answered."""
        assert self._journal is not None, "state() outside coordinating()"
        found = self.files.records()
        # Re-opened on the file, the engine journal's own records are there (each was fsynced
        # before `append` returned) and its next seq follows every writer's.
        self._journal = Journal(
            self.clock, self.run_id, path=self.files.path, mirror=None, earlier=found
        )
        if self._answer(found, _ANSWERS):
            found = list(self._journal.records)
        return fold(found)

    def _answer(self, found: list[Record], answers: Mapping[str, str]) -> bool:
        """Answer every request no record answers yet. At the start those were asked before
        this run began; later, while it runs (whichever run the asker saw last)."""
        answered = {r.data.get("request") for r in found if r.phase is Phase.ANSWERED}
        pending = [
            r for r in found if r.phase is Phase.REQUESTED and request_ref(r) not in answered
        ]
        for asked in pending:
            self.write(
                Entry(
                    Phase.ANSWERED,
                    asked.step,
                    outcome=answers.get(asked.outcome, _UNKNOWN),
                    data={"request": request_ref(asked)},
                )
            )
        return bool(pending)
