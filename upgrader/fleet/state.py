"""Where a fleet run stands: its journal's records (`upgrader.fleet.records`) replayed.

The coordinator (`eksup fleet run`/`resume`) appends what happens; `eksup fleet stop|approve|
skip|retry` append requests and approvals from any terminal (`upgrader.fleet.journal`). The
state of the run is a fold over the records, so a run that died is resumed from exactly what
was recorded: a cluster that finished is never run again, one that was in flight resumes from
its own journal (`eksup execute --resume` semantics).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from upgrader.core.run.records import Phase, Record
from upgrader.fleet.records import (
    CLUSTER,
    END_PHASES,
    GATE,
    GROUP,
    SOAK_KEY,
    STAGE,
    Request,
    soak_key,
)


class ClusterStatus(StrEnum):
    PENDING = "pending"  # not started yet
    RUNNING = "running"
    SOAKING = "soaking"  # control plane done, nodes wait (soakAfterControlPlane)
    WAITING = "waiting"  # at its own approval gate (clusterApproval: each)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    STOPPED = "stopped"  # stopped part-way; resumes from its own journal


DONE = (ClusterStatus.SUCCEEDED, ClusterStatus.SKIPPED)


@dataclass
class ClusterState:
    status: ClusterStatus = ClusterStatus.PENDING
    reason: str = ""
    attempts: int = 0
    soak_until: float | None = None
    started_at: float | None = None
    finished_at: float | None = None


@dataclass
class FleetState:
    clusters: dict[str, ClusterState] = field(default_factory=dict)
    approved: dict[str, str] = field(default_factory=dict)  # gate -> "by X at T"
    waiting_gates: list[str] = field(default_factory=list)
    stage_outcomes: dict[str, str] = field(default_factory=dict)
    stage_soak_until: dict[str, float] = field(default_factory=dict)
    skipped_groups: dict[str, str] = field(default_factory=dict)  # "stage.group" -> reason
    stop_requested: str | None = None
    status: str = "not-started"
    reason: str = ""
    last_seq: int = 0
    coordinator: str = ""  # the run id of the last coordinator that started

    def cluster(self, name: str) -> ClusterState:
        return self.clusters.setdefault(name, ClusterState())


def state_dir(run_file: Path) -> Path:
    """`run.json` -> `run.fleet/`: the run's journal and each cluster's plan and journal."""
    return run_file.with_name(run_file.stem + ".fleet")


def fold(records: Iterable[Record]) -> FleetState:
    """The run's state: the journal's records (`upgrader.fleet.records`) replayed in order."""
    state = FleetState()
    for record in records:
        state.last_seq = max(state.last_seq, record.seq)
        _apply(state, record)
    return state


def _apply(state: FleetState, r: Record) -> None:
    step = r.step or ""
    if r.phase is Phase.RUN_STARTED:
        if r.data.get("engine") != "argo":  # a run on Argo is read from its Workflow
            _run_started(state, r)
    elif r.phase is Phase.RUN_FINISHED:
        state.status, state.reason = r.outcome, r.detail
    elif r.phase is Phase.REQUESTED:
        _requested(state, r, step)
    elif step.startswith(CLUSTER):
        _cluster(state.cluster(step.removeprefix(CLUSTER)), r)
    elif step.startswith(GATE):
        gate = step.removeprefix(GATE)
        if r.phase is Phase.WAITING and gate not in state.waiting_gates:
            state.waiting_gates.append(gate)
        elif r.phase is Phase.APPROVED:
            comment = r.data.get("comment", "")
            state.approved[gate] = f"approved by {r.data.get('by', '')}" + (
                f": {comment}" if comment else ""
            )
            if gate in state.waiting_gates:
                state.waiting_gates.remove(gate)
    elif step.startswith(STAGE):
        stage = step.removeprefix(STAGE)
        if r.phase is Phase.MEMO and r.data.get("key") == soak_key(step):
            state.stage_soak_until[stage] = float(r.data["value"])
        elif r.phase in (Phase.FINISHED, Phase.FAILED):
            state.stage_outcomes[stage] = r.outcome


def _run_started(state: FleetState, r: Record) -> None:
    state.stop_requested = None
    state.status, state.reason, state.coordinator = "running", "", r.run
    # Only one coordinator runs at a time (its lock): a cluster an earlier one started and
    # never saw end was cut short with it, and resumes from its own journal.
    for cluster in state.clusters.values():
        if cluster.status is ClusterStatus.RUNNING:
            cluster.status = ClusterStatus.STOPPED
            cluster.reason = "the coordinator ended while it ran; resumes from its own journal"


def _cluster(c: ClusterState, r: Record) -> None:
    if r.phase is Phase.STARTED:
        c.status, c.reason, c.started_at = ClusterStatus.RUNNING, "", r.at
        c.attempts += 1
    elif r.phase is Phase.MEMO and r.data.get("key", "").endswith(SOAK_KEY):
        c.soak_until = float(r.data["value"])
    elif r.phase is Phase.APPROVED:
        c.status, c.reason = ClusterStatus.STOPPED, f"its gate approved by {r.data.get('by', '')}"
    elif r.phase in END_PHASES.values():
        c.status, c.reason = ClusterStatus(r.outcome), r.detail
        if c.status is not ClusterStatus.SOAKING:
            c.finished_at = r.at


def _requested(state: FleetState, r: Record, step: str) -> None:
    # Skip and retry take effect when asked (a stopped run waits for them); the coordinator
    # answers each when it takes it in.
    by = r.data.get("by", "")
    if r.outcome == Request.STOP:
        state.stop_requested = by
    elif r.outcome == Request.SKIP and step.startswith(GROUP):
        state.skipped_groups[step.removeprefix(GROUP)] = r.detail
    elif r.outcome == Request.SKIP and step.startswith(CLUSTER):
        c = state.cluster(step.removeprefix(CLUSTER))
        c.status, c.reason = ClusterStatus.SKIPPED, r.detail
    elif r.outcome == Request.RETRY and step.startswith(CLUSTER):
        c = state.cluster(step.removeprefix(CLUSTER))
        c.status, c.reason = ClusterStatus.PENDING, f"retry requested by {by}"
        state.stage_outcomes.pop(r.data.get("stage", ""), None)
