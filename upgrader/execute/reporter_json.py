"""`--log-format json`: the execution's progress as one JSON object per line, for machines.

Same events as the plain reporter. Every line has `time` (RFC 3339, UTC, from the run's Clock),
`level` (info, warning, error), `run` (the run id), `step` (the current step's id, or null
outside a step) and `event`, then the event's own fields. Waits and drain rounds are written
when they change and, as a heartbeat, at least every `HEARTBEAT_SECONDS` of the clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, TextIO

from upgrader.execute.progress import Beat, DrainTally

if TYPE_CHECKING:
    from upgrader.core.ports import Clock
    from upgrader.execute.run_result import RunResult
    from upgrader.plan.document import Plan, Step


def rfc3339(seconds: float) -> str:
    """`2026-12-06T10:51:13.250Z`: what log shippers (and `jq`'s `fromdate` after a trim) read."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonReporter:
    def __init__(self, stream: TextIO, clock: Clock) -> None:
        self.stream = stream
        self.clock = clock
        self._beat = Beat()
        self._run: str | None = None
        self._step: str | None = None

    def _emit(self, event: str, level: str = "info", **fields: object) -> None:
        record = {
            "time": rfc3339(self.clock.now()),
            "level": level,
            "run": self._run,
            "step": self._step,
            "event": event,
            **fields,
        }
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()

    def run_started(self, plan: Plan, run_id: str, *, dry_run: bool, resume: bool) -> None:
        self._run, self._step = run_id, None
        self._emit(
            "run-started",
            cluster=plan.cluster,
            current=plan.current_version,
            target=plan.target_version,
            steps=len(plan.steps),
            dry_run=dry_run,
            resume=resume,
        )

    def step_started(self, step: Step, index: int, total: int) -> None:
        self._beat.clear()
        self._step = step.id
        self._emit("step-started", kind=step.kind.value, index=index, total=total)

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        self._step = step.id
        self._emit("step-finished", detail=detail, seconds=seconds)

    def step_skipped(self, step: Step, reason: str) -> None:
        self._step = step.id
        self._emit("step-skipped", reason=reason)

    def step_failed(self, step: Step, error: str) -> None:
        self._step = step.id
        self._emit("step-failed", "error", error=error)

    def action(self, description: str, *, dry_run: bool) -> None:
        self._emit("action", description=description, dry_run=dry_run)

    def waiting(self, reason: str, waited: float, remaining: float) -> None:
        if self._beat.due("wait", reason, self.clock.now()):
            self._emit("waiting", reason=reason, waited=round(waited), remaining=round(remaining))

    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: Mapping[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None:
        held = {pdb: len(pods) for pdb, pods in sorted(waiting.items())}
        news = f"{nodes}/{pods_left}/{evicted}/{held}"
        if tally is not None:
            news += f"/{tally.nodes_drained}/{tally.replacements_pending}"
        if self._beat.due("drain", news, self.clock.now()):
            extra = asdict(tally) if tally is not None else {}
            if "held" in extra:  # `held` is the per-budget map; the tally's total is held_pods
                extra["held_pods"] = extra.pop("held")
            self._emit(
                "drain-progress",
                nodes=nodes,
                pods_left=pods_left,
                evicted=evicted,
                held=held,
                **extra,
            )

    def info(self, message: str) -> None:
        self._emit("info", message=message)

    def warning(self, message: str) -> None:
        self._emit("warning", "warning", message=message)

    def run_finished(self, result: RunResult) -> None:
        self._step = None
        self._emit(
            "run-finished",
            {0: "info", 4: "warning"}.get(int(result.exit_code), "error"),
            status=result.status.value,
            exit_code=int(result.exit_code),
            resume_from=result.resume_from,
            error=result.error,
        )


if TYPE_CHECKING:
    from upgrader.execute.reporter import Reporter

    def _implements(reporter: JsonReporter) -> Reporter:
        return reporter
