"""The karpenter-drift step re-checks EBS volume zones against the NodePools as read when it
runs, before it patches anything: a pod whose bound volume is in a zone the NodePool no longer
allows would have nowhere to go (Karpenter's scheduling.md, "Persistent Volume Topology":
Karpenter launches in the volume's zone, within the NodePool's requirements; the scheduler's
VolumeBinding filter, kubernetes pkg/scheduler/framework/plugins/volumebinding/binder.go,
refuses every other node). Likewise a DoNotSchedule zone spread
the NodePool's zones cannot meet while the drifting nodes still count (the scheduler's
PodTopologySpread filter, plugins/podtopologyspread/filtering.go; the replay is
upgrader/core/spread.py's). The step refuses (nothing changed, exit 3) naming the workload,
the volume, its zone and what the NodePool allows."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from tests.execute.steps.test_karpenter import POOL, CountingCluster, KarpenterWorld, _build, _hand
from tests.execute.worlds import Runner, _app
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import (
    AmiSelectorTerm,
    NodeAffinity,
    PersistentVolume,
    PodTemplate,
    SelectorRequirement,
    TopologySpread,
    Volume,
    WorkloadKind,
)
from upgrader.execute.engine import RunStatus
from upgrader.sandbox.world import Sandbox

ZONE = "topology.kubernetes.io/zone"


def _ledger_in(kw: KarpenterWorld, zone: str) -> None:
    """A Deployment whose claim is bound to an EBS volume in `zone` (the fake scheduler
    honours the volume's zone, as VolumeBinding does)."""
    affinity = NodeAffinity(((SelectorRequirement(ZONE, "In", (zone,)),),))
    kw.kube.add_persistent_volume(
        PersistentVolume("pv-ledger", "shop/data-ledger", affinity, "ebs.csi.aws.com")
    )
    app = _app(WorkloadKind.DEPLOYMENT, "shop", "ledger", 1)
    spec = replace(app.template.spec, volumes=(Volume("data", persistent_claim="data-ledger"),))
    kw.kube.add_workload(
        replace(app, template=PodTemplate(labels=app.template.labels, spec=spec)),
        startup_seconds=5,
    )
    kw.world.settle(60)
    (ledger,) = kw.kube.list_pods("shop", label_selector="app=ledger")
    assert kw.kube.get_node(ledger.node_name).labels[ZONE] == zone


def _allow_zones(kw: KarpenterWorld, zones: tuple[str, ...]) -> None:
    pool = next(p for p in kw.kube.list_node_pools() if p.name == POOL)
    requirement = SelectorRequirement(ZONE, "In", zones)
    kw.karpenter.add_node_pool(replace(pool, requirements=(requirement,)), nodes=0)


def test_the_step_refuses_when_a_volume_zone_is_one_the_nodepool_no_longer_allows(
    tmp_path: Path,
) -> None:
    with Sandbox() as world:
        kw = _build(world)
        zones = sorted({n.labels[ZONE] for n in kw.kube.list_nodes()})
        assert len(zones) > 1
        _ledger_in(kw, zones[0])
        _allow_zones(kw, tuple(zones[1:]))
        cluster = CountingCluster(kw.kube)
        runner = Runner(world, tmp_path)
        result = runner.run(_hand(), ports=runner.ports(cluster=cluster))

        assert result.status is RunStatus.REFUSED, runner.out.getvalue()
        assert result.exit_code == ExitCode.REFUSED == 3
        error = result.error or ""
        assert "refused before changing anything for NodePool general" in error
        assert "shop/ledger: PersistentVolume pv-ledger (claim shop/data-ledger)" in error
        assert f"{ZONE} In ({zones[0]})" in error
        assert f"NodePool general allows {ZONE} {', '.join(zones[1:])}" in error
        assert cluster.calls == Counter()  # no patch, no eviction
        assert kw.kube.get_node_class("default").ami_selector_terms == (
            AmiSelectorTerm(id=kw.images["1.29"]),
        )

        # With the volume's zone allowed again, the same check lets the step go on: a dry run
        # gets past it.
        _allow_zones(kw, tuple(zones))
        (tmp_path / "again").mkdir()
        again = Runner(world, tmp_path / "again").run(_hand(), dry_run=True)
        assert not any("pv-ledger" in b for b in again.blockers), again.blockers
        assert "pv-ledger" not in (again.error or "")


def test_the_step_refuses_when_a_zone_spread_cannot_be_met_on_the_nodepools_zones(
    tmp_path: Path,
) -> None:
    with Sandbox() as world:
        kw = _build(world)
        zones = sorted({n.labels[ZONE] for n in kw.kube.list_nodes()})
        assert len(zones) == 3
        app = _app(WorkloadKind.DEPLOYMENT, "shop", "spread", 3)
        spread = TopologySpread(ZONE, 1, "DoNotSchedule", label_selector=app.selector)
        spec = replace(app.template.spec, topology_spread=(spread,))
        kw.kube.add_workload(
            replace(app, template=PodTemplate(labels=app.template.labels, spec=spec)),
            startup_seconds=5,
        )
        kw.world.settle(60)
        # The fake scheduler does not honour spread when it first places the pods (they may
        # share a zone); what counts here is eksup's replay: with the pool down to one zone,
        # that zone may hold at most 1 + the least loaded zone's count, and the drifting
        # nodes' zones drop to 0 as their pods leave, so 3 pods cannot all land.
        placed = kw.kube.list_pods("shop", label_selector="app=spread")
        assert len({kw.kube.get_node(p.node_name).labels[ZONE] for p in placed}) > 1
        _allow_zones(kw, (zones[0],))
        cluster = CountingCluster(kw.kube)
        runner = Runner(world, tmp_path)
        result = runner.run(_hand(), ports=runner.ports(cluster=cluster))

        assert result.status is RunStatus.REFUSED, runner.out.getvalue()
        error = result.error or ""
        assert "shop/spread: topologySpreadConstraint on topology.kubernetes.io/zone" in error
        assert "(blue only)" in error
        assert "NodePool general" in error
        assert cluster.calls == Counter()


def test_the_fake_karpenter_keeps_a_drifted_node_whose_pods_volume_zone_is_not_allowed() -> None:
    """A patch made behind eksup's back: the pool drifts, but the node whose pod's volume is
    in a zone the pool no longer allows stays, as Karpenter's simulation keeps it."""
    with Sandbox() as world:
        kw = _build(world)
        zones = sorted({n.labels[ZONE] for n in kw.kube.list_nodes()})
        _ledger_in(kw, zones[0])
        _allow_zones(kw, tuple(zones[1:]))
        kw.kube.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=kw.images["1.30"])])
        world.settle(3600)
        (ledger,) = kw.kube.list_pods("shop", label_selector="app=ledger")
        assert ledger.ready
        assert kw.kube.get_node(ledger.node_name).minor_version == "1.29"
        assert kw.kube.stats.lost_pods == ()
