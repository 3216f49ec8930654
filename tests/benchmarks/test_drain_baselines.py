"""A small copy of `make bench`'s drain world: every drain empties blue without a lost pod or a
PDB violation, and eksup's drain is refused no eviction."""

from __future__ import annotations

from benchmarks import drain_makespan
from benchmarks.drain_baselines import occupying


def test_every_drain_of_a_small_bench_world_is_safe() -> None:
    refs, results = drain_makespan.run(nodes=4, pods=80, seed=7)

    assert [r.name[:3] for r in results] == ["(a)", "(b)", "(c)", "(d)"]
    for result in results:
        assert result.lost == 0, result
        assert result.violations == 0, result
        assert refs.physical <= result.makespan, result
    eksup = results[2]
    assert eksup.refused == 0
    assert eksup.makespan <= 1.1 * refs.budget


def test_the_world_is_the_same_each_time() -> None:
    assert drain_makespan.design(200, seed=3) == drain_makespan.design(200, seed=3)
    cluster, _ = drain_makespan.build(3, drain_makespan.design(60, seed=3))
    blue = set(cluster.node_group_nodes(drain_makespan.BLUE))
    assert len(cluster.node_group_nodes(drain_makespan.GREEN)) == 3
    pods = [p for p in cluster.list_pods() if occupying(p)]
    assert pods
    assert all(p.ready and p.node_name in blue for p in pods)
