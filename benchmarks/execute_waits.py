"""A whole `eksup execute` run through the real Kubernetes adapter: API requests of its waits.

A small cluster (two managed node groups, Deployments with budgets, a StatefulSet, a DaemonSet,
Cluster Autoscaler) is served by the sandbox's Kubernetes API server with virtual time running
at RATE virtual seconds per real second; the AWS side is the in-process moto sandbox. The plan
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
from upgrader.core.kube import (
    LabelSelector,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Toleration,
    Workload,
    WorkloadKind,
)
from upgrader.core.ports import Cluster
from upgrader.execute.engine import ExecuteOptions, Ports, RunStatus, execute
from upgrader.execute.reporter import PlainReporter
from upgrader.plan.document import Plan, Step, StepKind, Verdict
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.world import Sandbox

RATE = 600.0
CLUSTER = "bench"
SUBNETS = ["subnet-0a", "subnet-0b", "subnet-0c"]
MODES = ("poll", "watch")
_FOLLOWED = re.compile(
    r"^/(api/v1/(nodes|pods)|apis/policy/v1/poddisruptionbudgets|apis/(apps|batch)/v1/\w+)"
)


def _app(kind: WorkloadKind, namespace: str, name: str, replicas: int | None) -> Workload:
    labels = {"app": name}
    tolerations = (Toleration(operator="Exists"),) if kind is WorkloadKind.DAEMON_SET else ()
    spec = PodSpec(requests=Resources(250, 256 * 2**20, 1), tolerations=tolerations)
    return Workload(
        kind=kind,
        namespace=namespace,
        name=name,
        selector=LabelSelector(labels),
        template=PodTemplate(labels=labels, spec=spec),
        replicas=replicas,
        labels=labels,
    )


def build(world: Sandbox) -> None:
    world.create_cluster(CLUSTER, "1.28", SUBNETS)
    world.install_addons(CLUSTER, "1.28", ("vpc-cni", "coredns", "kube-proxy"))
    for group in ("general", "batch"):
        world.create_nodegroup(
            CLUSTER, group, instance_type_name="m5.xlarge", size=3, subnets=SUBNETS
        )
    world.settle(300)
    kube = world.kube(CLUSTER)
    for workload, startup, budget in (
        (_app(WorkloadKind.DAEMON_SET, "kube-system", "aws-node", None), 5, False),
        (_app(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler", 1), 10, False),
        (_app(WorkloadKind.DEPLOYMENT, "shop", "web", 6), 15, True),
        (_app(WorkloadKind.DEPLOYMENT, "shop", "api", 4), 30, True),
        (_app(WorkloadKind.STATEFUL_SET, "payments", "ledger", 3), 40, True),
    ):
        kube.add_workload(workload, startup_seconds=startup)
        if budget:
            kube.add_pdb(
                PodDisruptionBudget(
                    namespace=workload.namespace,
                    name=workload.name,
                    selector=workload.selector,
                    max_unavailable=1,
                )
            )
    world.settle(300)


def _step(kind: StepKind, step_id: str, hop: str | None = None, **params: Any) -> Step:
    return Step(
        id=step_id,
        kind=kind,
        target=f"cluster/{CLUSTER}",
        title=step_id,
        description=step_id,
        hop=hop,
        params=params,
        mutating=kind not in (StepKind.PREFLIGHT, StepKind.APPROVAL, StepKind.VERIFY),
    )


def plan() -> Plan:
    steps = [
        _step(StepKind.PAUSE_AUTOSCALER, "pause-autoscaler"),
        _step(StepKind.CONTROL_PLANE, "control-plane", "1.29", version="1.29", from_version="1.28"),
    ]
    for group in ("general", "batch"):
        steps.append(
            _step(
                StepKind.NODEGROUP_BLUE_GREEN,
                f"nodegroup-{group}",
                "1.29",
                nodegroup=group,
                green_nodegroup=f"{group}-1-29",
                version="1.29",
            )
        )
    steps += [
        _step(StepKind.RESUME_AUTOSCALER, "resume-autoscaler"),
        _step(StepKind.VERIFY, "verify", version="1.29"),
    ]
    return Plan(
        eksup_version="bench",
        created_at="2026-01-01T00:00:00Z",
        cluster=CLUSTER,
        region="us-east-1",
        current_version="1.28",
        target_version="1.29",
        node_strategy="blue-green",
        runbook="eks-upgrade-blue-green",
        fingerprint="sha256:bench",
        verdict=Verdict.READY,
        hops=[],
        node_replacements=0,
        steps=steps,
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
        build(world)
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
