"""`eksup status`: where a run stands, read from its journal (pure rendering).

One row per step in plan order: its last outcome, when it started, how long it took, and what it
said; the step still running (or interrupted) is named, and a mermaid Gantt chart shows the
timeline for a report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from upgrader.journal import Phase, Record
from upgrader.plan import Plan

_END = {Phase.FINISHED, Phase.SKIPPED, Phase.FAILED, Phase.STOPPED}


@dataclass(frozen=True)
class StepStatus:
    step_id: str
    state: str  # done, already-done, skipped, failed, stopped, running, not started
    started_at: float | None
    seconds: float | None
    detail: str


def step_statuses(plan: Plan, records: list[Record]) -> list[StepStatus]:
    started: dict[str, Record] = {}
    ended: dict[str, Record] = {}
    for record in records:
        if record.step is None:
            continue
        if record.phase is Phase.STARTED:
            started[record.step] = record
            ended.pop(record.step, None)
        elif record.phase in _END:
            ended[record.step] = record
    statuses = []
    for step in plan.steps:
        begin, end = started.get(step.id), ended.get(step.id)
        if end is not None:
            state = end.outcome or end.phase.value
            seconds = end.at - begin.at if begin is not None else None
            detail = end.detail
        elif begin is not None:
            state, seconds, detail = "running or interrupted", None, begin.detail
        else:
            state, seconds, detail = "not started", None, ""
        statuses.append(StepStatus(step.id, state, begin.at if begin else None, seconds, detail))
    return statuses


def run_state(records: list[Record]) -> str:
    if not records:
        return "no run yet"
    last_run = records[-1].run
    finished = [r for r in records if r.run == last_run and r.phase is Phase.RUN_FINISHED]
    if finished:
        return f"run {last_run}: {finished[-1].outcome or 'finished'} {finished[-1].detail}".strip()
    return f"run {last_run}: did not finish (crashed or still running); --resume continues"


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
