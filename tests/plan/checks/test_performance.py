"""The checks give the right answers on a large cluster (a fifth of the 5,000-node target).

Speed is measured by `make bench` (benchmarks/), which prints figures; a timed assertion here
would fail on a busy machine and prove nothing on a fast one.
"""

from __future__ import annotations

from tests.plan.checks.factories import (
    context,
    daemon_pod,
    node,
    nodegroup,
    pdb,
    pod,
    snapshot,
    workload,
)
from upgrader.plan.checks import CheckStatus, run_checks
from upgrader.plan.snapshot import ClusterSnapshot

NODES, APPS, REPLICAS, NAMESPACES, GROUPS = 1_000, 1_000, 29, 100, 10


def big_cluster() -> ClusterSnapshot:
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


def test_every_check_on_a_large_cluster_passes_where_it_should() -> None:
    findings = run_checks(big_cluster(), context())
    by_id = {f.check_id: f for f in findings}
    assert by_id["capacity"].status is CheckStatus.PASS
    assert by_id["pdb-zero-disruptions"].status is CheckStatus.PASS
    assert by_id["pdb-overlap"].status is CheckStatus.PASS
