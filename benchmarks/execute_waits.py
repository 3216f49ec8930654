"""A whole `eksup execute` run through the real Kubernetes adapter: API requests of its waits.

The engine tests' small cluster (`upgrader.sandbox.upgrade_world`: two managed node groups,
Deployments with budgets, a StatefulSet, a DaemonSet, Cluster Autoscaler) is served by the
sandbox's Kubernetes API server with virtual time running at RATE virtual seconds per real
second; the AWS side is the in-process moto sandbox. The plan
pauses the autoscaler, updates the control plane to 1.29, replaces both node groups blue/green,
restores the autoscaler and verifies. It runs twice on fresh worlds: re-listing what every wait
round reads (no `watching()`, as before #13) and as `execute` runs it, in one watch scope.

Counted: the wait rounds (each `Waiter` and drain round reports once), and the server's
list/get requests of the resources the informers follow (nodes, pods, budgets, workloads).

Run: `.venv/bin/python -m benchmarks.execute_waits [--rate R]`.
"""

from __future__ import annotations

import argparse
import io
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, cast

from upgrader.adapters.clock import ServedSandboxClock
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.ports import Cluster
from upgrader.execute.engine import ExecuteOptions, Ports, RunStatus, execute
from upgrader.execute.reporter import PlainReporter
from upgrader.plan.document import Plan, StepKind
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.upgrade_world import (
    CLUSTER,
    blue_green,
    build_upgrade_world,
    control_plane,
    hand_plan,
    step,
)
from upgrader.sandbox.world import Sandbox

RATE = 600.0
MODES = ("poll", "watch")
_FOLLOWED = re.compile(
    r"^/(api/v1/(nodes|pods)|apis/policy/v1/poddisruptionbudgets|apis/(apps|batch)/v1/\w+)"
)


def plan() -> Plan:
    """1.28 -> 1.29, the planner's shape: CA paused, the control plane, both node groups blue/
    green, CA restored, verify."""
    groups = [blue_green(group, f"{group}-1-29", "1.29") for group in ("general", "batch")]
    return hand_plan(
        [
            step(StepKind.PAUSE_AUTOSCALER, "pause-autoscaler"),
            control_plane("1.29", "1.28"),
            *groups,
            step(StepKind.RESUME_AUTOSCALER, "resume-autoscaler"),
            step(StepKind.VERIFY, "verify", version="1.29"),
        ],
        "1.28",
        "1.29",
    )


class _Relisting:
    """The adapter with `watching()` a no-op: every read is a request, as before #13."""

    def __init__(self, inner: KubernetesCluster) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @contextmanager
    def watching(self) -> Iterator[None]:
        with nullcontext():
            yield


class _Rounds(PlainReporter):
    """Counts wait and drain rounds: each reports its progress once a round."""

    def __init__(self, clock: Any) -> None:
        super().__init__(io.StringIO(), clock)
        self.rounds = 0

    def waiting(self, *args: Any, **kwargs: Any) -> None:
        self.rounds += 1
        super().waiting(*args, **kwargs)

    def drain_progress(self, *args: Any, **kwargs: Any) -> None:
        self.rounds += 1
        super().drain_progress(*args, **kwargs)


def measure(mode: str, rate: float, workdir: Path) -> dict[str, float]:
    with Sandbox() as world:
        build_upgrade_world(world)
        with KubeServer(world.kube(CLUSTER), world.clock) as server:
            clock = ServedSandboxClock(server.clock_url)
            kubeconfig = server.write_kubeconfig(workdir / f"kubeconfig-{mode}")
            kube = KubernetesCluster.from_kubeconfig(str(kubeconfig), clock=clock)
            cluster = cast(Cluster, _Relisting(kube) if mode == "poll" else kube)
            reporter = _Rounds(world.clock)
            first = len(server.requests)
            server.start_ticker(rate)
            try:
                result = execute(
                    plan(),
                    Ports(cluster, world.aws, world.aws, clock),
                    journal_path=workdir / f"journal-{mode}.jsonl",
                    options=ExecuteOptions(
                        yes=True, skip_fingerprint=True, force=True, delete_emptydir_data=True
                    ),
                    reporter=reporter,
                    confirm=lambda _: True,
                )
            finally:
                server.stop_ticker()
            if result.status is not RunStatus.SUCCEEDED:
                raise SystemExit(f"the {mode} run ended {result.status.value}")
            asked = [(m, t) for m, t, _ in server.requests[first:] if _FOLLOWED.match(t)]
    return {
        "rounds": float(reporter.rounds),
        "lists": float(sum(1 for m, t in asked if m == "GET" and "watch=" not in t)),
        "watches": float(sum(1 for m, t in asked if m == "GET" and "watch=" in t)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=RATE)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="eksup-execute-bench-") as workdir:
        results = {mode: measure(mode, args.rate, Path(workdir)) for mode in MODES}
    poll, watch = results["poll"], results["watch"]
    for mode, label in (("poll", "re-listing each round"), ("watch", "one watch scope")):
        r = results[mode]
        print(
            f"execute run's waits and drains, {label}: {r['rounds']:.0f} rounds, "
            f"{r['lists']:.0f} lists/gets of nodes, pods, budgets and workloads "
            f"({r['lists'] / max(r['rounds'], 1):.2f} per round), {r['watches']:.0f} watches",
            flush=True,
        )
    print(
        "Target (issue 13): reads that do not grow with rounds: one list per followed resource "
        "(and per drained node's pods) for the whole run"
        + ("  ** TARGET MISSED **" if watch["lists"] >= poll["lists"] / 5 else "")
    )


if __name__ == "__main__":
    main()
