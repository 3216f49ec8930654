"""`eksup status` tells the truth after a crash and a resume, from this machine or another.

Run A is killed in the middle of the node-group step (as by SIGKILL: the journal just stops),
an hour passes, run B resumes. Status must say that A did the control plane and B the node
group, count durations without the hour, draw a Gantt whose bars never overlap, read the
cluster's mirror when the local file is gone or behind, and write an HTML report that needs
nothing from the network.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from tests.execute.worlds import (
    CLUSTER,
    Crash,
    CrashingReporter,
    Runner,
    blue_green,
    control_plane,
    hand_plan,
)
from upgrader.core.errors import EksupError
from upgrader.core.run.journal import ConfigMapMirror, Phase, Record, mirror_name, parse_records
from upgrader.execute.engine import RunStatus
from upgrader.plan.document import Plan
from upgrader.render.status import mermaid_gantt, step_statuses
from upgrader.render.status_html import render_html
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.status_source import status_records

OUTAGE = 3600.0


def _plan() -> Plan:
    steps = [control_plane("1.29", "1.28"), blue_green("general", "general-1-29", "1.29")]
    return hand_plan(steps, target="1.29")


def _crash_and_resume(world: Sandbox, runner: Runner) -> tuple[Plan, str, str, list[Record]]:
    plan = _plan()
    with pytest.raises(Crash):
        runner.run(plan, reporter=CrashingReporter(runner, ("action", "eks:DeleteNodegroup")))
    crashed = parse_records(runner.journal_path.read_text(), "journal")
    run_a = next(r.run for r in crashed if r.phase is Phase.RUN_STARTED)
    world.clock.sleep(OUTAGE)
    result = runner.run(plan, resume=True)
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    records = parse_records(runner.journal_path.read_text(), "journal")
    return plan, run_a, result.run_id, records


def test_status_names_the_run_behind_each_step_and_leaves_the_outage_out(
    world: Sandbox, runner: Runner
) -> None:
    plan, run_a, run_b, records = _crash_and_resume(world, runner)
    cp, ng = step_statuses(plan, records)
    # The control plane was finished by A: B skipped it, and that is no new outcome.
    assert (cp.state, cp.run) == ("done", run_a)
    assert cp.seconds is not None
    assert cp.seconds < 1200
    # The node group: A's part (interrupted) and B's part, the hour between them not counted.
    assert (ng.state, ng.run) == ("done", run_b)
    assert [s.run for s in ng.segments] == [run_a, run_b]
    assert ng.segments[0].outcome == "interrupted"
    wall = ng.segments[-1].end - ng.segments[0].start
    assert ng.seconds is not None
    assert ng.seconds < wall - OUTAGE + 1


def test_the_gantt_bars_never_overlap(world: Sandbox, runner: Runner) -> None:
    plan, _, _, records = _crash_and_resume(world, runner)
    chart = mermaid_gantt(plan, step_statuses(plan, records))
    bars = sorted(
        (int(start), int(length))
        for start, length in re.findall(r" : (?:\w+, )?(\d+), (\d+)s$", chart, re.MULTILINE)
    )
    assert len(bars) == 3  # control plane (A), node group (A, interrupted), node group (B)
    for (start, length), (next_start, _) in itertools.pairwise(bars):
        assert start + length <= next_start + 1


def test_status_reads_the_cluster_mirror_when_the_local_file_is_absent_or_behind(
    world: Sandbox, runner: Runner, tmp_path: Path
) -> None:
    plan, _, run_b, records = _crash_and_resume(world, runner)
    mirror = ConfigMapMirror(world.kube(CLUSTER), CLUSTER, lambda _: None)
    name = mirror_name(CLUSTER)

    # A colleague with no local file sees the run.
    found = status_records(tmp_path / "none.journal.jsonl", name, mirror.read)
    assert found.source == f"configmap kube-system/{name}"
    assert step_statuses(plan, found.records)[1].run == run_b

    # This machine's file stopped at the crash; the cluster's copy has the resume.
    behind = tmp_path / "plan.journal.jsonl"
    behind.write_text("".join(r.to_json() + "\n" for r in records if r.run != run_b))
    found = status_records(behind, name, mirror.read)
    assert "newer: configmap" in found.source
    assert [s.state for s in step_statuses(plan, found.records)] == ["done", "done"]

    # A cluster that cannot be read: the local file, and why.
    def unreachable() -> list[Record]:
        raise EksupError("connection refused")

    found = status_records(behind, name, unreachable)
    assert "connection refused" in found.note
    assert found.records == parse_records(behind.read_text(), "x")


def test_the_html_report_is_one_self_contained_page(world: Sandbox, runner: Runner) -> None:
    plan, _, _, records = _crash_and_resume(world, runner)
    page = render_html(plan, step_statuses(plan, records), records)
    assert page.startswith("<!DOCTYPE html>")
    # Nothing fetched from elsewhere: no script, no linked stylesheet, image or font.
    assert "<script" not in page
    assert not re.search(r"(src|href)=", page)
    assert "@import" not in page
    assert page.count("<svg") >= 4  # the timeline and the drain's three charts
    assert "nodegroup-general-1.29" in page
    assert "Budget headroom" in page
    assert "pods left" in page
    samples = [r for r in records if r.phase is Phase.PROGRESS]
    assert len(samples) >= 2
    assert {"nodes", "drained", "pods_left", "evicted", "headroom", "held"} <= set(samples[0].data)
