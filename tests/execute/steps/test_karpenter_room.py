"""The karpenter-drift step re-checks the NodePool's spec.limits against what its drift must add
before it patches anything. Karpenter pre-spins each replacement and waits for it to be ready
before it deletes the drifted node (website/content/en/docs/concepts/disruption.md, "Disruption
Controller"), and launches nothing past the pool's limits (nodepools.md, "spec.limits": "nodes
provisioning is prevented until some nodes have been terminated"). A pool at its limits, whose
pods no other node has room for, would never drift: the step refuses (nothing changed) naming
the limits, what the nodes count and what the pods need. The fake Karpenter keeps such nodes too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from tests.execute.steps.test_karpenter import (
    NODES,
    POOL,
    CountingCluster,
    KarpenterWorld,
    _build,
    _hand,
)
from tests.execute.worlds import Runner
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import KARPENTER_NODEPOOL_LABEL, AmiSelectorTerm, PoolResources
from upgrader.execute.engine import RunStatus
from upgrader.sandbox.world import Sandbox


def _limit_cpu(kw: KarpenterWorld, millis: int) -> None:
    pool = next(p for p in kw.kube.list_node_pools() if p.name == POOL)
    kw.karpenter.add_node_pool(replace(pool, limits=PoolResources(cpu_millis=millis)), nodes=0)


def test_the_step_refuses_when_the_limits_leave_no_room_for_a_replacement(
    tmp_path: Path,
) -> None:
    with Sandbox() as world:
        kw = _build(world)
        (pool,) = kw.kube.list_node_pools()
        assert pool.usage == PoolResources(4000 * NODES, 16 * 2**30 * NODES, NODES)
        _limit_cpu(kw, 4000 * NODES)  # exactly what its nodes count
        cluster = CountingCluster(kw.kube)
        runner = Runner(world, tmp_path)
        result = runner.run(_hand(), ports=runner.ports(cluster=cluster))

        assert result.status is RunStatus.REFUSED, runner.out.getvalue()
        assert result.exit_code == ExitCode.REFUSED == 3
        error = result.error or ""
        assert "refused before changing anything for NodePool general" in error
        assert "NodePool general's spec.limits (cpu 16000m) leave room for no replacement" in error
        assert "from status.resources; room cpu 0m" in error
        assert cluster.calls == Counter()
        assert kw.kube.get_node_class("default").ami_selector_terms == (
            AmiSelectorTerm(id=kw.images["1.29"]),
        )


def test_with_room_for_one_replacement_the_drift_goes_through(tmp_path: Path) -> None:
    """Room for one m5.xlarge above what the nodes count: the check passes and the fake
    Karpenter replaces every node, one replacement at a time under the limit."""
    with Sandbox() as world:
        kw = _build(world)
        _limit_cpu(kw, 4000 * (NODES + 1))
        result = Runner(world, tmp_path).run(_hand())
        assert result.status is RunStatus.SUCCEEDED, result.error
        assert kw.minors() == ["1.30"] * NODES
        assert kw.karpenter.max_disrupting[POOL] == 1
        assert len(kw.kube.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}={POOL}")) == NODES


def test_the_fake_karpenter_keeps_drifted_nodes_at_the_limits() -> None:
    """A patch made behind eksup's back: the pool drifts, but no replacement may launch."""
    with Sandbox() as world:
        kw = _build(world)
        _limit_cpu(kw, 4000 * NODES)
        kw.kube.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=kw.images["1.30"])])
        world.settle(1800)
        assert kw.minors() == ["1.29"] * NODES
        assert kw.kube.stats.lost_pods == ()
