"""EKS waits say what they expect: a typical duration, then this run's own.

A control-plane update line that reads "InProgress" for nine minutes says nothing about whether
it is stuck; with "estimate ~10m00s (typical control-plane)" it does, and the second hop of the
same run is judged by the first one's measured duration. Node group updates are estimated per
batch of `maxUnavailable` nodes. Every output format carries it (it is part of the wait's
reason, which the plain, JSON and rich reporters all print).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from tests.execute.worlds import Runner, addons, build_world, control_plane, hand_plan, in_place
from upgrader.execute.eks_estimate import TYPICAL_SECONDS, UpdateKind, batches, estimate
from upgrader.execute.engine import RunStatus
from upgrader.execute.reporter import PlainReporter
from upgrader.execute.reporter_json import JsonReporter
from upgrader.execute.reporter_rich import RichReporter
from upgrader.plan.document import Plan
from upgrader.sandbox.world import Sandbox


def test_an_estimate_is_typical_until_the_run_has_seen_one() -> None:
    typical = estimate(UpdateKind.CONTROL_PLANE)
    assert (typical.seconds, typical.from_run) == (TYPICAL_SECONDS[UpdateKind.CONTROL_PLANE], False)
    assert typical.text() == "estimate ~10m00s (typical control-plane)"
    seen = estimate(UpdateKind.CONTROL_PLANE, recorded="545")
    assert seen.text() == "estimate ~9m05s (this run's last control-plane)"
    # Node groups: per batch, so a 5-node group replaced 2 at a time takes 3 batches.
    assert batches(5, 2) == 3
    assert batches(0, 1) == 1
    assert estimate(UpdateKind.NODEGROUP, 3, recorded="200").seconds == 600
    # A memo that is no duration falls back to the typical figure.
    for junk in ("", "x", "-3", "nan", "inf"):
        assert not estimate(UpdateKind.ADDON, recorded=junk).from_run


@pytest.fixture
def small_world() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        build_world(sandbox, general=2, batch=0, autoscaler=False)
        yield sandbox


def _two_hops() -> Plan:
    return hand_plan(
        [
            control_plane("1.29", "1.28"),
            addons("1.29"),
            in_place("general", "1.29"),
            control_plane("1.30", "1.29"),
        ]
    )


def _first(lines: list[str], pattern: str) -> str:
    found = [line for line in lines if re.search(pattern, line)]
    assert found, pattern
    return found[0]


def test_every_eks_wait_of_a_plain_run_carries_an_estimate(
    small_world: Sandbox, tmp_path: Path
) -> None:
    out = io.StringIO()
    runner = Runner(small_world, tmp_path)
    result = runner.run(_two_hops(), reporter=PlainReporter(out, small_world.clock))
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    waits = [line for line in out.getvalue().splitlines() if "EKS update" in line]
    assert waits
    assert all("; estimate ~" in line for line in waits), waits
    first = _first(waits, r"control plane \S+ -> 1\.29")
    assert first.endswith("estimate ~10m00s (typical control-plane)"), first
    # The second hop is judged by the first: the sandbox's EKS takes 9 minutes (540 s), read
    # by polls that back off to a minute, so this run measured 9-10 minutes.
    second = _first(waits, r"control plane \S+ -> 1\.30")
    measured = re.search(r"estimate ~(\d+)m(\d\d)s \(this run's last control-plane\)$", second)
    assert measured, second
    assert 540 <= int(measured[1]) * 60 + int(measured[2]) <= 600
    # 2 nodes, replaced 1 at a time: two typical batches.
    group = _first(waits, r"node group general -> 1\.29")
    assert group.endswith("estimate ~10m00s (typical node-group)"), group
    addon = _first(waits, r"add-on ")
    assert "(typical add-on)" in addon or "(this run's last add-on)" in addon


def test_json_and_rich_carry_the_estimate_too(small_world: Sandbox, tmp_path: Path) -> None:
    out = io.StringIO()
    runner = Runner(small_world, tmp_path)
    plan = hand_plan([control_plane("1.29", "1.28")], target="1.29")
    result = runner.run(plan, reporter=JsonReporter(out, small_world.clock))
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    waits = [r for r in records if r["event"] == "waiting" and "EKS update" in r["reason"]]
    assert waits
    assert all(r["reason"].endswith("estimate ~10m00s (typical control-plane)") for r in waits)

    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    reporter = RichReporter(console, small_world.clock)
    reporter.waiting(waits[0]["reason"], 0.0, 3600.0)
    small_world.clock.sleep(65)
    assert reporter._wait_text().startswith("waiting 1m05s (58m55s left)")
    assert reporter._wait_text().endswith("estimate ~10m00s (typical control-plane)")
    reporter.close()
