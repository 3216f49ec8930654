"""`eksup plan` on a 5,000-node / 150,000-pod cluster: wall time and peak memory.

The cluster is built the way the sandbox builds any cluster: node groups created through the
EKS API (moto with eksup's extension) join the FakeCluster as nodes; workloads are added to
the FakeCluster. Then the same discovery, checks and planner as `eksup plan` run through the
ports. Targets: under TARGET_SECONDS and TARGET_MIB on a 2-core machine, for the default size.

Run: `.venv/bin/python -m benchmarks.plan_at_scale [--nodes N] [--pods P]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import time

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
from upgrader.plan.checks import CheckContext
from upgrader.plan.discovery import discover
from upgrader.plan.planner import plan_cluster
from upgrader.sandbox.world import Sandbox
from upgrader.versions import default_catalog

# Targets for the default size (5,000 nodes, 150,000 pods), on a 2-core machine. The README
# quotes them; tests/test_readme_figures.py checks that it quotes these.
TARGET_SECONDS = 5.0
TARGET_MIB = 1024
CLUSTER = "scale"
NODES_PER_GROUP = 100
REPLICAS = 100
MIB = 2**20


def build(world: Sandbox, nodes: int, pods: int) -> None:
    subnets = world.create_network()
    world.create_cluster(CLUSTER, "1.30", subnets)
    for group in range(nodes // NODES_PER_GROUP):
        world.create_nodegroup(
            CLUSTER,
            f"ng-{group:03d}",
            instance_type_name="m5.xlarge",
            size=NODES_PER_GROUP,
            subnets=subnets,
        )
    world.settle(600)
    kube = world.kube(CLUSTER)
    agent = PodTemplate(
        labels={"k8s-app": "aws-node"},
        spec=PodSpec(Resources(25, 64 * MIB, 1), tolerations=(Toleration(operator="Exists"),)),
    )
    kube.add_workload(
        Workload(
            WorkloadKind.DAEMON_SET, "kube-system", "aws-node", LabelSelector(agent.labels), agent
        )
    )
    for index in range((pods - nodes) // REPLICAS):
        namespace = f"team-{index % 50}"
        labels = {"app": f"app-{index}"}
        kube.add_workload(
            Workload(
                WorkloadKind.DEPLOYMENT,
                namespace,
                f"app-{index}",
                LabelSelector(labels),
                PodTemplate(labels=labels, spec=PodSpec(Resources(100, 128 * MIB, 1))),
                replicas=REPLICAS,
            ),
            startup_seconds=10.0,
        )
        kube.add_pdb(
            PodDisruptionBudget(
                namespace, f"app-{index}", LabelSelector(labels), max_unavailable="10%"
            )
        )
    world.settle(600)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=5_000)
    parser.add_argument("--pods", type=int, default=150_000)
    args = parser.parse_args(argv)

    with Sandbox() as world:
        started = time.perf_counter()
        build(world, args.nodes, args.pods)
        built = time.perf_counter() - started
        kube = world.kube(CLUSTER)
        print(f"built {len(kube.list_nodes())} nodes in {built:.1f} s", flush=True)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        catalog = default_catalog()
        snapshot = discover(
            CLUSTER,
            world.aws,
            world.aws,
            kube,
            world.clock,
            target_version="1.32",
            region=world.region,
            catalog=catalog,
        )
        discovered = time.perf_counter() - started
        cpu_started = time.process_time()
        today = dt.datetime.fromtimestamp(world.clock.now(), tz=dt.UTC).date()
        plan = plan_cluster(snapshot, CheckContext(target="1.32", catalog=catalog, today=today))
        total = time.perf_counter() - started
        planned_cpu = time.process_time() - cpu_started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"pods: {len(snapshot.pods)}, nodes: {len(snapshot.nodes)}, steps: {len(plan.steps)}")
    planned = total - discovered
    print(f"discovery (from the in-memory FakeCluster): {discovered:.2f} s")
    print(
        f"checks + plan: {planned:.2f} s wall, {planned_cpu:.2f} s CPU (a loaded machine "
        f"stretches the wall time; target < {TARGET_SECONDS:.0f} s)"
        f"{_missed(planned, TARGET_SECONDS)}"
    )
    print(
        f"peak RSS: {rss_after:.0f} MiB for the process (the simulated cluster included; "
        f"{rss_before:.0f} MiB before planning); target < {TARGET_MIB} MiB"
        f"{_missed(rss_after, TARGET_MIB)}"
    )


def _missed(figure: float, target: float) -> str:
    return "  ** TARGET MISSED **" if figure >= target else ""


if __name__ == "__main__":
    main()
