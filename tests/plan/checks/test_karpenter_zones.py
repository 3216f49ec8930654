"""karpenter-placement, zonal part: EBS volumes and DoNotSchedule zone spread against the zones
a drifting NodePool's new nodes may be in (upgrader/core/nodepool_zones.py).

Karpenter's rules (aws/karpenter-provider-aws website/content/en/docs/concepts/scheduling.md):
"Persistent Volume Topology": Karpenter includes a pod's volume topology in its launch decision,
within the NodePool's requirements ("if the NodePool sets limits that allow only a particular
zone to be used, and a pod asks for a different zone, it will not be scheduled");
disruption.md, "Drift": a drifted node is replaced only when the scheduling simulation finds a
place for its pods, and it stands (and counts) until its replacement is ready and it is drained.
The scheduler's: VolumeBinding refuses a node a bound PV's nodeAffinity does not match
(kubernetes pkg/scheduler/framework/plugins/volumebinding/binder.go, `checkBoundClaims`);
PodTopologySpread counts every node carrying the key, the draining ones too
(plugins/podtopologyspread/filtering.go).
"""

from __future__ import annotations

from dataclasses import replace

from tests.plan.checks.factories import node, pod, run, snapshot
from upgrader.core.kube import (
    LabelSelector,
    NodeAffinity,
    NodeClass,
    NodePool,
    PersistentVolume,
    Pod,
    SelectorRequirement,
    TopologySpread,
    Volume,
)
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.checks.findings import Finding
from upgrader.plan.snapshot import ClusterSnapshot, Read

CHECK = "karpenter-placement"
ZONE = "topology.kubernetes.io/zone"
EBS_ZONE = "topology.ebs.csi.aws.com/zone"
NODES = tuple(
    node(f"k{z}", group=None, karpenter_pool="general", labels={ZONE: f"us-east-1{z}"})
    for z in "abc"
)


def _zones(*zones: str) -> tuple[SelectorRequirement, ...]:
    return (SelectorRequirement(ZONE, "In", tuple(f"us-east-1{z}" for z in zones)),)


def _db(zone: str) -> tuple[Pod, PersistentVolume]:
    base = pod("db-0", "shop", node=f"k{zone}", owner=("StatefulSet", "db"))
    spec = replace(base.spec, volumes=(Volume("data", persistent_claim="data-db-0"),))
    affinity = NodeAffinity(((SelectorRequirement(EBS_ZONE, "In", (f"us-east-1{zone}",)),),))
    volume = PersistentVolume("pv-db", "shop/data-db-0", affinity, "ebs.csi.aws.com")
    return replace(base, spec=spec), volume


def _snap(*pods: Pod, pools: tuple[NodePool, ...], **fields: object) -> ClusterSnapshot:
    return snapshot(nodes=NODES, pods=pods, node_pools=pools, **fields)


def _failures(snap: ClusterSnapshot) -> list[Finding]:
    return [f for f in run(CHECK, snap) if f.status is not CheckStatus.PASS]


def test_an_ebs_volume_in_a_zone_the_nodepool_no_longer_allows_blocks_the_plan() -> None:
    """The volume is in us-east-1c; the pool now launches only in a and b: the pod's
    replacement node can be made nowhere its volume is (fails on the check without zones)."""
    db, volume = _db("c")
    pool = NodePool("general", "default", requirements=_zones("a", "b"))
    (finding,) = _failures(_snap(db, pools=(pool,), persistent_volumes=(volume,)))
    assert (finding.status, finding.severity) == (CheckStatus.FAIL, Severity.ERROR)
    assert finding.objects == ("shop/db", "nodepool/general")
    assert "cannot follow their EBS volume" in finding.message
    assert "PersistentVolume pv-db (claim shop/data-db-0)" in finding.message
    assert f"{EBS_ZONE} In (us-east-1c)" in finding.message
    assert "the nodes NodePool general may create for this pod are in us-east-1a, us-east-1b" in (
        finding.message
    )
    assert f"NodePool general allows {ZONE} us-east-1a, us-east-1b" in finding.message
    assert "topology.kubernetes.io/zone requirement" in finding.remedy
    assert "snapshot the EBS volume" in finding.remedy
    assert "suppressing check karpenter-placement" in finding.remedy


def test_a_volume_the_pool_or_another_pool_can_reach_passes() -> None:
    db, volume = _db("c")
    allowed = NodePool("general", "default", requirements=_zones("b", "c"))
    assert not _failures(_snap(db, pools=(allowed,), persistent_volumes=(volume,)))
    # No zone requirement: the pool launches where its EC2NodeClass's subnets are (not read);
    # the volume's zone is one the cluster's nodes are in, so it is taken as reachable.
    open_pool = NodePool("general", "default")
    assert not _failures(_snap(db, pools=(open_pool,), persistent_volumes=(volume,)))
    # Karpenter's simulation may place the pod on any NodePool's nodes.
    narrow = NodePool("general", "default", requirements=_zones("a"))
    other = NodePool("spare", "default", requirements=_zones("c"))
    assert not _failures(_snap(db, pools=(narrow, other), persistent_volumes=(volume,)))


def test_the_ec2nodeclass_subnets_bound_the_zones_too() -> None:
    """Karpenter launches into the EC2NodeClass's subnets (nodeclasses.md,
    "spec.subnetSelectorTerms"; their zones are its status.subnets): a pool with no zone
    requirement whose class has subnets in a and b only cannot follow a volume in c, nor can
    one whose requirement names c but whose class has no subnet there."""
    db, volume = _db("c")
    node_class = NodeClass("default", zones=("us-east-1a", "us-east-1b"))
    for pool in (
        NodePool("general", "default"),
        NodePool("general", "default", requirements=_zones("a", "c")),
    ):
        snap = _snap(db, pools=(pool,), persistent_volumes=(volume,), node_classes=(node_class,))
        (finding,) = _failures(snap)
        assert "its EC2NodeClass default's subnets are in us-east-1a, us-east-1b" in (
            finding.message
        )
        assert f"{EBS_ZONE} In (us-east-1c)" in finding.message
    covering = NodeClass("default", zones=("us-east-1a", "us-east-1b", "us-east-1c"))
    open_pool = NodePool("general", "default")
    snap = _snap(db, pools=(open_pool,), persistent_volumes=(volume,), node_classes=(covering,))
    assert not _failures(snap)


def test_a_zone_excluded_by_notin_blocks_too() -> None:
    db, volume = _db("b")
    pool = NodePool(
        "general", "default", requirements=(SelectorRequirement(ZONE, "NotIn", ("us-east-1b",)),)
    )
    (finding,) = _failures(_snap(db, pools=(pool,), persistent_volumes=(volume,)))
    assert f"{EBS_ZONE} In (us-east-1b)" in finding.message
    assert "are in us-east-1a, us-east-1c" in finding.message


def test_a_denied_volume_read_is_not_a_pass_when_moving_pods_have_claims() -> None:
    db, _ = _db("c")
    pool = NodePool("general", "default", requirements=_zones("a", "b"))
    denied = {Read.PERSISTENT_VOLUMES.value: "list persistentvolumes"}
    (finding,) = _failures(_snap(db, pools=(pool,), not_assessed=denied))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "list persistentvolumes" in finding.message
    web = pod("web-1", "shop", node="ka")
    assert not _failures(_snap(web, pools=(pool,), not_assessed=denied))


SPREAD = TopologySpread(ZONE, 1, "DoNotSchedule", label_selector=LabelSelector({"app": "web"}))


def _web(zone: str, spread: TopologySpread = SPREAD, index: int = 0) -> Pod:
    base = pod(f"web-{zone}{index}", "shop", node=f"k{zone}")
    labels = {"app": "web", "pod-template-hash": "5d9f"}
    return replace(base, labels=labels, spec=replace(base.spec, topology_spread=(spread,)))


def test_a_zone_spread_over_a_zone_the_pool_dropped_blocks_the_plan() -> None:
    """Three pods, one per zone, maxSkew 1; the pool now launches in a and b only. The drifting
    node in c counts (0 once its pod left) until deleted: a and b hold 1 each, so the last
    replacement fits nowhere (minimum 0, 1 + 1 - 0 > 1)."""
    webs = [_web(z) for z in "abc"]
    pool = NodePool("general", "default", requirements=_zones("a", "b"))
    (finding,) = _failures(_snap(*webs, pools=(pool,)))
    assert (finding.status, finding.severity) == (CheckStatus.FAIL, Severity.ERROR)
    assert finding.objects == ("shop/web", "nodepool/general")
    assert "topologySpreadConstraint on topology.kubernetes.io/zone (maxSkew 1" in finding.message
    assert "after 2 of 3 pods move" in finding.message
    assert "us-east-1c 0 (blue only)" in finding.message
    assert "raise maxSkew" in finding.remedy


def test_a_zone_spread_the_pools_zones_cover_passes() -> None:
    webs = [_web(z) for z in "abc"]
    assert not _failures(_snap(*webs, pools=(NodePool("general", "default"),)))
    covered = NodePool("general", "default", requirements=_zones("a", "b", "c"))
    assert not _failures(_snap(*webs, pools=(covered,)))
    lenient = [_web(z, replace(SPREAD, max_skew=2)) for z in "abc"]
    narrow = NodePool("general", "default", requirements=_zones("a", "b"))
    assert not _failures(_snap(*lenient, pools=(narrow,)))


def test_hostname_spread_is_not_a_problem_for_karpenter() -> None:
    """Karpenter launches as many nodes as the pods need: each new node is a new hostname
    domain, so per-hostname DoNotSchedule spread never stops a drift replacement."""
    host = TopologySpread(
        "kubernetes.io/hostname", 1, "DoNotSchedule", label_selector=LabelSelector({"app": "web"})
    )
    webs = [_web(z, host) for z in "abc"]
    narrow = NodePool("general", "default", requirements=_zones("a"))
    assert not _failures(_snap(*webs, pools=(narrow,)))
