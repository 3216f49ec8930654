"""The fleet run's journal: one JSON line per event, beside run.json, appended and never edited.

The coordinator (`eksup fleet run`/`resume`) appends what happens; `eksup fleet stop|approve|
skip|retry` append requests from any terminal, which the coordinator reads on its next poll.
The state of the run is a fold over the lines, so a run that died is resumed from exactly what
was recorded: a cluster that finished is never run again, one that was in flight resumes from
its own journal (`eksup execute --resume` semantics).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from upgrader.core.errors import UserError


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

    def cluster(self, name: str) -> ClusterState:
        return self.clusters.setdefault(name, ClusterState())


def state_dir(run_file: Path) -> Path:
    """`run.json` -> `run.fleet/`: the run's journal and each cluster's plan and journal."""
    return run_file.with_name(run_file.stem + ".fleet")


class FleetJournal:
    def __init__(self, run_file: Path) -> None:
        self.directory = state_dir(run_file)
        self.path = self.directory / "journal.jsonl"

    def records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise UserError(f"{self.path}: cannot read the fleet journal: {error}") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                if number == len(lines):
                    break  # a line cut short by a crash: the event did not happen
                raise UserError(f"{self.path}:{number}: not valid JSON") from None
        return records

    def append(self, at: float, kind: str, **data: Any) -> None:
        seq = (self.records()[-1]["seq"] + 1) if self.path.exists() and self.records() else 1
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"seq": seq, "at": at, "kind": kind, **data}, sort_keys=True)
        # One write of one line with O_APPEND: requests from other terminals interleave whole.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def state(self) -> FleetState:
        return fold(self.records())


def fold(records: list[dict[str, Any]]) -> FleetState:
    state = FleetState()
    for r in records:
        kind = r["kind"]
        state.last_seq = r["seq"]
        if kind == "cluster-started":
            c = state.cluster(r["cluster"])
            c.status, c.reason, c.started_at = ClusterStatus.RUNNING, "", r["at"]
            c.attempts += 1
        elif kind == "cluster-soaking":
            c = state.cluster(r["cluster"])
            c.status, c.soak_until = ClusterStatus.SOAKING, r["until"]
            c.reason = r.get("reason", "")
        elif kind == "cluster-finished":
            c = state.cluster(r["cluster"])
            c.status, c.reason, c.finished_at = ClusterStatus(r["outcome"]), r["detail"], r["at"]
        elif kind == "cluster-approved":
            c = state.cluster(r["cluster"])
            c.status, c.reason = ClusterStatus.STOPPED, f"its gate approved by {r['by']}"
        elif kind == "cluster-skipped":
            c = state.cluster(r["cluster"])
            c.status, c.reason = ClusterStatus.SKIPPED, r["reason"]
        elif kind == "group-skipped":
            state.skipped_groups[f"{r['stage']}.{r['group']}"] = r["reason"]
        elif kind == "cluster-retry":
            c = state.cluster(r["cluster"])
            c.status, c.reason = ClusterStatus.PENDING, f"retry requested by {r['by']}"
            state.stage_outcomes.pop(r["stage"], None)
        elif kind == "gate-waiting":
            if r["gate"] not in state.waiting_gates:
                state.waiting_gates.append(r["gate"])
        elif kind == "gate-approved":
            state.approved[r["gate"]] = f"approved by {r['by']}" + (
                f": {r['comment']}" if r.get("comment") else ""
            )
            if r["gate"] in state.waiting_gates:
                state.waiting_gates.remove(r["gate"])
        elif kind == "stage-soak":
            state.stage_soak_until[r["stage"]] = r["until"]
        elif kind == "stage-finished":
            state.stage_outcomes[r["stage"]] = r["outcome"]
        elif kind == "stop-requested":
            state.stop_requested = r["by"]
        elif kind == "run-started":
            state.stop_requested = None
            state.status, state.reason = "running", ""
        elif kind == "run-finished":
            state.status, state.reason = r["status"], r["reason"]
    return state
