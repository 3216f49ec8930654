"""What an `execute` run returns: its status, each step's outcome, and the exit code they make.

Apart from the engine so that the reporters, which print a result, need not import the engine
that produces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from upgrader.core.exit_codes import ExitCode
from upgrader.core.run.dry_run import IntendedCall
from upgrader.core.run.status import RunStatus, exit_code

__all__ = ["IntendedCall", "RunResult", "StepOutcome", "StepRecord"]


class StepOutcome(StrEnum):
    DONE = "done"
    ALREADY_DONE = "already-done"  # fresh state showed nothing left to do
    SKIPPED = "skipped"  # the journal says an earlier run finished it
    FAILED = "failed"
    STOPPED = "stopped"
    NOT_RUN = "not-run"
    WOULD_FAIL = "would-fail"  # dry run


@dataclass(frozen=True)
class StepRecord:
    step_id: str
    kind: str
    outcome: StepOutcome
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: RunStatus
    steps: tuple[StepRecord, ...]
    dry_run: bool = False
    resume_from: str | None = None  # the step --resume continues with
    error: str | None = None
    blockers: tuple[str, ...] = ()  # dry run: why the real run would stop
    intended_calls: tuple[IntendedCall, ...] = ()  # dry run: the changes it would make
    started_at: float = 0.0
    finished_at: float = 0.0
    waiting_for: str | None = None  # the approval gate the run stopped at
    resume_command: str | None = None  # complete, with the first run's options (consent)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code(self.status)

    @property
    def seconds(self) -> float:
        return self.finished_at - self.started_at

    def summary(self) -> str:
        done = sum(1 for s in self.steps if s.outcome in (StepOutcome.DONE,))
        line = f"run {self.run_id} {self.status.value}: {done} steps done in {self.seconds:.0f}s"
        if self.dry_run:
            line += f", {len(self.intended_calls)} changes it would make"
        if self.blockers:
            line += "; would be blocked by: " + " | ".join(self.blockers)
        if self.error:
            line += f"; {self.error}"
        if self.resume_from and self.waiting_for is None:
            how = f"`{self.resume_command}`" if self.resume_command else "--resume"
            line += f"; continue at {self.resume_from} with {how}"
        return line
