"""How long the FakeCluster takes to build a 5,000-node / 150,000-pod world, and its peak memory.

The drain benchmarks and the demo build big worlds; this keeps an eye on what that costs.
Run: `.venv/bin/python benchmarks/fake_cluster_build.py [--nodes N] [--pods P] [--tracemalloc]`
(tracemalloc reports Python heap peak exactly but roughly doubles the wall time).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

from upgrader.core.kube import (
    LabelSelector,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.cluster.node_groups import NodeTemplate

NODE_GROUPS = 10
REPLICAS = 100
NAMESPACES = 50


def build(nodes: int, pods: int) -> tuple[FakeCluster, dict[str, float]]:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    cluster = FakeCluster(VirtualClock())
    for group in range(NODE_GROUPS):
        cluster.scale_node_group(f"ng-{group}", nodes // NODE_GROUPS, NodeTemplate(), 0)
    cluster.settle()
    timings["nodes join"] = time.perf_counter() - started

    mark = time.perf_counter()
    cni = PodTemplate(labels={"k8s-app": "aws-node"}, spec=PodSpec(Resources(25, 64 * 2**20)))
    cluster.add_workload(
        Workload(WorkloadKind.DAEMON_SET, "kube-system", "aws-node", LabelSelector(cni.labels), cni)
    )
    for index in range((pods - nodes) // REPLICAS):
        namespace = f"team-{index % NAMESPACES}"
        labels = {"app": f"app-{index}"}
        spec = PodSpec(requests=Resources(100, 128 * 2**20))
        cluster.add_workload(
            Workload(
                WorkloadKind.DEPLOYMENT,
                namespace,
                f"app-{index}",
                LabelSelector(labels),
                PodTemplate(labels=labels, spec=spec),
                replicas=REPLICAS,
            ),
            startup_seconds=10.0,
        )
        cluster.add_pdb(
            PodDisruptionBudget(
                namespace, f"app-{index}", LabelSelector(labels), max_unavailable="10%"
            )
        )
    timings["workloads and pods created"] = time.perf_counter() - mark

    mark = time.perf_counter()
    cluster.settle()
    timings["scheduled and Ready"] = time.perf_counter() - mark
    timings["total build"] = time.perf_counter() - started
    return cluster, timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5_000)
    parser.add_argument("--pods", type=int, default=150_000)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()

    if args.tracemalloc:
        tracemalloc.start()
    cluster, timings = build(args.nodes, args.pods)

    mark = time.perf_counter()
    listed = cluster.list_pods()
    timings["list_pods (all)"] = time.perf_counter() - mark
    mark = time.perf_counter()
    budgets = cluster.list_pdbs()
    timings["list_pdbs (all)"] = time.perf_counter() - mark

    ready = sum(1 for pod in listed if pod.ready)
    print(
        f"world: {len(cluster.list_nodes())} nodes, {len(listed)} pods ({ready} Ready), "
        f"{len(budgets)} PDBs"
    )
    for what, seconds in timings.items():
        print(f"  {what:<28} {seconds:7.2f} s")
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"  {'peak RSS':<28} {peak_rss:7.0f} MiB")
    if args.tracemalloc:
        _, peak = tracemalloc.get_traced_memory()
        print(f"  {'peak Python heap':<28} {peak / 2**20:7.0f} MiB")
    return 0 if ready == len(listed) == args.pods else 1


if __name__ == "__main__":
    sys.exit(main())
