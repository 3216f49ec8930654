"""The `eksup execute` use case: wire a target's ports into the engine and run a plan.

Ctrl-C is turned into a request to stop between steps (the engine polls it), so a person can
interrupt a long upgrade without leaving a step half done; a second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from upgrader.core.run.journal import journal_path_for
from upgrader.execute.engine import RunResult, execute
from upgrader.execute.reporter import PlainReporter, Reporter
from upgrader.execute.reporter_json import JsonReporter
from upgrader.execute.reporter_rich import RichReporter
from upgrader.execute.steps.base import ExecuteOptions
from upgrader.plan.checks.config import Config
from upgrader.plan.document import Plan
from upgrader.render.console import make_console
from upgrader.usecases.admission import admit
from upgrader.usecases.fresh_checks import fresh_checks
from upgrader.usecases.targets import Target, engine_ports


class StopRequest:
    """Set by the first SIGINT; the second one raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("eksup: stopping after the current step (Ctrl-C again to stop now)", file=sys.stderr)


def run_plan(
    plan: Plan,
    plan_file: Path,
    target: Target,
    options: ExecuteOptions,
    *,
    confirm: Callable[[str], bool],
    log_format: str = "plain",
    config: Config | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Prove the plan and the target (`upgrader.usecases.admission`), then run it with the
    checks re-read from the cluster (`upgrader.usecases.fresh_checks`), never trusting the
    stored verdict. `reporter` replaces the terminal's (a fleet dry run prefixes each line with
    its cluster)."""
    settings = config or Config()
    admit(plan, plan_file, target, settings)
    checks = fresh_checks(plan, target, settings)
    ports = engine_ports(target)
    live: RichReporter | None = None
    if reporter is None:
        if log_format == "json":
            reporter = JsonReporter(sys.stderr, target.clock)
        elif sys.stderr.isatty():
            reporter = live = RichReporter(make_console(stderr=True), target.clock)
        else:
            reporter = PlainReporter(sys.stderr, target.clock)

    def ask(question: str) -> bool:
        if live is not None:
            live.suspend()  # a prompt under a redrawn footer would be overwritten
        return confirm(question)

    stop = StopRequest()
    previous = signal.signal(signal.SIGINT, stop.handle)
    try:
        return execute(
            plan,
            ports,
            journal_path=journal_path_for(plan_file),
            options=options,
            reporter=reporter,
            confirm=ask,
            should_stop=stop,
            checks=checks,
            plan_file=str(plan_file),
        )
    finally:
        if live is not None:
            live.close()
        signal.signal(signal.SIGINT, previous)
