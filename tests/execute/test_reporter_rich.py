"""The live terminal display: the same log as CI's, plus a footer with steps, waits and drains."""

from __future__ import annotations

import io
import re

from rich.console import Console

from tests.execute.worlds import Runner, blue_green, control_plane, hand_plan
from upgrader.execute.engine import RunStatus
from upgrader.execute.reporter_rich import RichReporter
from upgrader.sandbox.world import Sandbox

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_blue_green_step_shows_its_log_steps_and_drain_budgets(
    world: Sandbox, runner: Runner
) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160, color_system=None)
    reporter = RichReporter(console, world.clock)
    steps = [control_plane("1.29", "1.28"), blue_green("general", "general-1-29", "1.29")]
    plan = hand_plan(steps, target="1.29")
    result = runner.run(plan, reporter=reporter)
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    text = ANSI.sub("", screen.getvalue())
    # The plain log, in order, with the destructive actions before they ran.
    start = text.index("step 2/2 nodegroup-general-1.29")
    create = text.index("-> eks:CreateNodegroup cluster=prod nodegroup=general-1-29", start)
    delete = text.index("-> eks:DeleteNodegroup cluster=prod nodegroup=general", create)
    assert start < create < delete < text.index(result.summary())
    # The footer drew the step bar and the drain with the budgets holding pods back.
    assert "1/2" in text
    assert re.search(r"drain: \d+ nodes, \d+ pods left, \d+ evicted", text)
    assert "PodDisruptionBudget" in text
    # Closed at the end: a second close is harmless, and nothing is drawn after it.
    reporter.close()
    assert not reporter._live.is_started


def test_a_suspended_footer_comes_back_with_the_next_event(world: Sandbox) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    reporter = RichReporter(console, world.clock)
    plan = hand_plan([blue_green("general", "general-1-29", "1.29")], target="1.29")
    reporter.run_started(plan, "r-1", dry_run=True, resume=False)
    assert reporter._live.is_started
    reporter.suspend()
    assert not reporter._live.is_started
    reporter.waiting("node group general-1-29 ACTIVE", 10.0, 590.0)
    assert reporter._live.is_started
    reporter.close()
    reporter.waiting("after the end", 1.0, 1.0)
    assert not reporter._live.is_started
