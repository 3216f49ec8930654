"""`--log-format json`: the execution's progress as one JSON object per line, for machines.

Same events as the plain reporter, each with `event`, the clock's time (`at`, seconds since the
epoch) and its fields; waits and drain rounds only when they change, as in the plain log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from upgrader.engine import RunResult
    from upgrader.plan import Plan, Step
    from upgrader.ports import Clock


class JsonReporter:
    def __init__(self, stream: TextIO, clock: Clock) -> None:
        self.stream = stream
        self.clock = clock
        self._last: dict[str, str] = {}

    def _emit(self, event: str, **fields: object) -> None:
        record = {"event": event, "at": self.clock.now(), **fields}
        self.stream.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        self.stream.flush()

    def _changed(self, kind: str, text: str) -> bool:
        if self._last.get(kind) == text:
            return False
        self._last[kind] = text
        return True

    def run_started(self, plan: Plan, run_id: str, *, dry_run: bool, resume: bool) -> None:
        self._emit(
            "run-started",
            run=run_id,
            cluster=plan.cluster,
            current=plan.current_version,
            target=plan.target_version,
            steps=len(plan.steps),
            dry_run=dry_run,
            resume=resume,
        )

    def step_started(self, step: Step, index: int, total: int) -> None:
        self._last.clear()
        self._emit("step-started", step=step.id, kind=step.kind.value, index=index, total=total)

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        self._emit("step-finished", step=step.id, detail=detail, seconds=seconds)

    def step_skipped(self, step: Step, reason: str) -> None:
        self._emit("step-skipped", step=step.id, reason=reason)

    def step_failed(self, step: Step, error: str) -> None:
        self._emit("step-failed", step=step.id, error=error)

    def action(self, description: str, *, dry_run: bool) -> None:
        self._emit("action", description=description, dry_run=dry_run)

    def waiting(self, reason: str, waited: float, remaining: float) -> None:
        if self._changed("wait", reason):
            self._emit("waiting", reason=reason, waited=waited, remaining=remaining)

    def drain_progress(
        self, nodes: int, pods_left: int, evicted: int, waiting: Mapping[str, list[str]]
    ) -> None:
        held = {pdb: len(pods) for pdb, pods in sorted(waiting.items())}
        if self._changed("drain", f"{nodes}/{pods_left}/{evicted}/{held}"):
            self._emit(
                "drain-progress", nodes=nodes, pods_left=pods_left, evicted=evicted, held=held
            )

    def info(self, message: str) -> None:
        self._emit("info", message=message)

    def warning(self, message: str) -> None:
        self._emit("warning", message=message)

    def run_finished(self, result: RunResult) -> None:
        self._emit(
            "run-finished",
            run=result.run_id,
            status=result.status.value,
            exit_code=int(result.exit_code),
            resume_from=result.resume_from,
            error=result.error,
        )


if TYPE_CHECKING:
    from upgrader.reporter import Reporter

    def _implements(reporter: JsonReporter) -> Reporter:
        return reporter
