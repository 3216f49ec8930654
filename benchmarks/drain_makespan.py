"""Drain makespan: a 100-node / 3,000-pod blue group moved to green, three ways.

The world is built the same each time (seeded): a blue node group whose nodes hold every pod,
Deployments and a few StatefulSets with PDBs of several tightnesses and mixed start-up and grace
times, and an empty green group already Ready. Each drain runs on a fresh copy of it:
(a) `kubectl drain` node after node, (b) eksctl's `--parallel 25`, (c) eksup's PDB-aware
`Drain`. Every blue node is tainted NoSchedule first in each run (the runbook's step before the
drain), so replacements go to green.

Makespan: virtual time from the first taint/cordon until no pod but DaemonSet pods is left on
blue (terminating ones count until they are gone) and every workload is Ready again; a monitor
on the clock checks it every virtual second, whatever the drain's own poll interval. Then the
blue group is deleted, so a pod the drain left behind would show as lost.

References. The bound: for each PDB, ceil(pods on blue / its budget) waves; a StatefulSet's
wave holds the budget for grace + start-up (the replacement is created only once the old pod is
gone), a Deployment's for its start-up only (the ReplicaSet creates the replacement at eviction;
the last wave still ends no sooner than its grace); the max over PDBs. The physical floor is
the same with one wave per workload. The older "budget bound", which charged grace + start-up to
every wave of every workload, is printed too: eksup "beat" it because it over-charges
Deployments.

Node order. The baselines drain blue nodes in a given order; the order the scheduler filled
them in happens to suit them, so each baseline runs over SHUFFLES seeded random orders and
prints the median and range. eksup chooses its own order.

Run: `.venv/bin/python -m benchmarks.drain_makespan [--nodes N] [--pods P] [--seed S]`.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.drain_baselines import occupying, parallel_drain, serial_drain
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    IntOrPercent,
    LabelSelector,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Taint,
    TaintEffect,
    Toleration,
    Workload,
    WorkloadKind,
)
from upgrader.drain.drainer import Drain, DrainSettings
from upgrader.drain.surge import SurgedDrain
from upgrader.sandbox.clock import ScheduledEvent, VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.cluster.node_groups import NodeTemplate

BLUE = "blue"
GREEN = "green"
BLUE_TAINT = Taint("eksup.io/upgrade", TaintEffect.NO_SCHEDULE, "blue")
MONITOR_SECONDS = 1.0
MIB = 2**20
STATEFULSET_REPLICAS = (3, 3, 5, 5)


@dataclass(frozen=True)
class Tightness:
    """A PDB shape and the replica counts it is given."""

    label: str
    replicas: tuple[int, int]
    min_available: str | None = None  # "N-1" is resolved per workload
    max_unavailable: IntOrPercent | None = None


TIGHTNESSES = (
    Tightness("maxUnavailable 1", (3, 12), max_unavailable=1),
    Tightness("minAvailable N-1", (4, 10), min_available="N-1"),
    Tightness("maxUnavailable 10%", (20, 60), max_unavailable="10%"),
    Tightness("maxUnavailable 25%", (10, 60), max_unavailable="25%"),
    Tightness("minAvailable 50%", (10, 60), min_available="50%"),
    Tightness("no PDB", (5, 40)),
)


@dataclass(frozen=True)
class App:
    kind: WorkloadKind
    namespace: str
    name: str
    replicas: int
    startup: float
    grace: int
    tightness: Tightness

    def pdb(self) -> PodDisruptionBudget | None:
        t = self.tightness
        if t.min_available is None and t.max_unavailable is None:
            return None
        min_available: IntOrPercent | None = t.min_available
        if min_available == "N-1":
            min_available = self.replicas - 1
        return PodDisruptionBudget(
            self.namespace,
            self.name,
            LabelSelector({"app": self.name}),
            min_available=min_available,
            max_unavailable=t.max_unavailable,
        )


def design(pods: int, seed: int = 7) -> list[App]:
    """The workloads: deterministic for a seed, about `pods` replicas in all."""
    rng = random.Random(seed)
    apps: list[App] = []
    sts_tightness = TIGHTNESSES[0]
    for index, replicas in enumerate(STATEFULSET_REPLICAS):
        apps.append(
            App(
                WorkloadKind.STATEFUL_SET,
                f"data-{index % 2}",
                f"db-{index}",
                replicas,
                float(rng.randint(5, 120)),
                rng.randint(5, 60),
                sts_tightness,
            )
        )
    total = sum(STATEFULSET_REPLICAS)
    index = 0
    while total < pods:
        tightness = TIGHTNESSES[index % len(TIGHTNESSES)]
        low, high = tightness.replicas
        replicas = min(rng.randint(low, high), max(1, pods - total))
        if replicas < low and tightness.min_available == "N-1":
            replicas = low  # a handful over the target beats a PDB that allows nothing
        apps.append(
            App(
                WorkloadKind.DEPLOYMENT,
                f"team-{index % 10}",
                f"app-{index}",
                replicas,
                float(rng.randint(5, 120)),
                rng.randint(5, 60),
                tightness,
            )
        )
        total += replicas
        index += 1
    return apps


def build(nodes: int, apps: list[App]) -> tuple[FakeCluster, VirtualClock]:
    """Blue nodes, every pod Ready on them, then green nodes Ready and empty."""
    clock = VirtualClock()
    cluster = FakeCluster(clock)
    cluster.scale_node_group(BLUE, nodes, NodeTemplate(labels={"color": BLUE}), 0)
    cluster.settle()
    agent = PodTemplate(
        labels={"k8s-app": "aws-node"},
        spec=PodSpec(Resources(25, 64 * MIB), tolerations=(Toleration(operator="Exists"),)),
    )
    cluster.add_workload(
        Workload(
            WorkloadKind.DAEMON_SET, "kube-system", "aws-node", LabelSelector(agent.labels), agent
        )
    )
    for app in apps:
        labels = {"app": app.name}
        spec = PodSpec(Resources(100, 128 * MIB), termination_grace_seconds=app.grace)
        cluster.add_workload(
            Workload(
                app.kind,
                app.namespace,
                app.name,
                LabelSelector(labels),
                PodTemplate(labels=labels, spec=spec),
                replicas=app.replicas,
            ),
            startup_seconds=app.startup,
        )
        pdb = app.pdb()
        if pdb is not None:
            cluster.add_pdb(pdb)
    cluster.settle()
    green = NodeTemplate(kubelet_version="v1.30.4-eks-a737599", labels={"color": GREEN})
    cluster.scale_node_group(GREEN, nodes, green, 0)
    cluster.settle()
    return cluster, clock


@dataclass(frozen=True)
class Bounds:
    budget: float
    budget_pdb: str
    deployment_aware: float  # a Deployment's replacement starts at eviction, not after grace
    physical: float
    # The budget bound of the workloads --surge cannot speed up: StatefulSets (never surged)
    # and Deployments whose PDB allows a fixed number (more replicas add no budget).
    unsurgeable: float
    unsurgeable_pdb: str


def bounds(cluster: FakeCluster, apps: list[App]) -> Bounds:
    """The references, from the PDBs' status before anything moves (all pods on blue)."""
    by_key = {f"{a.namespace}/{a.name}": a for a in apps}
    blue = set(cluster.node_group_nodes(BLUE))
    budget, budget_pdb, aware = 0.0, "", 0.0
    fixed, fixed_pdb = 0.0, ""
    for pdb in cluster.list_pdbs():
        app = by_key[pdb.key]
        on_blue = sum(
            1
            for pod in cluster.list_pods(pdb.namespace, label_selector=f"app={app.name}")
            if pod.node_name in blue
        )
        allowed = pdb.disruptions_allowed
        if allowed <= 0:
            raise ValueError(f"PDB {pdb.key} allows no disruption: the world is mis-built")
        waves = math.ceil(on_blue / allowed)
        cost = waves * (app.grace + app.startup)
        if cost > budget:
            budget, budget_pdb = cost, f"{pdb.key} ({app.tightness.label}, {waves} waves)"
        if app.kind is WorkloadKind.DEPLOYMENT:
            cost = (waves - 1) * app.startup + max(app.startup, app.grace)
        aware = max(aware, cost)
        surge_blind = app.kind is WorkloadKind.STATEFUL_SET or isinstance(
            app.tightness.max_unavailable, int
        )
        if surge_blind and cost > fixed:
            fixed, fixed_pdb = cost, f"{pdb.key} ({app.kind.value}, {app.tightness.label})"
    physical = max(
        a.startup + a.grace
        if a.kind is WorkloadKind.STATEFUL_SET
        else max(a.startup, float(a.grace))
        for a in apps
    )
    return Bounds(budget, budget_pdb, aware, physical, fixed, fixed_pdb)


class DoneMonitor:
    """Checks every virtual second whether blue is empty and every workload Ready; records the
    first instant it is. Once blue is empty it stays so (tainted, cordoned), so this is the
    makespan's end, independent of the drain's own polling."""

    def __init__(self, cluster: FakeCluster, clock: VirtualClock, nodes: list[str]) -> None:
        self.cluster = cluster
        self.clock = clock
        self.busy_nodes = list(nodes)
        self.done_at: float | None = None
        self._event: ScheduledEvent = clock.call_later(0.0, self._check)

    def _check(self) -> None:
        while self.busy_nodes:
            pods = self.cluster.list_pods(node_name=self.busy_nodes[0])
            if any(occupying(pod) for pod in pods):
                break
            self.busy_nodes.pop(0)
        if not self.busy_nodes and self._all_ready():
            self.done_at = self.clock.now()
            return
        self._event = self.clock.call_later(MONITOR_SECONDS, self._check)

    def _all_ready(self) -> bool:
        return all(
            w.replicas is None or w.ready_replicas >= w.replicas
            for kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET)
            for w in self.cluster.list_workloads(kind)
        )

    def wait(self, limit_seconds: float = 24 * 3600.0) -> float:
        deadline = self.clock.now() + limit_seconds
        while self.done_at is None:
            if self.clock.now() > deadline:
                raise RuntimeError("the drain never finished")
            self.clock.sleep(MONITOR_SECONDS)
        return self.done_at

    def stop(self) -> None:
        self._event.cancel()


@dataclass(frozen=True)
class Result:
    name: str
    makespan: float
    refused: int
    lost: int
    violations: int
    wall: float
    note: str = ""


Runner = Callable[[FakeCluster, VirtualClock, list[str]], str]


def run_serial(cluster: FakeCluster, clock: VirtualClock, nodes: list[str]) -> str:
    serial_drain(cluster, clock, nodes)
    return ""


def run_parallel(cluster: FakeCluster, clock: VirtualClock, nodes: list[str]) -> str:
    parallel_drain(cluster, clock, nodes)
    return ""


def run_eksup(cluster: FakeCluster, clock: VirtualClock, nodes: list[str]) -> str:  # noqa: ARG001
    settings = DrainSettings(taint=BLUE_TAINT, timeout_seconds=24 * 3600.0)
    report = Drain(
        cluster, clock, lambda: cluster.list_nodes(f"{NODEGROUP_LABEL}={BLUE}"), settings
    ).run()
    return f"Drain.run() returned after {report.seconds:.0f} s (poll {settings.poll_seconds:g} s)"


def run_surge(cluster: FakeCluster, clock: VirtualClock, nodes: list[str]) -> str:  # noqa: ARG001
    settings = DrainSettings(taint=BLUE_TAINT, timeout_seconds=24 * 3600.0)
    journal: dict[str, int] = {}
    report = SurgedDrain(
        cluster,
        clock,
        lambda: cluster.list_nodes(f"{NODEGROUP_LABEL}={BLUE}"),
        settings,
        record=journal.__setitem__,
    ).run()
    plan = report.plan
    sts = sum(1 for key in plan.skipped if key.startswith("StatefulSet/"))
    absolute = sum(1 for why in plan.skipped.values() if "absolute" in why)
    room = sum(1 for why in plan.skipped.values() if "room" in why)
    extra = sum(s.surged - s.original for s in plan.surged)
    return (
        f"surged {len(plan.surged)} Deployments by {extra} pods (originals recorded: "
        f"{len(journal)}, restored: {len(report.restored)}, conflicts: {len(report.conflicts)}); "
        f"not surged: {sts} StatefulSets (never surged, budget-bound), {absolute} Deployments "
        f"with an absolute maxUnavailable (surge adds no budget), {room} for lack of room"
    )


VARIANTS: tuple[tuple[str, Runner], ...] = (
    ("(a) serial, kubectl drain per node", run_serial),
    ("(b) eksctl --parallel 25", run_parallel),
    ("(c) eksup Drain (PDB-aware)", run_eksup),
    ("(d) eksup --surge", run_surge),
)


def measure(
    name: str, runner: Runner, nodes: int, apps: list[App], order_seed: int | None = None
) -> Result:
    """One drain on a fresh world; with `order_seed`, the blue nodes handed to the runner are
    shuffled by it (the baselines drain in the order they are given)."""
    cluster, clock = build(nodes, apps)
    started_wall = time.perf_counter()
    blue = list(cluster.node_group_nodes(BLUE))
    if order_seed is not None:
        random.Random(order_seed).shuffle(blue)
    started = clock.now()
    monitor = DoneMonitor(cluster, clock, blue)
    for node in blue:  # the runbook taints every blue node before draining any
        cluster.add_taint(node, BLUE_TAINT)
    note = runner(cluster, clock, blue)
    done = monitor.wait()
    monitor.stop()
    cluster.delete_node_group(BLUE)
    stats = cluster.stats
    return Result(
        name,
        done - started,
        stats.evictions_refused,
        len(stats.lost_pods),
        len(stats.pdb_violations),
        time.perf_counter() - started_wall,
        note,
    )


def run(nodes: int, pods: int, seed: int) -> tuple[Bounds, list[Result]]:
    apps = design(pods, seed)
    cluster, _ = build(nodes, apps)
    refs = bounds(cluster, apps)
    return refs, [measure(name, runner, nodes, apps) for name, runner in VARIANTS]


SHUFFLES = 5  # node orders each baseline is run over
BASELINES = 2  # VARIANTS[:2] drain nodes in the order given; the others choose their own


def _spread(values: list[float]) -> str:
    """Median and range, as `median (min-max)`."""
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shuffles", type=int, default=SHUFFLES)
    args = parser.parse_args(argv)

    apps = design(args.pods, args.seed)
    cluster, _ = build(args.nodes, apps)
    refs = bounds(cluster, apps)
    kinds = {k: sum(1 for a in apps if a.kind is k) for k in {a.kind for a in apps}}
    print(
        f"world: {args.nodes} blue nodes -> {args.nodes} green, "
        f"{sum(a.replicas for a in apps)} pods in {kinds[WorkloadKind.DEPLOYMENT]} Deployments "
        f"and {kinds[WorkloadKind.STATEFUL_SET]} StatefulSets, "
        f"{len(cluster.list_pdbs())} PDBs (seed {args.seed})",
        flush=True,
    )
    bound = refs.deployment_aware
    print(
        f"bound:          {bound:7.0f} s  (Deployment-aware: a Deployment's wave holds its "
        "budget for its start-up, a StatefulSet's for grace + start-up)"
    )
    print(f"physical floor: {refs.physical:7.0f} s  (the same, one wave per workload)")
    print(
        f"  older budget bound: {refs.budget:.0f} s (every wave charged grace + start-up; "
        f"PDB {refs.budget_pdb}): not a lower bound for Deployments"
    )
    print(
        f"baselines over {args.shuffles} shuffled blue-node orders: median (min-max); "
        "eksup picks its own order"
    )
    header = (
        f"{'drain':<36} {'makespan s':>16} {'refused 429':>16} {'lost':>5} "
        f"{'PDB viol.':>9} {'x bound':>7} {'wall s':>6}"
    )
    print(header)
    print("-" * len(header))
    results: list[list[Result]] = []
    for index, (name, runner) in enumerate(VARIANTS):
        seeds: list[int | None] = (
            list(range(args.shuffles)) if index < BASELINES and args.shuffles else [None]
        )
        runs = [measure(name, runner, args.nodes, apps, seed) for seed in seeds]
        results.append(runs)
        makespans = [r.makespan for r in runs]
        print(
            f"{name:<36} {_spread(makespans):>16} {_spread([r.refused for r in runs]):>16} "
            f"{max(r.lost for r in runs):>5} {max(r.violations for r in runs):>9} "
            f"{statistics.median(makespans) / bound:>7.2f} {sum(r.wall for r in runs):>6.1f}",
            flush=True,
        )
    for runs in results:
        if runs[0].note:
            print(f"  {runs[0].name}: {runs[0].note}")
    eksup, surge = results[2][0], results[3][0]
    eksctl_refused = statistics.median([r.refused for r in results[1]])
    eksctl_makespan = statistics.median([r.makespan for r in results[1]])
    reachable = max(refs.physical, refs.unsurgeable)
    print(
        f"(d) --surge: {surge.makespan / refs.physical:.2f}x the physical floor; "
        f"{surge.makespan / reachable:.2f}x the larger of it and the bound of what surge cannot "
        f"speed up ({refs.unsurgeable:.0f} s, PDB {refs.unsurgeable_pdb}: StatefulSets are never "
        f"surged, a fixed maxUnavailable gains no budget from more replicas); target 1.5x: "
        f"{'met' if surge.makespan <= 1.5 * reachable else 'TARGET MISSED'}; "
        f"{surge.makespan / eksup.makespan:.2f}x (c)'s makespan"
    )
    safe = all(r.lost == r.violations == 0 for runs in results for r in runs)
    print(
        f"targets for (c): makespan <= 1.1x the bound: "
        f"{'met' if eksup.makespan <= 1.1 * bound else 'TARGET MISSED'} "
        f"({eksup.makespan / bound:.2f}x; {eksup.makespan / eksctl_makespan:.2f}x (b)'s median); "
        f"refused <= 1/10 of (b)'s median: "
        f"{'met' if eksup.refused * 10 <= eksctl_refused else 'TARGET MISSED'} "
        f"({eksup.refused} vs {eksctl_refused:.0f}); zero lost pods and PDB violations "
        f"everywhere: {'met' if safe else 'TARGET MISSED'}"
    )


if __name__ == "__main__":
    main()
