"""The checks scale with pods, not pods x nodes or pods x budgets.

The plan's budget is 10 s for a 5,000-node / 150,000-pod cluster, discovery and planning
included; this runs a fifth of that size and asks the checks for well under a fifth of their
share, so a quadratic slip shows at once without making the suite slow.
"""

from __future__ import annotations

import time

from tests.checks.factories import (
    context,
    daemon_pod,
    node,
    nodegroup,
    pdb,
    pod,
    snapshot,
    workload,
)
from upgrader.checks import CheckStatus, run_checks
from upgrader.snapshot import ClusterSnapshot

NODES, APPS, REPLICAS, NAMESPACES, GROUPS = 1_000, 1_000, 29, 100, 10


def _big_cluster() -> ClusterSnapshot:
    nodes = tuple(
        node(f"n{i}", group=f"ng-{i % GROUPS}", cpu="8", memory="32Gi", pods=110)
        for i in range(NODES)
    )
    pods = [daemon_pod(f"aws-node-{i}", f"n{i}") for i in range(NODES)]
    workloads, pdbs = [], []
    for app in range(APPS):
        namespace, name = f"ns{app % NAMESPACES}", f"app{app}"
        workloads.append(workload(name, namespace, replicas=REPLICAS))
        pdbs.append(pdb(name, namespace, match={"app": name}, expected=REPLICAS, allowed=1))
        pods.extend(
            pod(
                f"{name}-h-{r}",
                namespace,
                node=f"n{(app * REPLICAS + r) % NODES}",
                owner=("ReplicaSet", f"{name}-h"),
                labels={"app": name, "pod-template-hash": "h"},
                cpu="200m",
                memory="512Mi",
            )
            for r in range(REPLICAS)
        )
    return snapshot(
        nodes=nodes,
        pods=tuple(pods),
        workloads=tuple(workloads),
        pdbs=tuple(pdbs),
        nodegroups=tuple(nodegroup(f"ng-{g}", desired=NODES // GROUPS) for g in range(GROUPS)),
        vcpu_quota=100_000,
    )


def test_every_check_on_a_large_cluster_is_fast() -> None:
    snap = _big_cluster()
    started = time.perf_counter()
    findings = run_checks(snap, context())
    elapsed = time.perf_counter() - started
    assert elapsed < 1.5, f"checks took {elapsed:.2f} s on {len(snap.pods)} pods"
    by_id = {f.check_id: f for f in findings}
    assert by_id["capacity"].status is CheckStatus.PASS
    assert by_id["pdb-zero-disruptions"].status is CheckStatus.PASS
    assert by_id["pdb-overlap"].status is CheckStatus.PASS
