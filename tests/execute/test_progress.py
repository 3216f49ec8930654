"""Progress you can trust on long work: how far each wait is, and a heartbeat every 30 s.

A CI job that prints nothing for minutes is killed (GitLab's and Jenkins's no-output timeouts),
and a person cannot tell stuck from slow; so plain and JSON logs never stay silent longer than
`HEARTBEAT_SECONDS` of the Clock during a wait or a drain, and the drain says nodes drained n/m,
pods evicted, replacements Ready, elapsed and the budget bound.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import re

from rich.console import Console

from tests.execute.worlds import Runner, blue_green, control_plane, hand_plan
from upgrader.execute.engine import RunStatus
from upgrader.execute.progress import HEARTBEAT_SECONDS, Beat, DrainTally, clock_text
from upgrader.execute.reporter import PlainReporter
from upgrader.execute.reporter_json import JsonReporter
from upgrader.execute.reporter_rich import RichReporter
from upgrader.sandbox.world import Sandbox

STAMP = re.compile(r"^\[(\d\d):(\d\d):(\d\d)\] ")


def _plan() -> object:
    steps = [control_plane("1.29", "1.28"), blue_green("general", "general-1-29", "1.29")]
    return hand_plan(steps, target="1.29")


def _seconds(line: str) -> int:
    match = STAMP.match(line)
    assert match, line
    hours, minutes, seconds = (int(g) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_the_plain_log_never_goes_silent_and_says_how_far_a_drain_is(
    world: Sandbox, runner: Runner
) -> None:
    out = io.StringIO()
    result = runner.run(_plan(), reporter=PlainReporter(out, world.clock))  # type: ignore[arg-type]
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    lines = out.getvalue().splitlines()
    times = [_seconds(line) for line in lines]
    assert times[-1] > 600  # a control-plane update and a node group: long work
    # One line at least every heartbeat (the stamp is whole seconds: allow the rounding).
    assert max(b - a for a, b in itertools.pairwise(times)) <= HEARTBEAT_SECONDS + 1
    waits = [line for line in lines if "waiting" in line]
    assert any("EKS update" in line and "InProgress" in line for line in waits)
    assert all(re.search(r"waiting \S+ \(\S+ left\)", line) for line in waits)
    drains = [line for line in lines if "drain:" in line]
    assert drains
    assert any(re.search(r"nodes drained \d+/\d+", line) for line in drains)
    assert any("estimate ~" in line and "budget bound" in line for line in drains)
    assert any(re.search(r"nodes drained (\d+)/\1", line) for line in drains)


def test_json_lines_carry_time_level_run_step_and_a_heartbeat(
    world: Sandbox, runner: Runner
) -> None:
    out = io.StringIO()
    result = runner.run(_plan(), reporter=JsonReporter(out, world.clock))  # type: ignore[arg-type]
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    times = []
    for record in records:
        assert {"time", "level", "run", "step", "event"} <= set(record)
        assert record["level"] in ("info", "warning", "error")
        assert record["run"] == result.run_id
        # RFC 3339 in UTC, as log shippers parse it.
        assert record["time"].endswith("Z")
        times.append(dt.datetime.fromisoformat(record["time"]).timestamp())
    assert max(b - a for a, b in itertools.pairwise(times)) <= HEARTBEAT_SECONDS
    inside = [r for r in records if r["event"] in ("waiting", "drain-progress", "action")]
    assert inside
    assert all(r["step"] for r in inside)
    drain = [r for r in records if r["event"] == "drain-progress"]
    assert drain
    assert {"nodes_total", "nodes_drained", "elapsed", "estimate"} <= set(drain[-1])
    assert records[-1]["event"] == "run-finished"


def test_the_rich_footer_ticks_between_polls(world: Sandbox) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    reporter = RichReporter(console, world.clock)
    reporter.waiting("control plane 1.29: EKS update u-1 is InProgress", 0.0, 3600.0)
    world.clock.sleep(125)
    # No new event: the footer still computes the elapsed time from the clock.
    footer = reporter._wait_text()
    assert footer.startswith("waiting 2m05s (57m55s left)")
    reporter.close()


def test_a_heartbeat_repeats_an_unchanged_line_within_30_clock_seconds() -> None:
    beat = Beat()
    assert beat.due("wait", "a", 0.0)
    assert not beat.due("wait", "a", 19.0)
    assert beat.due("wait", "a", 20.0)  # then waits tick every 10 s: never 30 s of silence
    assert beat.due("wait", "b", 21.0)  # news is always due
    assert not beat.due("wait", "b", 22.0)


def test_a_tally_reads_as_a_person_would_say_it() -> None:
    tally = DrainTally(4, 1, 2, 312.0, 1150.0)
    assert tally.describe() == (
        "nodes drained 1/4, 2 workloads' replacements not Ready, elapsed 5m12s, "
        "estimate ~19m10s (budget bound)"
    )
    assert clock_text(3723) == "1h02m03s"
