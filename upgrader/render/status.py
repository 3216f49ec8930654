"""`eksup status`: where a run stands, read from its journal (pure rendering).

One row per step in plan order: its last outcome, when it started, how long it took, and what it
said; the step still running (or interrupted) is named, an approval gate says whether it waits
for `eksup approve` or who approved it and when, and a mermaid Gantt chart shows the timeline
for a report.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from upgrader.core.run.journal import Phase, Record
from upgrader.execute.steps.gates import approval_text
from upgrader.plan.document import Plan

_END = {Phase.FINISHED, Phase.SKIPPED, Phase.FAILED, Phase.STOPPED, Phase.WAITING}


@dataclass(frozen=True)
class Segment:
    """One run's work on one step: from its `started` to its end (or, for a run that died in
    the step, to that run's last record: the crash is somewhere after it)."""

    run: str
    start: float
    end: float
    outcome: str  # done, already-done, failed, stopped, waiting, or "interrupted"

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class StepStatus:
    step_id: str
    # done, already-done, skipped, failed, stopped, running, not started, waiting for approval,
    # approved (not run since)
    state: str
    started_at: float | None
    seconds: float | None  # working time: the sum of its segments, never the outage between
    detail: str
    run: str = ""  # the run that gave the step its state
    segments: tuple[Segment, ...] = ()


def _segments(records: list[Record]) -> dict[str, list[Segment]]:
    last_of_run: dict[str, float] = {}
    for record in records:
        last_of_run[record.run] = max(last_of_run.get(record.run, record.at), record.at)
    done: dict[str, list[Segment]] = {}
    open_: dict[tuple[str, str], float] = {}  # (step, run) -> start
    for record in records:
        if record.step is None:
            continue
        key = (record.step, record.run)
        if record.phase is Phase.STARTED:
            open_[key] = record.at
        elif record.phase in _END and record.phase is not Phase.SKIPPED and key in open_:
            outcome = record.outcome or record.phase.value
            start = open_.pop(key)
            done.setdefault(record.step, []).append(Segment(record.run, start, record.at, outcome))
    for (step, run), start in open_.items():
        done.setdefault(step, []).append(Segment(run, start, last_of_run[run], "interrupted"))
    for segments in done.values():
        segments.sort(key=lambda s: s.start)
    return done


def step_statuses(plan: Plan, records: list[Record]) -> list[StepStatus]:
    started: dict[str, Record] = {}
    ended: dict[str, Record] = {}
    approved: dict[str, Record] = {}  # approvals no run has acted on yet
    approvals: dict[str, Record] = {}  # the latest approval of each gate, acted on or not
    for record in records:
        if record.step is None:
            continue
        if record.phase is Phase.STARTED:
            started[record.step] = record
            ended.pop(record.step, None)
            approved.pop(record.step, None)
        elif record.phase is Phase.SKIPPED and _finished(ended.get(record.step)):
            # A resumed run skips what an earlier run finished: the earlier run's outcome,
            # time and duration stay the truth, not "skipped" at the resume's time.
            continue
        elif record.phase in _END:
            ended[record.step] = record
            approved.pop(record.step, None)
        elif record.phase is Phase.APPROVED:
            approved[record.step] = record
            approvals[record.step] = record
    segments = _segments(records)
    statuses = []
    for step in plan.steps:
        begin, end, given = started.get(step.id), ended.get(step.id), approved.get(step.id)
        worked = tuple(segments.get(step.id, ()))
        seconds = sum(s.seconds for s in worked) if worked else None
        run = ""
        if given is not None:
            state, detail, seconds = "approved, not run since", approval_text(given), None
        elif end is not None and end.phase is Phase.WAITING:
            state, detail = "waiting for approval", end.detail
        elif end is not None:
            state, detail, run = end.outcome or end.phase.value, end.detail, end.run
            if step.id in approvals and end.phase is Phase.FINISHED:
                detail = approval_text(approvals[step.id])
        elif begin is not None:
            state, detail, run = "running or interrupted", begin.detail, begin.run
        else:
            state, detail = "not started", ""
        first = worked[0].start if worked else (begin.at if begin else None)
        statuses.append(StepStatus(step.id, state, first, seconds, detail, run, worked))
    return statuses


def _finished(record: Record | None) -> bool:
    return record is not None and record.phase is Phase.FINISHED


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
    """One bar per run's work on a step, so a resumed step shows its two parts and the outage
    between them is a gap, never a bar that overlaps the next steps."""
    lines = [
        "```mermaid",
        "gantt",
        f"    title eksup: {plan.cluster} {plan.current_version} -> {plan.target_version}",
        "    dateFormat X",
        "    axisFormat %H:%M",
    ]
    runs: list[str] = []
    for status in statuses:
        for segment in status.segments:
            if segment.run not in runs:
                runs.append(segment.run)
    for status in statuses:
        for segment in status.segments:
            tag = {"failed": "crit, ", "interrupted": "active, "}.get(segment.outcome, "")
            label = status.step_id if len(runs) < 2 else f"{status.step_id} ({segment.run})"
            length = max(1, round(segment.seconds))
            lines.append(f"    {label} : {tag}{int(segment.start)}, {length}s")
    lines.append("```")
    return "\n".join(lines) + "\n"


def clock_text(moment: float | None) -> str:
    if moment is None:
        return ""
    return dt.datetime.fromtimestamp(moment, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
