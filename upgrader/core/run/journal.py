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

`requested` is written by another machine for the run in progress (a rollout's promote or
abort), and `answered` by that run once it took the request (`JournalState.pending_requests`).

`approved` is written by `eksup approve`, not by a run: its own run id (`a-...`), the step, and
in data who (`by`, `host`), an optional `comment` and the plan it approves (`plan_fingerprint`,
`plan_created`). It reaches the executing machine through the ConfigMap: `--resume` merges the
approvals it finds there into its own journal (`merge_approvals`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from upgrader.core import loaders
from upgrader.core.errors import EksupError
from upgrader.core.ports import Clock
from upgrader.core.run.mirror import (
    JOURNAL_KEY,
    JOURNAL_NAMESPACE,
    ConfigMapMirror,
    mirror_name,
)
from upgrader.core.run.records import (
    JOURNAL_VERSION,
    JournalState,
    Phase,
    Record,
    merge_records,
    parse_records,
    same_journal,
)

__all__ = [
    "JOURNAL_KEY",
    "JOURNAL_NAMESPACE",
    "JOURNAL_VERSION",
    "ConfigMapMirror",
    "Journal",
    "JournalState",
    "Phase",
    "Record",
    "append_records",
    "journal_path_for",
    "load_records",
    "merge_approvals",
    "merge_records",
    "mirror_name",
    "parse_records",
    "same_journal",
]


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

    def refresh(self) -> list[Record]:
        """Take in what other machines added to the mirror since (a request for this run, an
        approval): the records are added here and to the local file. Returns them. A mirror
        that cannot be read is reported and nothing is taken in."""
        if self.mirror is None:
            return []
        try:
            remote = self.mirror.read()
        except EksupError as error:
            self.mirror.on_error(f"cannot read ConfigMap {self.mirror.name}: {error}")
            return []
        if not same_journal(self._records, remote):
            return []
        seen = {(r.run, r.seq) for r in self._records}
        new = [r for r in remote if (r.run, r.seq) not in seen]
        if new:
            self._records.extend(new)
            self._seq = max(self._seq, *(r.seq for r in new))
            self._write_lines(new)
        return new

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
    """Append records to a journal file, fsynced, after ending a line a crash left open."""
    end_the_last_line(path)
    # Bytes, encoded here: a text handle's encoding would be one more setting to get right.
    with path.open("ab") as handle:
        for record in records:
            handle.write((record.to_json() + "\n").encode())
        handle.flush()
        # The record must survive a SIGKILL or a power cut right after the action it names.
        os.fsync(handle.fileno())


def end_the_last_line(path: Path) -> None:
    """A process killed mid-write leaves the file's last line cut short. `parse_records` drops
    it, but the next record appended would be glued to it, and the line they make (in the
    middle of the file from then on) is neither: every later read would refuse the journal. So
    the fragment is cut off first. A last line that lacks only its newline is a whole record
    (a proper prefix of a JSON object is never valid JSON) and gets its newline instead."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return
        # Not mutated: asked for more than the last byte, pread returns just the last byte.
        if os.pread(fd, 1, size - 1) == b"\n":  # pragma: no mutate
            return
        text = os.pread(fd, size, 0)  # rare (after a crash), and a journal is bounded
        line = text[text.rfind(b"\n") + 1 :]
        try:
            json.loads(line)
        except ValueError:  # UnicodeDecodeError is one too
            os.ftruncate(fd, size - len(line))
        else:
            os.pwrite(fd, b"\n", size)
        os.fsync(fd)
    finally:
        os.close(fd)


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
