"""`eksup status`: where a run stands, read from its journal (pure rendering).

One row per step in plan order: its last outcome, when it started, how long it took, and what it
said; the step still running (or interrupted) is named, an approval gate says whether it waits
for `eksup approve` or who approved it and when, and a mermaid Gantt chart shows the timeline
for a report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from upgrader.journal import Phase, Record
from upgrader.plan import Plan
from upgrader.steps.gates import approval_text

_END = {Phase.FINISHED, Phase.SKIPPED, Phase.FAILED, Phase.STOPPED, Phase.WAITING}


@dataclass(frozen=True)
class StepStatus:
    step_id: str
    # done, already-done, skipped, failed, stopped, running, not started, waiting for approval,
    # approved (not run since)
    state: str
    started_at: float | None
    seconds: float | None
    detail: str


def step_statuses(plan: Plan, records: list[Record]) -> list[StepStatus]:
    started: dict[str, Record] = {}
    ended: dict[str, Record] = {}
    approved: dict[str, Record] = {}  # approvals no run has acted on yet
    for record in records:
        if record.step is None:
            continue
        if record.phase is Phase.STARTED:
            started[record.step] = record
            ended.pop(record.step, None)
            approved.pop(record.step, None)
        elif record.phase in _END:
            ended[record.step] = record
            approved.pop(record.step, None)
        elif record.phase is Phase.APPROVED:
            approved[record.step] = record
    statuses = []
    for step in plan.steps:
        begin, end, given = started.get(step.id), ended.get(step.id), approved.get(step.id)
        seconds = None
        if given is not None:
            state, detail = "approved, not run since", approval_text(given)
        elif end is not None and end.phase is Phase.WAITING:
            state, detail = "waiting for approval", end.detail
        elif end is not None:
            state = end.outcome or end.phase.value
            seconds = end.at - begin.at if begin is not None else None
            detail = end.detail
        elif begin is not None:
            state, detail = "running or interrupted", begin.detail
        else:
            state, detail = "not started", ""
        statuses.append(StepStatus(step.id, state, begin.at if begin else None, seconds, detail))
    return statuses


def run_state(records: list[Record]) -> str:
    """The last run's end, and the approvals given since (`eksup approve` writes records of its
    own run id, which are not runs)."""
    runs = [r.run for r in records if r.phase is Phase.RUN_STARTED]
    if not runs:
        return "no run yet"
    last_run = runs[-1]
    ends = [i for i, r in enumerate(records) if r.run == last_run and r.phase is Phase.RUN_FINISHED]
    if not ends:
        return f"run {last_run}: did not finish (crashed or still running); --resume continues"
    end = records[ends[-1]]
    line = f"run {last_run}: {end.outcome or 'finished'} {end.detail}".strip()
    for record in records[ends[-1] + 1 :]:
        if record.phase is Phase.APPROVED:
            line += f"\n{record.step} {approval_text(record)}; --resume continues"
    return line


def mermaid_gantt(plan: Plan, statuses: list[StepStatus]) -> str:
    lines = [
        "```mermaid",
        "gantt",
        f"    title eksup: {plan.cluster} {plan.current_version} -> {plan.target_version}",
        "    dateFormat X",
        "    axisFormat %H:%M",
    ]
    for status in statuses:
        if status.started_at is None:
            continue
        tag = "crit, " if status.state == "failed" else ""
        length = max(1, round(status.seconds or 1))
        lines.append(f"    {status.step_id} : {tag}{int(status.started_at)}, {length}s")
    lines.append("```")
    return "\n".join(lines) + "\n"


def clock_text(moment: float | None) -> str:
    if moment is None:
        return ""
    return dt.datetime.fromtimestamp(moment, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
