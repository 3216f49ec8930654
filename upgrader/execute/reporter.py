"""Progress of an execution, told as it happens: the `Reporter` port and a plain-text reporter.

The engine and the steps never print. They tell a `Reporter` what starts, finishes, waits and
is about to change, and the reporter decides how that looks: plain lines on a stream here (CI
logs, a pipe, tests), a rich live display in the CLI. Destructive actions are told before they
run, so a log cut short by a crash still says what was being done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from upgrader.execute.progress import Beat, DrainTally, clock_text

if TYPE_CHECKING:
    from upgrader.core.ports import Clock
    from upgrader.execute.run_result import RunResult
    from upgrader.plan.document import Plan, Step


class Reporter(Protocol):
    """What an execution tells the person (or pipeline) watching it."""

    def run_started(self, plan: Plan, run_id: str, *, dry_run: bool, resume: bool) -> None: ...

    def step_started(self, step: Step, index: int, total: int) -> None:
        """`index` counts from 1."""
        ...

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        """The step did its work (or found it done and did nothing: see `detail`)."""
        ...

    def step_skipped(self, step: Step, reason: str) -> None:
        """Not run at all: the journal says an earlier run finished it."""
        ...

    def step_failed(self, step: Step, error: str) -> None: ...

    def action(self, description: str, *, dry_run: bool) -> None:
        """A change about to be made (or, in a dry run, that would be made), before it runs."""
        ...

    def waiting(self, reason: str, waited: float, remaining: float) -> None:
        """Called on every poll of a wait, and between polls at least every
        `progress.HEARTBEAT_SECONDS`; `reason` says how far it is and may change."""
        ...

    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: Mapping[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None:
        """Each drain round: nodes draining, evictable pods left, evicted so far, the pods
        each PodDisruptionBudget is holding back, and how far the drain is (`tally`)."""
        ...

    def info(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...


class TextSink(Protocol):
    """Where plain lines go: a text stream, or anything that writes like one."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class PlainReporter:
    """One line per event on `stream`, prefixed with the time since the run started.

    Waits and drain rounds are polled every few seconds; a line is written when their text
    changes, and again after `HEARTBEAT_SECONDS` of the clock without one, so a CI log shows
    each state once and yet never falls silent during a long wait.
    """

    def __init__(self, stream: TextSink, clock: Clock | None = None) -> None:
        self.stream = stream
        self.clock = clock
        self._started: float | None = None
        self._beat = Beat()

    def _line(self, text: str) -> None:
        stamp = ""
        if self.clock is not None:
            now = self.clock.now()
            if self._started is None:
                self._started = now
            elapsed = int(now - self._started)
            stamp = f"[{elapsed // 3600:02d}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}] "
        self.stream.write(f"{stamp}{text}\n")
        self.stream.flush()

    def run_started(self, plan: Plan, run_id: str, *, dry_run: bool, resume: bool) -> None:
        mode = " (dry run: nothing is changed)" if dry_run else ""
        how = "resuming" if resume else "starting"
        self._line(
            f"{how} run {run_id} on {plan.cluster}: {plan.current_version} -> "
            f"{plan.target_version}, {len(plan.steps)} steps{mode}"
        )

    def step_started(self, step: Step, index: int, total: int) -> None:
        self._beat.clear()
        self._line(f"step {index}/{total} {step.id}: {step.title or step.description}")

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        self._line(f"  done {step.id} in {seconds:.0f}s" + (f": {detail}" if detail else ""))

    def step_skipped(self, step: Step, reason: str) -> None:
        self._line(f"skip {step.id}: {reason}")

    def step_failed(self, step: Step, error: str) -> None:
        self._line(f"  FAILED {step.id}: {error}")

    def action(self, description: str, *, dry_run: bool) -> None:
        self._line(f"  {'would' if dry_run else '->'} {description}")

    def _now(self) -> float | None:
        return self.clock.now() if self.clock is not None else None

    def waiting(self, reason: str, waited: float, remaining: float) -> None:
        if self._beat.due("wait", reason, self._now()):
            self._line(f"  waiting {clock_text(waited)} ({clock_text(remaining)} left): {reason}")

    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: Mapping[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None:
        held = "; ".join(f"PDB {pdb} holds {len(pods)}" for pdb, pods in sorted(waiting.items()))
        text = f"  drain: {nodes} nodes, {pods_left} pods left, {evicted} evicted"
        text += f" ({held})" if held else ""
        # The elapsed time changes every round: only the counts decide what is news.
        news = text
        if tally is not None:
            news += f" {tally.nodes_drained} {tally.replacements_pending}"
        if self._beat.due("drain", news, self._now()):
            self._line(text + (f"; {tally.describe()}" if tally is not None else ""))

    def info(self, message: str) -> None:
        self._line(f"  {message}")

    def warning(self, message: str) -> None:
        self._line(f"  WARNING: {message}")

    def run_finished(self, result: RunResult) -> None:
        self._line(result.summary())


class NullReporter:
    """Says nothing; for callers that only want the `RunResult`."""

    def run_started(self, plan: Plan, run_id: str, *, dry_run: bool, resume: bool) -> None:
        del plan, run_id, dry_run, resume

    def step_started(self, step: Step, index: int, total: int) -> None:
        del step, index, total

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        del step, detail, seconds

    def step_skipped(self, step: Step, reason: str) -> None:
        del step, reason

    def step_failed(self, step: Step, error: str) -> None:
        del step, error

    def action(self, description: str, *, dry_run: bool) -> None:
        del description, dry_run

    def waiting(self, reason: str, waited: float, remaining: float) -> None:
        del reason, waited, remaining

    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: Mapping[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None:
        del nodes, pods_left, evicted, waiting, tally

    def info(self, message: str) -> None:
        del message

    def warning(self, message: str) -> None:
        del message

    def run_finished(self, result: RunResult) -> None:
        del result
