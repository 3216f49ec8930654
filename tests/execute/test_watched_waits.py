"""A whole `execute` run through the real Kubernetes adapter reads from one set of informers.

The engine opens `Cluster.watching()` once around the steps, so the drains of two node groups,
the waits for green nodes to be Ready, for the blue nodes to go, for the autoscaler's pods to
stop, and the final verification read nodes, pods by node, budgets and workloads from watches:
however many rounds the waits take, each of those resources is listed once.

Time: the served sandbox's clock is real time, scaled (`ServedSandboxClock`: virtual time runs
at RATE virtual seconds per real second, moved by the server's ticker; a client's sleep is a
real sleep), as for `eksup sandbox up`. A wait never jumps virtual time ahead of the watch:
while it sleeps, the ticker moves time and the watch delivers what changed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.execute.worlds import (
    CLUSTER,
    Delegate,
    Runner,
    blue_green,
    build_world,
    control_plane,
    hand_plan,
    step,
)
from upgrader.adapters.clock import ServedSandboxClock
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.execute.engine import RunStatus
from upgrader.execute.reporter import PlainReporter
from upgrader.plan.document import StepKind
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.world import Sandbox

RATE = 600.0  # virtual seconds per real second
# The reads the informers answer (`informer.py`), as the port names them.
_CACHED_READS = ("list_nodes", "list_pods", "list_pdbs", "list_workloads", "get_workload")
# Paths the informers follow: nodes, pods (by node), budgets, workloads.
_FOLLOWED = re.compile(
    r"^/(api/v1/(nodes|pods)|apis/policy/v1/poddisruptionbudgets|apis/(apps|batch)/v1/\w+)\?"
)


class _CountingCluster(Delegate):
    """The real adapter, counting the reads the run asks of the port."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name not in _CACHED_READS:
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.reads[name] += 1
            return found(*args, **kwargs)

        return counted


class _CountingReporter(PlainReporter):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.wait_rounds = 0

    def waiting(self, *args: Any, **kwargs: Any) -> None:
        self.wait_rounds += 1
        super().waiting(*args, **kwargs)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Sandbox, KubeServer]]:
    with Sandbox() as world:
        build_world(world, autoscaler=True)
        with KubeServer(world.kube(CLUSTER), world.clock) as server:
            yield world, server


@pytest.mark.slow
def test_a_whole_runs_waits_are_served_by_one_set_of_watches(
    served: tuple[Sandbox, KubeServer], tmp_path: Path
) -> None:
    world, server = served
    kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
    clock = ServedSandboxClock(server.clock_url)
    kube = _CountingCluster(KubernetesCluster.from_kubeconfig(str(kubeconfig), clock=clock))
    plan = hand_plan(
        [
            step(StepKind.PAUSE_AUTOSCALER, "pause-autoscaler"),
            control_plane("1.29", "1.28"),
            blue_green("general", "general-1-29", "1.29"),
            blue_green("batch", "batch-1-29", "1.29"),
            step(StepKind.RESUME_AUTOSCALER, "resume-autoscaler"),
            step(StepKind.VERIFY, "verify", version="1.29"),
        ],
        target="1.29",
    )
    runner = Runner(world, tmp_path)
    reporter = _CountingReporter(runner.out, world.clock)
    server.start_ticker(RATE)
    try:
        result = runner.run(
            plan,
            ports=runner.ports(cluster=kube, clock=clock),
            reporter=reporter,
            force=True,
            delete_emptydir_data=True,
            # A read that waits for the event of its own eviction waits up to 5 real seconds
            # (informer.EXPECTATION_SECONDS), 50 virtual minutes at RATE: on a loaded machine
            # one such wait must not time the drain out.
            drain_timeout_seconds=4 * 3600.0,
        )
    finally:
        server.stop_ticker()
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()

    lists = Counter(
        t for m, t, _ in server.requests if m == "GET" and "watch=" not in t and _FOLLOWED.match(t)
    )
    # Each followed resource is listed once for the whole run: both drains and every wait
    # share the node informer, the budget and workload informers, and each node's pods.
    assert lists, server.requests
    assert max(lists.values()) == 1, lists
    assert lists["/api/v1/nodes?limit=500"] == 1
    reads = sum(kube.reads.values())
    # The waits and drains went round many times, reading the cluster each time (the control
    # plane's wait reads only EKS)...
    assert reporter.wait_rounds >= 20, reporter.wait_rounds
    assert reads >= 60, kube.reads
    # ...yet no followed URL was listed twice: the lists stay one per resource (and per
    # drained node's pods), however many rounds the waits take.
    pod_lists = sum(n for t, n in lists.items() if t.startswith("/api/v1/pods"))
    assert sum(lists.values()) - pod_lists <= 8, lists
