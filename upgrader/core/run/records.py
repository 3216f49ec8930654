"""Journal records: one line each, replayed into what a run stands on, and merged.

The format and its phases are described in `upgrader.core.run.journal`, which writes them.
Merging (`merge_records`) is how two writers of one journal meet in its ConfigMap mirror: a
running run and another machine's request or approval each keep the other's records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from upgrader.core import loaders
from upgrader.core.errors import UserError

JOURNAL_VERSION = 1


class Phase(StrEnum):
    RUN_STARTED = "run-started"
    STARTED = "started"
    ACTION = "action"
    MEMO = "memo"
    FINISHED = "finished"
    SKIPPED = "skipped"
    FAILED = "failed"
    STOPPED = "stopped"
    WAITING = "waiting"  # stopped at an approval gate: `eksup approve` lets it go on
    APPROVED = "approved"  # written by `eksup approve`, never by a run
    PROGRESS = "progress"  # a drain's counts over time, for `eksup status --html`
    RUN_FINISHED = "run-finished"
    # Asked of a running run by another machine (a rollout's promote or abort): data `for_run`
    # (the run asked), `by`; outcome the request. Never written by the run it asks.
    REQUESTED = "requested"
    # The run took a request: data `request` ("<run>:<seq>" of the request); outcome what it did.
    ANSWERED = "answered"


_STEP_END = (Phase.FINISHED, Phase.SKIPPED, Phase.FAILED, Phase.STOPPED, Phase.WAITING)


@dataclass(frozen=True)
class Record:
    run: str
    seq: int
    at: float
    phase: Phase
    step: str | None = None
    outcome: str = ""
    detail: str = ""
    data: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return self._line

    @cached_property
    def _line(self) -> str:
        # The ConfigMap mirror writes the whole journal after every record: each record's line
        # is made once (records are immutable).
        return json.dumps(
            {
                "v": JOURNAL_VERSION,
                "run": self.run,
                "seq": self.seq,
                "at": self.at,
                "phase": self.phase.value,
                "step": self.step,
                "outcome": self.outcome,
                "detail": self.detail,
                "data": dict(self.data),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, line: str) -> Record:
        # Bounded: a record is flat, so anything nested deeper is not one (json.loads would
        # recurse once per level and end in RecursionError).
        if loaders.json_depth_error(line, loaders.JOURNAL.max_depth) is not None:
            raise ValueError("nested too deeply")
        raw = json.loads(line)
        if not isinstance(raw, dict) or raw.get("v") != JOURNAL_VERSION:
            raise ValueError(f"not a version {JOURNAL_VERSION} journal record")
        step = raw.get("step")
        if step is not None and not isinstance(step, str):
            raise TypeError("step is not a string")
        data = raw.get("data") or {}
        if not isinstance(data, dict):
            raise TypeError("data is not an object")
        return cls(
            run=str(raw["run"]),
            seq=int(raw["seq"]),
            at=float(raw["at"]),
            phase=Phase(raw["phase"]),
            step=step,
            outcome=str(raw.get("outcome", "")),
            detail=str(raw.get("detail", "")),
            data={str(k): str(v) for k, v in data.items()},
        )


def parse_records(text: str, source: str) -> list[Record]:
    """Records from JSON lines. A torn last line (the process died mid-write) is dropped; a bad
    line anywhere else means the journal was edited or corrupted, which is a user error."""
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(Record.from_json(line))
        except (ValueError, KeyError, TypeError, OverflowError) as error:
            if number == len(lines):
                break
            raise UserError(f"{source}:{number}: not a journal record ({error})") from None
    return records


@dataclass(frozen=True)
class JournalState:
    """What the records say, replayed: each step's last phase, the memos, the runs."""

    records: tuple[Record, ...]

    def last_phase(self, step_id: str) -> Phase | None:
        phase = None
        for record in self.records:
            if record.step == step_id and record.phase in (Phase.STARTED, *_STEP_END):
                phase = record.phase
        return phase

    def finished(self, step_id: str) -> Record | None:
        """The record that says the step is done, when its last word was that."""
        last = None
        for record in self.records:
            if record.step == step_id and record.phase in (Phase.STARTED, *_STEP_END):
                last = record
        if last is not None and last.phase in (Phase.FINISHED, Phase.SKIPPED):
            return last
        return None

    def approval(self, step_id: str, plan_fingerprint: str) -> Record | None:
        """The last approval of `step_id` given for this plan, if any."""
        found = None
        for record in self.records:
            if (
                record.phase is Phase.APPROVED
                and record.step == step_id
                and record.data.get("plan_fingerprint") == plan_fingerprint
            ):
                found = record
        return found

    def waiting(self, step_id: str) -> bool:
        """The last run stopped at `step_id` for an approval, and none came since."""
        waiting = False
        for record in self.records:
            if record.step != step_id:
                continue
            if record.phase is Phase.WAITING:
                waiting = True
            elif record.phase in (Phase.APPROVED, Phase.STARTED, *_STEP_END):
                waiting = False
        return waiting

    @property
    def waiting_steps(self) -> list[str]:
        steps = dict.fromkeys(r.step for r in self.records if r.phase is Phase.WAITING)
        return [s for s in steps if s is not None and self.waiting(s)]

    @property
    def memos(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for record in self.records:
            if record.phase is Phase.MEMO:
                found[record.data["key"]] = record.data["value"]
        return found

    @property
    def runs(self) -> list[str]:
        return [r.run for r in self.records if r.phase is Phase.RUN_STARTED]

    def pending_requests(self, run_id: str) -> list[Record]:
        """The requests made of run `run_id` that no record answers yet, oldest first."""
        answered = {r.data.get("request") for r in self.records if r.phase is Phase.ANSWERED}
        return [
            r
            for r in self.records
            if r.phase is Phase.REQUESTED
            and r.data.get("for_run") == run_id
            and request_ref(r) not in answered
        ]

    def answer(self, request: Record) -> Record | None:
        """The record that answered `request`, if one did."""
        ref = request_ref(request)
        for record in self.records:
            if record.phase is Phase.ANSWERED and record.data.get("request") == ref:
                return record
        return None

    @property
    def plan_identity(self) -> tuple[str, str] | None:
        """(fingerprint, created_at) of the plan the journal belongs to."""
        for record in self.records:
            if record.phase is Phase.RUN_STARTED:
                return record.data.get("plan_fingerprint", ""), record.data.get("plan_created", "")
        return None

    @property
    def changed_anything(self) -> bool:
        return any(r.phase is Phase.ACTION for r in self.records)

    @property
    def completed(self) -> bool:
        """The last run finished every step."""
        ends = [r for r in self.records if r.phase is Phase.RUN_FINISHED]
        return bool(ends) and ends[-1].outcome == "succeeded" and ends[-1].run == self.runs[-1]

    @property
    def interrupted_step(self) -> str | None:
        """The step a run was in when it ended without finishing it."""
        last = None
        for record in self.records:
            if record.step is not None and record.phase in (Phase.STARTED, *_STEP_END):
                last = record
        if last is not None and last.phase not in (Phase.FINISHED, Phase.SKIPPED):
            return last.step
        return None


def request_ref(record: Record) -> str:
    """How an `answered` record names the request it answers."""
    return f"{record.run}:{record.seq}"


def same_journal(ours: Sequence[Record], theirs: Sequence[Record]) -> bool:
    """Whether two record lists can be one journal: their first runs started the same plan
    (or one of them does not say which)."""
    mine = JournalState(tuple(ours)).plan_identity
    other = JournalState(tuple(theirs)).plan_identity
    return mine is None or other is None or mine == other


def merge_records(ours: Sequence[Record], theirs: Sequence[Record]) -> list[Record]:
    """`ours` plus each record of `theirs` that `ours` lacks, placed after the last of ours
    written no later than it. A record is known by (run, seq): each writer has its own run id,
    so two writers never claim the same key. Ours keep their order (a clock that stepped back
    must not reorder a run's own records). `theirs`, when it is another plan's journal (a run
    of a new plan replaces the old one's copy), is dropped."""
    merged = list(ours)
    if not same_journal(ours, theirs):
        return merged
    seen = {(r.run, r.seq) for r in merged}
    for record in theirs:
        key = (record.run, record.seq)
        if key in seen:
            continue
        seen.add(key)
        # After the last of ours written no later than it; first when all of ours are later.
        at = next((i + 1 for i in range(len(merged) - 1, -1, -1) if merged[i].at <= record.at), 0)
        merged.insert(at, record)
    return merged
