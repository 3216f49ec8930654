"""A rollout's journal: the run engine's journal (`upgrader.core.run.journal`), read as where a
rollout stands.

Rollouts keep no state of their own. Every `rollout run`, `promote`, `abort` and `rollback`
appends records to the app's journal: a local file (`.eksup/rollouts/<namespace>/<app>.journal
.jsonl`, or under `$EKSUP_JOURNAL_DIR`) mirrored, merge-on-write, to the ConfigMap
`eksup-rollout-<app>` beside the app. The ConfigMap is what every machine shares, so `status`,
`promote`, `abort` and `rollback` work from any laptop or CI job, and a killed run resumes
after its last completed step. The local file is this machine's copy: it fills in what the
ConfigMap missed while it could not be written, and is trusted only for the journal the
ConfigMap holds (another rollout's, another cluster's, is set aside).

What a rollout writes, in the engine's phases:
- `run-started` per command (data: `command`, `by`, `steps`; the first one of a rollout names
  it: `plan_fingerprint` the spec's digest, `plan_created` its start and a random id, so a new
  rollout replaces the previous one's copy);
- `finished` per completed step (step `step-N`; data `step`, `weights` read back);
- `memo` `stable-deployment` and `stable-replicas`, before stable is scaled down (rollback
  restores them);
- `action` promoted / aborted / rolled-back (data `by`), before the change is made;
- `requested` promote or abort, by another machine, for the run holding the app's lock (data
  `for_run`), and `answered` by that run once it acted on it;
- `run-finished` with the rollout's status (succeeded, rolled-back, failed, paused), its
  reason and the step and weights it ended at.

Only what cannot be re-derived is kept: live weights are always re-read from the service.

An earlier eksup kept a rollout as keys of that same ConfigMap (`status`, `step`, ...). That
state is read, as records, and replaced by the journal at the first write, so a rollout it
recorded can be resumed, rolled back and shown. Only a run of that earlier version still in
progress cannot be asked to promote or abort (it never reads the journal): that is refused in
one line that says to use the earlier version.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from strategies.spec import RolloutSpec
from strategies.steps import Weights
from upgrader.core import loaders
from upgrader.core.errors import NotFoundError, RefusedError
from upgrader.core.ports import Clock, Cluster
from upgrader.core.run.journal import (
    ConfigMapMirror,
    Journal,
    JournalState,
    Record,
    merge_records,
    parse_records,
    same_journal,
)
from upgrader.core.run.journal import (
    Phase as JournalPhase,
)
from upgrader.core.run.records import request_ref


class Phase(StrEnum):
    RUNNING = "running"  # steps going on (or a run killed mid-way: resumable)
    PAUSED = "paused"  # stopped part-way on purpose (Ctrl-C): resumable
    SUCCEEDED = "succeeded"  # all traffic on the candidate, read back
    ROLLED_BACK = "rolled-back"  # all traffic back on stable, read back
    FAILED = "failed"  # stable could not be confirmed: a human must look


TERMINAL = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED})
RESUMABLE = frozenset({Phase.RUNNING, Phase.PAUSED})


class Request(StrEnum):
    PROMOTE = "promote"
    ABORT = "abort"


# The human actions `status` shows, in the order they happen.
ACTIONS = ("started", "promoted", "aborted", "rolled-back")
JOURNAL_DIR_ENV = "EKSUP_JOURNAL_DIR"
_LEGACY_KEYS = ("status", "step", "steps")


def config_map_name(app: str) -> str:
    return f"eksup-rollout-{app}"


def journal_file(namespace: str, app: str) -> Path:
    """This machine's copy of an app's rollout journal."""
    base = Path(os.environ.get(JOURNAL_DIR_ENV) or Path(".eksup") / "rollouts")
    return base / namespace / f"{app}.journal.jsonl"


def weights_text(weights: Weights) -> str:
    return f"{weights.stable}/{weights.candidate}"


def parse_weights(text: str) -> Weights | None:
    stable, sep, candidate = text.partition("/")
    if not sep or not stable.isdigit() or not candidate.isdigit():
        return None
    return Weights(int(stable), int(candidate))


@dataclass(frozen=True)
class Actor:
    """Who did something and when (epoch seconds)."""

    who: str
    at: float


@dataclass(frozen=True)
class RolloutState:
    """Where a rollout stands, replayed from its journal."""

    phase: Phase
    step: int
    steps_total: int
    weights: Weights | None
    updated: float
    reason: str = ""
    stable_deployment: str = ""
    stable_replicas: int | None = None  # before the rollout scaled stable down
    actions: dict[str, Actor] = field(default_factory=dict)
    request: Request | None = None  # the oldest request the run in progress has not taken
    requested_by: Actor | None = None
    run: str = ""  # the run that wrote last (a request is made of it)

    @property
    def resumable(self) -> bool:
        return self.phase in RESUMABLE

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.phase.value,
            "step": self.step,
            "steps": self.steps_total,
            "weights": None if self.weights is None else weights_text(self.weights),
            "updated": self.updated,
            "reason": self.reason,
            "stable_deployment": self.stable_deployment or None,
            "stable_replicas": self.stable_replicas,
            "actions": {k: {"by": a.who, "at": a.at} for k, a in self.actions.items()},
            "request": None if self.request is None else self.request.value,
        }


def replay(records: tuple[Record, ...]) -> RolloutState | None:
    """The rollout the records describe; None when none was started."""
    started = [r for r in records if r.phase is JournalPhase.RUN_STARTED]
    if not started:
        return None
    phase, reason, step, total = Phase.RUNNING, "", 0, 0
    weights: Weights | None = None
    actions: dict[str, Actor] = {"started": Actor(started[0].data.get("by", ""), started[0].at)}
    for record in records:
        if "step" in record.data and record.phase is not JournalPhase.REQUESTED:
            step = _int(record.data["step"])
        if "weights" in record.data:
            weights = parse_weights(record.data["weights"]) or weights
        if record.phase is JournalPhase.RUN_STARTED:
            total = _int(record.data.get("steps", "")) or total
            if record.detail in ("start", "resume"):
                phase, reason = Phase.RUNNING, ""
        elif record.phase is JournalPhase.RUN_FINISHED:
            phase = _phase(record.outcome)
            reason = record.detail
        elif record.phase is JournalPhase.ACTION and record.outcome in ACTIONS:
            actions[record.outcome] = Actor(record.data.get("by", ""), record.at)
    state = JournalState(records)
    memos = state.memos
    replicas = memos.get("stable-replicas", "")
    last_run = next(r.run for r in reversed(records) if r.phase is JournalPhase.RUN_STARTED)
    pending = state.pending_requests(last_run) if phase in RESUMABLE else []
    request = pending[0] if pending else None
    return RolloutState(
        phase=phase,
        step=step,
        steps_total=total,
        weights=weights,
        updated=max(r.at for r in records),
        reason=reason,
        stable_deployment=memos.get("stable-deployment", ""),
        stable_replicas=int(replicas) if replicas.isdigit() else None,
        actions=actions,
        request=_request(request.outcome) if request is not None else None,
        requested_by=(
            Actor(request.data.get("by", ""), request.at) if request is not None else None
        ),
        run=last_run,
    )


def _phase(text: str) -> Phase:
    try:
        return Phase(text)
    except ValueError:
        return Phase.FAILED


def _request(text: str) -> Request | None:
    return Request(text) if text in tuple(Request) else None


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def legacy_records(data: Mapping[str, str]) -> list[Record]:
    """An earlier eksup's state keys, as the journal records that say the same."""
    at = _float(data.get("updated", ""))
    started_at = _float(data.get("started-at", "")) or at
    step = data.get("step", "0")
    out = [
        Record(
            "legacy",
            1,
            started_at,
            JournalPhase.RUN_STARTED,
            detail="state kept by an earlier eksup",
            data={
                "command": "run",
                "by": data.get("started-by", ""),
                "steps": data.get("steps", "0"),
                "plan_fingerprint": "legacy",
                "plan_created": f"{started_at:.0f}",
            },
        )
    ]

    def add(phase: JournalPhase, when: float, **kw: object) -> None:
        out.append(Record("legacy", len(out) + 1, when, phase, **kw))  # type: ignore[arg-type]

    for key in ("stable-deployment", "stable-replicas"):
        if key in data:
            add(JournalPhase.MEMO, at, data={"key": key, "value": data[key]})
    for action in ACTIONS[1:]:
        if f"{action}-by" in data:
            when = _float(data.get(f"{action}-at", "")) or at
            add(JournalPhase.ACTION, when, outcome=action, data={"by": data[f"{action}-by"]})
    last = {"step": step, **({"weights": data["weights"]} if "weights" in data else {})}
    status = data.get("status", "")
    if status == Phase.RUNNING.value:
        add(JournalPhase.FINISHED, at, step=f"step-{step}", outcome="done", data=last)
    else:
        add(
            JournalPhase.RUN_FINISHED,
            at,
            outcome=_phase(status).value,
            detail=data.get("reason", ""),
            data=last,
        )
    return out


class RolloutJournal:
    """The journal of one app's rollouts, as one command (`run_id`) reads and writes it.

    `path` None reads and writes the ConfigMap only (status). `dry_run` reads the local file
    (`path`) and the ConfigMap as a run would, and keeps what the run appends in memory: a dry
    run resumes where a run would, and leaves no journal a later run would trust."""

    def __init__(
        self,
        cluster: Cluster,
        clock: Clock,
        namespace: str,
        app: str,
        *,
        run_id: str,
        who: str = "eksup",
        path: Path | None = None,
        command: str = "run",
        on_error: Callable[[str], None] = lambda _: None,
        dry_run: bool = False,
    ) -> None:
        self.dry_run = dry_run
        self.cluster = cluster
        self.clock = clock
        self.namespace = namespace
        self.name = config_map_name(app)
        self.run_id = run_id
        self.who = who
        self.path = path
        self.command = command
        self.mirror = ConfigMapMirror(cluster, "", on_error, namespace=namespace, name=self.name)
        self.legacy = False  # the ConfigMap held an earlier eksup's keys
        self._journal = self._open()
        self._begun = False

    def _open(self, *, fresh: bool = False) -> Journal:
        remote = [] if fresh else self._remote()
        local = [] if fresh else self._local()
        if remote and local and same_journal(local, remote):
            earlier = merge_records(local, remote)
        else:
            # The ConfigMap is what every machine shares: a local copy of another journal
            # (another rollout, another cluster) is set aside.
            earlier = remote
        if self.dry_run:
            return Journal(self.clock, self.run_id, path=None, mirror=None, earlier=earlier)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if local and earlier != local:
                self._set_aside()  # rewritten below, as the journal it continues
        return Journal(self.clock, self.run_id, path=self.path, mirror=self.mirror, earlier=earlier)

    def _remote(self) -> list[Record]:
        try:
            found = self.cluster.get_config_map(self.namespace, self.name)
        except NotFoundError:
            return []
        text = found.data.get("journal.jsonl")
        if text is not None:
            return parse_records(text, f"configmap {self.namespace}/{self.name}")
        if any(key in found.data for key in _LEGACY_KEYS):
            self.legacy = True
            return legacy_records(found.data)
        return []

    def _local(self) -> list[Record]:
        if self.path is None or not self.path.exists():
            return []
        text = loaders.read_text(self.path, loaders.JOURNAL, "journal")  # bounded, UTF-8
        return parse_records(text, str(self.path))

    def _set_aside(self) -> None:
        assert self.path is not None
        self.path.replace(self.path.with_name(self.path.name + ".previous"))

    @property
    def records(self) -> tuple[Record, ...]:
        return self._journal.records

    def read(self) -> RolloutState | None:
        """Where the rollout stands now, with what other machines added since."""
        self._journal.refresh()
        return replay(self._journal.records)

    def completed_step(self) -> int:
        """The last completed step of an unfinished rollout; 0 when none is in progress."""
        state = self.read()
        return state.step if state is not None and state.resumable else 0

    # --- written by the command that holds the app's lock --------------------------------

    def start(self, steps_total: int, by: Actor, spec_digest: str = "") -> None:
        """A new rollout: the previous one's journal becomes history (its local copy is set
        aside; its ConfigMap copy is replaced at this first write)."""
        if self.path is not None and self.path.exists() and not self.dry_run:
            self._set_aside()
        self._journal = self._open(fresh=True)
        self._append(
            JournalPhase.RUN_STARTED,
            detail="start",
            data={
                "command": "run",
                "by": by.who,
                "steps": str(steps_total),
                "plan_fingerprint": spec_digest or "rollout",
                "plan_created": f"{by.at:.0f} {uuid.uuid4().hex[:8]}",
            },
        )

    def resume(self, steps_total: int, by: Actor) -> None:
        self._append(
            JournalPhase.RUN_STARTED,
            detail="resume",
            data={"command": self.command, "by": by.who, "steps": str(steps_total)},
        )

    def record(
        self,
        step: int,
        status: str,
        weights: Weights | None,
        at: float,
        *,
        reason: str | None = None,
    ) -> None:
        """A step completed (status running) or the rollout's new status."""
        del at  # the journal stamps each record with the clock
        data = {"step": str(step)}
        if weights is not None:
            data["weights"] = weights_text(weights)
        if status == Phase.RUNNING.value:
            if step > 0:
                self._append(JournalPhase.FINISHED, f"step-{step}", outcome="done", data=data)
            return
        self._append(JournalPhase.RUN_FINISHED, outcome=status, detail=reason or "", data=data)

    def record_action(self, action: str, by: Actor) -> None:
        self._append(JournalPhase.ACTION, outcome=action, data={"by": by.who})

    def record_stable_replicas(self, deployment: str, replicas: int | None) -> None:
        self._append(JournalPhase.MEMO, data={"key": "stable-deployment", "value": deployment})
        if replicas is not None:
            self._append(JournalPhase.MEMO, data={"key": "stable-replicas", "value": str(replicas)})

    def remember(self, key: str, value: str) -> None:
        """A fact a resumed run needs and cannot read back (a memo; the last value wins)."""
        self._append(JournalPhase.MEMO, data={"key": key, "value": value})

    def recall(self, key: str) -> str | None:
        return JournalState(self._journal.records).memos.get(key)

    def _append(
        self,
        phase: JournalPhase,
        step: str | None = None,
        *,
        outcome: str = "",
        detail: str = "",
        data: Mapping[str, str] | None = None,
    ) -> Record:
        if not self._begun and phase is not JournalPhase.RUN_STARTED:
            # Each command that changes the rollout says so first (who, which command).
            self._journal.append(
                JournalPhase.RUN_STARTED,
                detail=self.command,
                data={"command": self.command, "by": self.who},
            )
        self._begun = True
        return self._journal.append(phase, step, outcome=outcome, detail=detail, data=data)

    # --- requests: asked by another machine, taken by the run ----------------------------

    def request(self, request: Request, by: Actor, for_run: str) -> Record:
        """Ask run `for_run` (the lock's holder) to promote or abort; only the ConfigMap is
        written (strictly: a request that did not reach it must not be reported as made)."""
        if self.legacy:
            raise RefusedError(
                f"the rollout of {self.namespace}/{self.name.removeprefix('eksup-rollout-')} "
                "in progress was started by an earlier eksup, which does not read this one's "
                f"requests: {request.value} it with that version"
            )
        self._journal.refresh()
        asker = Journal(self.clock, self.run_id, path=None, mirror=None, earlier=self.records)
        record = asker.append(
            JournalPhase.REQUESTED,
            outcome=request.value,
            detail=f"{request.value} requested by {by.who}",
            data={"for_run": for_run, "by": by.who},
        )
        self.mirror.write(asker.records, strict=True)
        self._journal.refresh()
        return record

    def pending(self) -> list[Record]:
        """The requests made of this run that it has not answered, oldest first."""
        self._journal.refresh()
        return self._journal.state.pending_requests(self.run_id)

    def answer(self, request: Record, outcome: str) -> None:
        self._append(JournalPhase.ANSWERED, outcome=outcome, data={"request": request_ref(request)})

    def answered(self, request: Record) -> Record | None:
        self._journal.refresh()
        return self._journal.state.answer(request)

    def answer_all(self, run: str, outcome: str) -> None:
        """A command that finished a dead run's rollout answers what was asked of that run."""
        for request in JournalState(self._journal.records).pending_requests(run):
            self.answer(request, outcome)


def spec_digest(spec: RolloutSpec) -> str:
    """Which spec a rollout ran (its validated content, not the file's spelling)."""
    return "sha256:" + hashlib.sha256(spec.model_dump_json().encode()).hexdigest()
