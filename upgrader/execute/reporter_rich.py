"""A live display of an execution, for a person at a terminal.

The log above the display is the plain reporter's, word for word: what a CI log shows is what
a terminal scrolls, and destructive actions are still printed before they run. Below it, a
footer redrawn in place shows what only matters now: the step bar, the current wait with its
deadline, and during a drain the nodes, pods left, evictions and which budget holds which pods.
Elapsed times come from the run's Clock, so the sandbox shows virtual time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from upgrader.execute.progress import DrainTally, clock_text
from upgrader.execute.reporter import PlainReporter

if TYPE_CHECKING:
    from upgrader.core.ports import Clock
    from upgrader.execute.run_result import RunResult
    from upgrader.plan.document import Plan, Step

# Budgets shown in the drain table; the rest are counted in one line.
PDB_ROWS = 6


class _ConsoleStream:
    """A text stream that prints through the console, so lines land above the live footer."""

    def __init__(self, console: Console) -> None:
        self._console = console

    def write(self, text: str) -> int:
        self._console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        """Each print is already flushed by the console."""


class RichReporter:
    def __init__(self, console: Console, clock: Clock | None = None) -> None:
        self._console = console
        self._log = PlainReporter(_ConsoleStream(console), clock)
        get_time = clock.now if clock is not None else None
        self._steps = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            get_time=get_time,
        )
        self._task = self._steps.add_task("steps", total=None)
        self._clock = clock
        self._wait = ""
        # The wait's reason, its start and deadline on the clock: the footer computes the
        # elapsed and remaining time at each refresh, so it ticks between polls.
        self._wait_span: tuple[str, float, float] | None = None
        self._drain: RenderableType | None = None
        self._live = Live(self, console=console, transient=True, auto_refresh=console.is_terminal)
        self._running = False

    def __rich__(self) -> RenderableType:
        parts: list[RenderableType] = [self._steps]
        wait = self._wait_text()
        if wait:
            parts.append(Text(wait, style="yellow"))
        if self._drain is not None:
            parts.append(self._drain)
        return Group(*parts)

    def _wait_text(self) -> str:
        if self._wait_span is None or self._clock is None:
            return self._wait
        reason, started, deadline = self._wait_span
        now = self._clock.now()
        return (
            f"waiting {clock_text(now - started)} ({clock_text(max(0.0, deadline - now))} left):"
            f" {reason}"
        )

    def _redraw(self) -> None:
        if not self._running:
            return
        if not self._live.is_started:
            self._live.start()
        self._live.refresh()

    def suspend(self) -> None:
        """Take the footer off the screen, e.g. while a question is asked; the next event
        draws it again."""
        if self._live.is_started:
            self._live.stop()

    def close(self) -> None:
        """Stop the footer for good (idempotent): also when a run ends in an exception."""
        self._running = False
        self.suspend()

    # -------------------------------------------------------------------- the Reporter port

    def run_started(self, plan: Plan, run_id: str, *, dry_run: bool, resume: bool) -> None:
        self._log.run_started(plan, run_id, dry_run=dry_run, resume=resume)
        self._steps.update(self._task, total=len(plan.steps), completed=0)
        self._running = True
        self._redraw()

    def step_started(self, step: Step, index: int, total: int) -> None:
        self._log.step_started(step, index, total)
        self._wait, self._wait_span, self._drain = "", None, None
        self._steps.update(self._task, description=f"step {index}/{total} {step.id}")
        self._redraw()

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        self._log.step_finished(step, detail, seconds)
        self._advance()

    def step_skipped(self, step: Step, reason: str) -> None:
        self._log.step_skipped(step, reason)
        self._advance()

    def step_failed(self, step: Step, error: str) -> None:
        self._log.step_failed(step, error)
        self._wait, self._wait_span, self._drain = "", None, None
        self._redraw()

    def action(self, description: str, *, dry_run: bool) -> None:
        self._log.action(description, dry_run=dry_run)

    def waiting(self, reason: str, waited: float, remaining: float) -> None:
        self._wait = f"waiting {clock_text(waited)} ({clock_text(remaining)} left): {reason}"
        if self._clock is not None:
            now = self._clock.now()
            self._wait_span = (reason, now - waited, now + remaining)
        self._redraw()

    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: Mapping[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None:
        how_far = f"; {tally.describe()}" if tally is not None else ""
        table = Table(
            title=f"drain: {nodes} nodes, {pods_left} pods left, {evicted} evicted{how_far}",
            title_justify="left",
            show_edge=False,
        )
        table.add_column("PodDisruptionBudget")
        table.add_column("holding", justify="right")
        table.add_column("pods")
        held = sorted(waiting.items(), key=lambda item: (-len(item[1]), item[0]))
        for pdb, pods in held[:PDB_ROWS]:
            shown = ", ".join(pods[:3]) + (f" +{len(pods) - 3}" if len(pods) > 3 else "")
            table.add_row(pdb, str(len(pods)), shown)
        if len(held) > PDB_ROWS:
            table.add_row(f"... {len(held) - PDB_ROWS} more budgets", "", "")
        self._drain = table
        self._redraw()

    def info(self, message: str) -> None:
        self._log.info(message)

    def warning(self, message: str) -> None:
        self._log.warning(message)

    def run_finished(self, result: RunResult) -> None:
        self.close()
        self._log.run_finished(result)

    def _advance(self) -> None:
        self._wait, self._wait_span, self._drain = "", None, None
        self._steps.advance(self._task)
        self._redraw()
