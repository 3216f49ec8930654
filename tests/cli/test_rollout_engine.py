"""Every rollout strategy on the one run engine, through the CLI: `--dry-run` writes nothing
(no journal, no ConfigMap, no Lease, no change), `run` journals each step to the local file and
to the ConfigMap copy (the same records), a Ctrl-C leaves the journal paused (exit 4), and the
next `run` resumes from it (rolling and recreate from stable's replica count journaled at the
start: the half-done Deployments no longer say it).

Canary, blue/green, A/B, rolling and recreate run on one moto ALB and a FakeCluster with both
Deployments (tests/cli/test_rollout_command.py's world); shadow on a FakeCluster's Gateway API
HTTPRoute (tests/strategies/test_shadow.py's)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strategies.ports import RolloutPorts
from strategies.run.journal import (
    JOURNAL_DIR_ENV,
    Actor,
    Request,
    RolloutJournal,
    journal_file,
)
from tests.cli.test_rollout_command import NAMESPACE, Shared, _world, shared
from tests.strategies.test_shadow import gateway_cluster
from upgrader.cli import app
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import Lease, WorkloadKind
from upgrader.core.run.journal import Phase, Record, parse_records
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

__all__ = ["shared"]  # the module-scoped moto world, shared with the rollout command tests

CANARY = "{kind: canary, steps: [10, 50, 100], pause_seconds: 60, scale_down_delay_seconds: 300}"
BLUE_GREEN = "{kind: blue-green, pause_seconds: 60, scale_down_delay_seconds: 300}"
AB = "{kind: ab, header: x-beta, values: ['1'], pause_seconds: 120}"
ROLLING = "{kind: rolling, max_surge: 1, max_unavailable: 0, pause_seconds: 60}"
RECREATE = "{kind: recreate, pause_seconds: 60}"
SHADOW = "{kind: shadow, mirror_percent: 50, pause_seconds: 120}"


@dataclass
class Case:
    spec: Path
    ports: RolloutPorts
    kube: FakeCluster
    clock: VirtualClock

    def run(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(
            app,
            ["rollout", *args, str(self.spec)],
            env={"COLUMNS": "250"},
            obj=self.ports,
        )
        return result.exit_code, result.stdout, result.stderr

    def mirrored(self) -> list[Record]:
        text = self.kube.get_config_map(NAMESPACE, "eksup-rollout-web").data["journal.jsonl"]
        return parse_records(text, "configmap")

    def local(self) -> list[Record]:
        return parse_records(journal_file(NAMESPACE, "web").read_text(), "file")

    def writes(self) -> list[str]:
        """Every write the FakeCluster saw (a dry run must make none)."""
        reads = ("get", "list")
        return [f"{a.verb} {a.resource}" for a in self.kube.actions if a.verb not in reads]


def _alb_case(shared: Shared, tmp_path: Path, strategy: str, pods: bool) -> Case:
    world = _world(shared, tmp_path, strategy)
    if pods:
        # Rolling and recreate move pods, not traffic: no router, the candidate starts empty.
        world.kube.scale_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-candidate", 0)
        world.sandbox.settle(60)
        world.spec.write_text(
            f"app: {{name: web, namespace: {NAMESPACE}, stable: {{deployment: web-stable}},"
            " candidate: {deployment: web-candidate}}\n"
            f"strategy: {strategy}\n"
            "gates: [{kind: pod-readiness, interval_seconds: 10}]\n"
        )
        world.kube.clear_actions()
    return Case(world.spec, world.ports(), world.kube, world.sandbox.clock)


def _shadow_case(shared: Shared, tmp_path: Path) -> Case:
    clock = shared.sandbox.clock
    kube = gateway_cluster(clock)
    spec = tmp_path / "shadow.yaml"
    spec.write_text(
        f"app: {{name: web, namespace: {NAMESPACE}}}\n"
        f"strategy: {SHADOW}\n"
        "traffic: {provider: gateway-api, route: web,"
        " stable_backend: {service: web-stable, port: 80},"
        " candidate_backend: {service: web-candidate, port: 80}}\n"
    )
    aws = shared.sandbox.aws
    return Case(spec, RolloutPorts(aws, aws, aws, clock, kube), kube, clock)


CASES: dict[str, Callable[[Shared, Path], Case]] = {
    "canary": lambda s, p: _alb_case(s, p, CANARY, pods=False),
    "blue-green": lambda s, p: _alb_case(s, p, BLUE_GREEN, pods=False),
    "ab": lambda s, p: _alb_case(s, p, AB, pods=False),
    "rolling": lambda s, p: _alb_case(s, p, ROLLING, pods=True),
    "recreate": lambda s, p: _alb_case(s, p, RECREATE, pods=True),
    "shadow": _shadow_case,
}
# Where a Ctrl-C lands (virtual seconds after the run starts): inside a pause, after a step.
INTERRUPT_AT = {
    "canary": 90,
    "blue-green": 30,
    "ab": 60,
    "rolling": 100,
    "recreate": 50,
    "shadow": 60,
}
PODS = {"rolling", "recreate"}  # their batches are sized from stable's count at the start
# What `rollout status` reads live, per strategy, besides the journal's state.
LIVE = {
    "canary": "live weights: stable ",
    "blue-green": "live weights: stable ",
    "ab": "header route: ",
    "shadow": "mirror route: ",
    "rolling": "stable Deployment shop/web-stable: ",
    "recreate": "stable Deployment shop/web-stable: ",
}


def _ctrl_c() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize("name", list(CASES))
def test_dry_run_journal_interrupt_and_resume(shared: Shared, tmp_path: Path, name: str) -> None:
    case = CASES[name](shared, tmp_path)
    case.kube.clear_actions()
    assert os.environ[JOURNAL_DIR_ENV]  # each test its own journal folder (tests/conftest.py)

    # --dry-run: reads only; no journal anywhere, nothing written to the cluster.
    code, stdout, stderr = case.run("run", "--dry-run")
    assert code == 0, stdout + stderr
    # The run's own step loop on dry-run ports: the changes it would make, recorded in order,
    # and how it would end.
    calls = [line for line in stdout.splitlines() if line.startswith("    would call ")]
    assert calls, stdout
    assert f"dry run: {len(calls)} changes it would make over " in stdout
    assert stdout.endswith("; nothing was changed\n")
    assert "a run would end: web: " in stdout
    assert "succeeded" in stdout.split("a run would end: ")[1].splitlines()[0]
    assert case.writes() == []
    assert not journal_file(NAMESPACE, "web").exists()

    # A run stopped by Ctrl-C: exit 4; the journal, in the file and in its copy, says where.
    case.clock.call_later(INTERRUPT_AT[name], _ctrl_c)
    code, stdout, stderr = case.run("run", "--yes")
    assert code == 4, stdout + stderr
    local, mirrored = case.local(), case.mirrored()
    assert local == mirrored
    assert local[0].phase is Phase.RUN_STARTED
    assert local[0].data["command"] == "run"
    assert local[0].detail == "start"
    assert (local[-1].phase, local[-1].outcome) == (Phase.RUN_FINISHED, "paused")
    assert local[-1].detail == "interrupted"
    with pytest.raises(NotFoundError):  # the lock was released
        case.kube.get_lease(NAMESPACE, "eksup-rollout-web")
    code, stdout, stderr = case.run("status")
    assert code == 4, stdout + stderr  # unfinished
    assert "paused" in stdout
    assert LIVE[name] in stdout

    # The dry run of what comes next: still nothing written.
    case.kube.clear_actions()
    code, stdout, stderr = case.run("run", "--dry-run")
    assert code == 0, stdout + stderr
    if name in PODS:
        # Sized from the count journaled at the start, not refused for the half-done sides.
        assert "a run resumes after batch 1 of " in stdout, stdout
    assert case.writes() == []
    assert case.local() == local

    code, stdout, stderr = case.run("run", "--yes")
    assert code == 0, stdout + stderr
    if name in PODS:
        assert "resumed after step 1" in stdout
        memos = [r.data for r in local if r.phase is Phase.MEMO]
        assert {"key": "original-replicas", "value": "3"} in memos
    after = case.local()
    assert after == case.mirrored()
    assert after[: len(local)] == local  # appended to, never rewritten
    resumed = [r for r in after if r.phase is Phase.RUN_STARTED and r.detail == "resume"]
    assert len(resumed) == 1
    assert resumed[0].run != local[0].run  # a run of its own
    assert (after[-1].phase, after[-1].outcome) == (Phase.RUN_FINISHED, "succeeded")
    code, stdout, _ = case.run("status")
    assert code == 0
    assert "succeeded" in stdout
    assert LIVE[name] in stdout


# What `rollout status --format json` reads live, per strategy (the others are null).
LIVE_JSON = {
    "canary": "live_weights",
    "blue-green": "live_weights",
    "ab": "live_route",
    "shadow": "live_route",
    "rolling": "deployments",
    "recreate": "deployments",
}


@pytest.mark.parametrize("name", list(CASES))
def test_status_of_every_strategy_shows_its_step_live_state_lock_and_requests(
    shared: Shared, tmp_path: Path, name: str
) -> None:
    case = CASES[name](shared, tmp_path)
    case.clock.call_later(INTERRUPT_AT[name], _ctrl_c)
    assert case.run("run", "--yes")[0] == 4
    # Another machine's run holds the app now, and someone asked it to abort.
    now = case.clock.now()
    run = case.local()[-1].run
    holder = f"ci@runner-7 pid 4242 run {run}"
    case.kube.create_lease(Lease(NAMESPACE, "eksup-rollout-web", holder, now, now, 120))
    journal = RolloutJournal(case.kube, case.clock, NAMESPACE, "web", run_id="r-asker")
    journal.request(Request.ABORT, Actor("alice", now), run)
    case.kube.clear_actions()

    code, stdout, stderr = case.run("status")
    assert code == 4, stdout + stderr
    lines = stdout.splitlines()
    unit = "batch" if name in PODS else "step"
    assert lines[0].startswith(f"shop/web: paused, {unit} "), stdout
    assert lines[0].endswith(f" ({name})")
    assert lines[1].startswith(LIVE[name]), stdout
    assert "pending request: abort by alice" in lines
    assert f"lock: held by {holder!r}" in stdout
    if name in PODS:
        # Both sides as read, and the count the batches are sized by.
        assert "; candidate Deployment shop/web-candidate: " in lines[1]
        assert (
            "batches sized from the 3 replicas stable had when the rollout started (journaled)"
            in lines
        )
    if name == "ab":
        assert lines[1].startswith("header route: on (A/B rule ")
    if name == "shadow":
        assert lines[1].startswith("mirror route: on (mirror 50% to web-candidate:80")

    code, stdout, _ = case.run("status", "--format", "json")
    assert code == 4
    document = json.loads(stdout)
    assert document["strategy"] == name
    assert document["state"]["status"] == "paused"
    assert document["state"]["request"] == "abort"
    assert document["lock"].startswith(f"held by {holder!r}")
    for key in set(LIVE_JSON.values()):
        assert (document[key] is not None) == (key == LIVE_JSON[name]), key
    if name in PODS:
        assert document["deployments"]["original_replicas"] == 3
        assert document["deployments"]["stable"]["deployment"] == "shop/web-stable"
    if name in ("ab", "shadow"):
        route = document["live_route"]
        assert (route["kind"], route["state"]) == (
            "header" if name == "ab" else "mirror",
            "on",
        )
    assert case.writes() == []  # status only reads

    # --watch follows the same view until its timeout: a paused rollout is still unfinished.
    code, stdout, stderr = case.run("status", "--watch", "--timeout", "30")
    assert code == 4, stdout + stderr
    assert stdout.splitlines()[:2] == lines[:2]
    assert "still running after 30s" in stderr
