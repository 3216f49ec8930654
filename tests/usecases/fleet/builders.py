"""A fleet run without planning: the engine's rules need only each cluster's place and verdict."""

from __future__ import annotations

import threading
from pathlib import Path

from upgrader.fleet.order import resolve_stages
from upgrader.fleet.run_doc import ClusterVerdict, FleetRun, RunCluster
from upgrader.fleet.spec_file import load_fleet_spec
from upgrader.fleet.state import ClusterStatus
from upgrader.sandbox.clock import VirtualClock
from upgrader.usecases.fleet.engines.local import LocalEngine
from upgrader.usecases.fleet.leaf import LeafResult
from upgrader.usecases.fleet.planning import run_stages
from upgrader.usecases.fleet.pool import TurnTakingPool


def make_run(
    tmp_path: Path, yaml_text: str, verdicts: dict[str, ClusterVerdict] | None = None
) -> tuple[FleetRun, Path]:
    spec_file = tmp_path / "fleet.yaml"
    spec_file.write_text(yaml_text)
    spec = load_fleet_spec(spec_file)
    stages = resolve_stages(spec)
    placed = {m: (s, g.name) for s in stages for g in s.groups for m in g.members}
    clusters = [
        RunCluster(
            name=c.name,
            account=c.account,
            region=c.region,
            upstream=c.upstream,
            stage=placed[c.name][0].name,
            group=placed[c.name][1],
            soak_after_control_plane_seconds=c.soak_after_control_plane or 0,
            window=c.window or placed[c.name][0].window,
            verdict=(verdicts or {}).get(c.name, ClusterVerdict.READY),
            reason="set by the test",
        )
        for c in spec.clusters
    ]
    run = FleetRun(
        run_id="fleet-test",
        created_at="2026-01-01T00:00:00Z",
        eksup_version="test",
        spec_file=str(spec_file),
        target_version="1.31",
        cluster_approval=spec.cluster_approval,
        stages=run_stages(stages),
        clusters=clusters,
    )
    run_file = tmp_path / "run.json"
    run_file.write_text(run.to_json())
    return run, run_file


class ScriptedLeaf:
    """Each cluster takes `minutes` of virtual time and ends as scripted; records overlap."""

    def __init__(
        self,
        clock: VirtualClock,
        pool: TurnTakingPool,
        outcomes: dict[str, ClusterStatus] | None = None,
        minutes: float = 30,
    ) -> None:
        self.pool, self.outcomes, self.minutes = pool, outcomes or {}, minutes
        self.started: list[tuple[str, float, bool]] = []
        self.running: set[str] = set()
        self.max_running: dict[str, int] = {}
        self.lock = threading.Lock()
        self.before_finish: dict[str, object] = {}

    def __call__(self, cluster: RunCluster, plan_file: Path, soak_done: bool) -> LeafResult:
        del plan_file
        clock = self.pool.clock
        self.started.append((cluster.name, clock.now(), soak_done))
        self.running.add(cluster.name)
        stage = cluster.stage
        self.max_running[stage] = max(self.max_running.get(stage, 0), sum(1 for _ in self.running))
        hook = self.before_finish.get(cluster.name)
        if callable(hook):
            hook()
        clock.sleep(self.minutes * 60)
        self.running.discard(cluster.name)
        status = self.outcomes.get(cluster.name, ClusterStatus.SUCCEEDED)
        if status is ClusterStatus.SOAKING and not soak_done:
            return LeafResult(
                status, "control plane done", clock.now() + cluster.soak_after_control_plane_seconds
            )
        if status is ClusterStatus.SOAKING:
            status = ClusterStatus.SUCCEEDED
        return LeafResult(status, "scripted " + status.value)


def engine(
    run: FleetRun,
    run_file: Path,
    clock: VirtualClock,
    outcomes: dict[str, ClusterStatus] | None = None,
    minutes: float = 30,
    **options: bool,
) -> tuple[LocalEngine, ScriptedLeaf]:
    pool = TurnTakingPool(clock)
    leaf = ScriptedLeaf(clock, pool, outcomes, minutes)
    lines: list[str] = []

    def opener(_cluster: RunCluster) -> object:
        raise AssertionError("the scripted leaf opens nothing")

    eng = LocalEngine(
        run, run_file, opener, pool, log=lines.append, by="tester", leaf=leaf, **options
    )  # type: ignore[arg-type]
    return eng, leaf


FLEET = """
target: "1.31"
clusters:
  - {name: mgmt, account: "111111111111", region: us-east-1, labels: {env: mgmt}}
  - {name: dev-a, account: "222222222222", region: eu-west-1, labels: {env: dev}, upstream: mgmt}
  - {name: dev-b, account: "222222222222", region: eu-west-1, labels: {env: dev}, upstream: mgmt}
  - {name: dev-c, account: "222222222222", region: eu-west-1, labels: {env: dev}, upstream: mgmt}
  - {name: prod, account: "222222222222", region: eu-west-1, labels: {env: prod}, upstream: mgmt}
stages:
  - name: management
    selector: env=mgmt
  - name: dev
    selector: env=dev
    maxConcurrency: 2
    maxAllowedFailures: {allowed}
    afterStageWait: 2h
  - name: prod
    selector: env=prod
"""
