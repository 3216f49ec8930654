"""`--surge` on a small FakeCluster world: replicas restored exactly, StatefulSets never
surged, nothing lost, no PDB broken, and faster than the plain drain under a tight PDB."""

from __future__ import annotations

from benchmarks import drain_makespan as bench
from upgrader.core.kube import NODEGROUP_LABEL, HorizontalPodAutoscaler, WorkloadKind
from upgrader.drain.drainer import DrainSettings
from upgrader.drain.surge import SurgedDrain, plan_surge, restore_replicas
from upgrader.sandbox.cluster.fake_cluster import HPA_SYNC_SECONDS

TIGHT = bench.Tightness("minAvailable N-1", (4, 10), min_available="N-1")
PERCENT = bench.Tightness("minAvailable 50%", (10, 60), min_available="50%")
STS = bench.Tightness("maxUnavailable 1", (3, 12), max_unavailable=1)

APPS = [
    bench.App(WorkloadKind.DEPLOYMENT, "web", "tight", 6, 40.0, 10, TIGHT),
    bench.App(WorkloadKind.DEPLOYMENT, "web", "half", 8, 30.0, 20, PERCENT),
    bench.App(WorkloadKind.STATEFUL_SET, "data", "db", 3, 20.0, 10, STS),
]


def _replicas(cluster: bench.FakeCluster) -> dict[str, int | None]:
    return {
        w.key: w.replicas
        for kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET)
        for w in cluster.list_workloads(kind)
    }


def test_surge_restores_every_count_and_never_touches_a_statefulset() -> None:
    cluster, clock = bench.build(3, APPS)
    before = _replicas(cluster)
    journal: dict[str, int] = {}
    scaled: list[tuple[str, int]] = []
    original_scale = cluster.scale_workload

    def spy(kind: WorkloadKind, namespace: str, name: str, replicas: int) -> object:
        scaled.append((f"{kind.value}/{namespace}/{name}", replicas))
        return original_scale(kind, namespace, name, replicas)

    cluster.scale_workload = spy  # type: ignore[method-assign,assignment]
    report = SurgedDrain(
        cluster,
        clock,
        lambda: cluster.list_nodes(f"{NODEGROUP_LABEL}={bench.BLUE}"),
        DrainSettings(taint=bench.BLUE_TAINT, timeout_seconds=3600.0),
        record=journal.__setitem__,
    ).run()

    surged = {s.key: s for s in report.plan.surged}
    assert set(surged) == {"surge/Deployment/web/tight", "surge/Deployment/web/half"}
    assert journal == {"surge/Deployment/web/tight": 6, "surge/Deployment/web/half": 8}
    assert all(s.surged <= 2 * s.original for s in surged.values())
    assert "StatefulSet/data/db" in report.plan.skipped
    assert not any(key.startswith("StatefulSet/") for key, _ in scaled)
    assert sorted(report.restored) == sorted(surged)
    assert report.conflicts == []
    assert _replicas(cluster) == before
    # Restoring again is a no-op: the counts are the originals already.
    assert restore_replicas(cluster, report.plan.surged) == ([], [])
    blue = set(cluster.node_group_nodes(bench.BLUE))
    assert not [p for p in cluster.list_pods() if p.node_name in blue and bench.occupying(p)]
    assert cluster.stats.pdb_violations == ()
    assert cluster.stats.lost_pods == ()


def test_surge_is_safe_and_faster_than_the_plain_drain_under_a_tight_pdb() -> None:
    apps = APPS[:2]
    plain = bench.measure("(c)", bench.run_eksup, 3, apps)
    surge = bench.measure("(d)", bench.run_surge, 3, apps)

    for result in (plain, surge):
        assert result.lost == 0, result
        assert result.violations == 0, result
    assert surge.refused == 0
    assert surge.makespan < plain.makespan
    cluster, _ = bench.build(3, apps)
    assert surge.makespan <= 1.5 * bench.bounds(cluster, apps).physical


def _hpa(name: str, target: str, minimum: int, maximum: int) -> HorizontalPodAutoscaler:
    return HorizontalPodAutoscaler("web", name, "Deployment", target, minimum, maximum)


def test_the_fake_hpa_takes_back_a_replica_count_set_behind_its_back() -> None:
    cluster, clock = bench.build(3, APPS[:1])
    cluster.add_hpa(_hpa("tight-hpa", "tight", 2, 20))
    clock.advance_to(clock.now() + 1)
    cluster.scale_workload(WorkloadKind.DEPLOYMENT, "web", "tight", 12)
    clock.advance_to(clock.now() + HPA_SYNC_SECONDS + 1)
    assert cluster.get_workload(WorkloadKind.DEPLOYMENT, "web", "tight").replicas == 6
    (hpa,) = cluster.list_hpas("web")
    assert (hpa.min_replicas, hpa.current_replicas, hpa.desired_replicas) == (2, 6, 6)


def test_an_hpa_managed_deployment_is_surged_through_min_replicas_and_put_back() -> None:
    cluster, clock = bench.build(3, APPS[:2])
    cluster.add_hpa(_hpa("tight-hpa", "tight", 2, 9))
    clock.advance_to(clock.now() + 1)
    journal: dict[str, int] = {}
    peak = [0]
    original = cluster.set_hpa_min_replicas

    def spy(namespace: str, name: str, min_replicas: int) -> HorizontalPodAutoscaler:
        peak[0] = max(peak[0], min_replicas)
        return original(namespace, name, min_replicas)

    cluster.set_hpa_min_replicas = spy  # type: ignore[method-assign]
    report = SurgedDrain(
        cluster,
        clock,
        lambda: cluster.list_nodes(f"{NODEGROUP_LABEL}={bench.BLUE}"),
        DrainSettings(taint=bench.BLUE_TAINT, timeout_seconds=3600.0),
        record=journal.__setitem__,
    ).run()

    (through_hpa,) = [s for s in report.plan.surged if s.hpa is not None]
    assert through_hpa.key == "surge/HorizontalPodAutoscaler/web/tight-hpa"
    assert journal[through_hpa.key] == 2  # the HPA's own minReplicas, recorded first
    assert through_hpa.surged <= 9  # never past maxReplicas
    assert peak[0] == through_hpa.surged
    assert "minReplicas 2->" in str(through_hpa)
    assert through_hpa.key in report.restored
    (hpa,) = cluster.list_hpas("web")
    assert hpa.min_replicas == 2
    clock.advance_to(clock.now() + HPA_SYNC_SECONDS + 1)
    assert cluster.get_workload(WorkloadKind.DEPLOYMENT, "web", "tight").replicas == 6
    assert cluster.stats.pdb_violations == ()
    assert cluster.stats.lost_pods == ()


def test_an_hpa_at_its_max_replicas_is_not_surged() -> None:
    cluster, clock = bench.build(3, APPS[:1])
    cluster.add_hpa(_hpa("tight-hpa", "tight", 6, 6))
    clock.advance_to(clock.now() + 1)
    blue = cluster.node_group_nodes(bench.BLUE)
    plan = plan_surge(cluster, blue)
    assert plan.surged == []
    assert (
        plan.skipped["Deployment/web/tight"]
        == "HPA tight-hpa is at its maxReplicas: no room to surge"
    )
