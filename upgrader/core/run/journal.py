"""The execution journal: what a run did, so another run can continue it without repeating it.

An upgrade takes hours and can be killed at any moment, so the engine writes down, before and
after each step, where it stands: append-only JSON lines in a file next to the plan
(`<plan>.journal.jsonl`), fsynced per record. It also writes what it must remember across a crash
and cannot read back from the cluster: Cluster Autoscaler's original replica count, the id of an
EKS update in flight, that a drain has started (after which a failed green group is no longer
rolled back). Each record is mirrored to the ConfigMap `eksup-journal-<cluster>` in kube-system,
so `eksup status` and `--resume` work from another machine.

One record per line:

    {"v": 1, "run": "r-3f9c2a1b", "seq": 7, "at": 1767225600.0, "phase": "finished",
     "step": "control-plane-1.29", "outcome": "done", "detail": "...", "data": {}}

Phases: `run-started` (data: plan fingerprint and creation time, holder, options), `started`,
`action` (a change about to be made, written before it is made), `memo` (data: key, value),
`finished` (outcome `done`, or `already-done` when the step found nothing to do), `skipped`
(finished by an earlier run), `failed`, `stopped` (Ctrl-C, or a person declined a gate),
`waiting` (the run stopped at an approval gate nobody has approved yet), and `run-finished`
(outcome succeeded / failed / stopped / refused). `progress` (data: a drain's node and pod
counts and its budget headroom) is written at most every 30 s of a drain, for the report.

`approved` is written by `eksup approve`, not by a run: its own run id (`a-...`), the step, and
in data who (`by`, `host`), an optional `comment` and the plan it approves (`plan_fingerprint`,
`plan_created`). It reaches the executing machine through the ConfigMap: `--resume` merges the
approvals it finds there into its own journal (`merge_approvals`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path

from upgrader.core import loaders
from upgrader.core.errors import EksupError, NotFoundError, UserError
from upgrader.core.kube import ConfigMap
from upgrader.core.ports import Clock, Cluster

JOURNAL_VERSION = 1
JOURNAL_NAMESPACE = "kube-system"
JOURNAL_KEY = "journal.jsonl"
# A ConfigMap holds at most 1 MiB; past this the mirror keeps only what resuming needs.
_MIRROR_LIMIT = 900_000


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


def mirror_name(cluster: str) -> str:
    return f"eksup-journal-{cluster}"


class ConfigMapMirror:
    """Copies the journal into a ConfigMap after each record. A mirror failure is reported and
    the run goes on: the local file is the journal, the ConfigMap only a copy of it."""

    def __init__(
        self, cluster: Cluster, cluster_name: str, on_error: Callable[[str], None]
    ) -> None:
        self.cluster = cluster
        self.name = mirror_name(cluster_name)
        self.on_error = on_error
        self._failing = False

    def write(self, records: Iterable[Record], *, strict: bool = False) -> None:
        """`strict`: raise instead of reporting, for a caller with no other copy."""
        text = _mirror_text(list(records))
        try:
            self.cluster.apply_config_map(
                ConfigMap(JOURNAL_NAMESPACE, self.name, {JOURNAL_KEY: text})
            )
        except EksupError as error:
            if strict:
                raise
            if not self._failing:  # once per outage, not once per record
                self.on_error(f"cannot mirror the journal to ConfigMap {self.name}: {error}")
            self._failing = True
        else:
            self._failing = False

    @property
    def failing(self) -> bool:
        """The last write did not reach the cluster."""
        return self._failing

    def read(self) -> list[Record]:
        try:
            found = self.cluster.get_config_map(JOURNAL_NAMESPACE, self.name)
        except NotFoundError:
            return []
        text = found.data.get(JOURNAL_KEY)
        return parse_records(text, f"configmap {self.name}") if text is not None else []


def _mirror_text(records: list[Record]) -> str:
    text = "".join(r.to_json() + "\n" for r in records)
    if len(text) <= _MIRROR_LIMIT:
        return text
    # Too big for a ConfigMap: keep what resuming reads (run markers, memos, step ends and
    # actions), drop the rest (starts of steps that ended).
    kept = [r for r in records if r.phase not in (Phase.STARTED, Phase.PROGRESS)]
    return "".join(r.to_json() + "\n" for r in kept)[-_MIRROR_LIMIT:]


class Journal:
    """The journal of one plan: earlier runs' records plus this run's, appended as they happen.

    `path` None keeps the journal in memory (a dry run must not leave a journal that a later
    `--resume` would trust); `mirror` None skips the ConfigMap copy.
    """

    def __init__(
        self,
        clock: Clock,
        run_id: str,
        *,
        path: Path | None,
        mirror: ConfigMapMirror | None,
        earlier: Iterable[Record] = (),
    ) -> None:
        self.clock = clock
        self.run_id = run_id
        self.path = path
        self.mirror = mirror
        self._records = list(earlier)
        self._seq = max((r.seq for r in self._records), default=0)
        if path is not None and self._records and not path.exists():
            # Resuming from the ConfigMap on a new machine: the local file starts as its copy.
            self._write_lines(self._records)

    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(self._records)

    @property
    def state(self) -> JournalState:
        return JournalState(tuple(self._records))

    def append(
        self,
        phase: Phase,
        step: str | None = None,
        *,
        outcome: str = "",
        detail: str = "",
        data: Mapping[str, str] | None = None,
    ) -> Record:
        self._seq += 1
        record = Record(
            run=self.run_id,
            seq=self._seq,
            at=self.clock.now(),
            phase=phase,
            step=step,
            outcome=outcome,
            detail=detail,
            data=dict(data or {}),
        )
        self._records.append(record)
        self._write_lines([record])
        if self.mirror is not None:
            self.mirror.write(self._records)
        return record

    def remember(self, key: str, value: str, step: str | None = None) -> None:
        """A fact the run must not lose in a crash; the last value for a key wins."""
        self.append(Phase.MEMO, step, data={"key": key, "value": value})

    def recall(self, key: str) -> str | None:
        for record in reversed(self._records):
            if record.phase is Phase.MEMO and record.data.get("key") == key:
                return record.data.get("value")
        return None

    def _write_lines(self, records: Iterable[Record]) -> None:
        if self.path is not None:
            append_records(self.path, records)


def append_records(path: Path, records: Iterable[Record]) -> None:
    """Append records to a journal file, fsynced."""
    # Bytes, encoded here: a text handle's encoding would be one more setting to get right.
    with path.open("ab") as handle:
        for record in records:
            handle.write((record.to_json() + "\n").encode())
        handle.flush()
        # The record must survive a SIGKILL or a power cut right after the action it names.
        os.fsync(handle.fileno())


def merge_approvals(local: list[Record], remote: list[Record]) -> list[Record]:
    """The approvals in `remote` (the ConfigMap) that `local` lacks: given by `eksup approve`
    on another machine, for the same plan. Only approvals cross over: the rest of the local
    journal is this machine's own record of what it did, and stays the authority."""
    ours, theirs = JournalState(tuple(local)), JournalState(tuple(remote))
    if ours.plan_identity is None or ours.plan_identity != theirs.plan_identity:
        return []
    seen = {(r.run, r.seq) for r in local}
    return [r for r in remote if r.phase is Phase.APPROVED and (r.run, r.seq) not in seen]


def journal_path_for(plan_path: Path) -> Path:
    """`plan.json` -> `plan.journal.jsonl`, beside it."""
    return plan_path.with_name(plan_path.stem + ".journal.jsonl")


def load_records(path: Path, mirror: ConfigMapMirror | None) -> tuple[list[Record], str]:
    """The journal's earlier records and where they came from: the local file when it exists,
    else the cluster's ConfigMap (a run begun on another machine), else nothing."""
    if path.exists():
        text = loaders.read_text(path, loaders.JOURNAL, "journal")  # bounded, UTF-8 or one line
        return parse_records(text, str(path)), str(path)
    if mirror is not None:
        records = mirror.read()
        if records:
            return records, f"configmap {JOURNAL_NAMESPACE}/{mirror.name}"
    return [], ""
