"""`zonal-placement`: EBS volumes and DoNotSchedule zone spread against green's zones.

Volumes: the scheduler's VolumeBinding filter refuses a node a bound PV's
`spec.nodeAffinity.required` does not match ("volume node affinity conflict";
kubernetes pkg/scheduler/framework/plugins/volumebinding/binder.go, `checkBoundClaims`).
Spread: PodTopologySpread's Filter (see tests/core/test_spread.py for the rule's cases).
"""

from __future__ import annotations

from dataclasses import replace

from tests.plan.checks.factories import context, node, nodegroup, only, pod, run, snapshot, subnet
from upgrader.core.kube import (
    LabelSelector,
    NodeAffinity,
    PersistentVolume,
    Pod,
    SelectorRequirement,
    TopologySpread,
    Volume,
)
from upgrader.plan.checks import CheckStatus, NodeStrategy, Severity
from upgrader.plan.snapshot import ClusterSnapshot

ZONE = "topology.kubernetes.io/zone"
EBS_ZONE = "topology.ebs.csi.aws.com/zone"
BLUE = tuple(node(f"n{z}", labels={ZONE: f"us-east-1{z}"}) for z in "abc")
SUBNETS = (subnet("subnet-a", az="us-east-1a"), subnet("subnet-b", az="us-east-1b"))


def _snap(*pods: Pod, zones: str = "ab", **fields: object) -> ClusterSnapshot:
    subnets = tuple(subnet(f"subnet-{z}", az=f"us-east-1{z}") for z in zones)
    group = nodegroup("ng-a", subnets=tuple(s.id for s in subnets))
    return snapshot(nodes=BLUE, pods=pods, nodegroups=(group,), subnets=subnets, **fields)


def _db(zone: str) -> tuple[Pod, PersistentVolume]:
    base = pod("db-0", node=f"n{zone}", owner=("StatefulSet", "db"))
    spec = replace(base.spec, volumes=(Volume("data", persistent_claim="data-db-0"),))
    affinity = NodeAffinity(((SelectorRequirement(EBS_ZONE, "In", (f"us-east-1{zone}",)),),))
    volume = PersistentVolume("pv-1", "default/data-db-0", affinity, "ebs.csi.aws.com")
    return replace(base, spec=spec), volume


def test_an_ebs_volume_in_a_zone_green_lacks_blocks_the_plan() -> None:
    db, volume = _db("c")
    finding = only(run("zonal-placement", _snap(db, persistent_volumes=(volume,))))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert finding.objects == ("default/db",)
    assert "PersistentVolume pv-1 (claim default/data-db-0)" in finding.message
    assert f"{EBS_ZONE} In (us-east-1c)" in finding.message
    assert "green's nodes for this pod are in us-east-1a, us-east-1b" in finding.message
    assert "subnet in the volume's zone" in finding.remedy
    assert "suppressing check zonal-placement" in finding.remedy


def test_a_volume_in_a_zone_green_covers_passes() -> None:
    """Green nodes carry the EBS CSI zone label under their own zone (the CSI node plugin sets
    it), so a volume pinned by either key finds them."""
    db, volume = _db("a")
    assert only(run("zonal-placement", _snap(db, persistent_volumes=(volume,)))).status is (
        CheckStatus.PASS
    )
    in_tree = replace(
        volume,
        node_affinity=NodeAffinity(((SelectorRequirement(ZONE, "In", ("us-east-1b",)),),)),
    )
    assert only(run("zonal-placement", _snap(db, persistent_volumes=(in_tree,)))).status is (
        CheckStatus.PASS
    )


def test_unbound_volumes_and_other_claims_do_not_pin() -> None:
    db, volume = _db("c")
    released = replace(volume, phase="Released")
    other = replace(volume, claim="default/other")
    for pvs in ((released,), (other,)):
        assert only(run("zonal-placement", _snap(db, persistent_volumes=pvs))).status is (
            CheckStatus.PASS
        )


def test_unreadable_volumes_are_not_assessed() -> None:
    db, _ = _db("c")
    snap = _snap(db, not_assessed={"persistent-volumes": "list persistentvolumes"})
    finding = only(run("zonal-placement", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "list persistentvolumes" in finding.message


def _web(zone: str, spread: TopologySpread, index: int = 0) -> Pod:
    base = pod(f"web-{zone}{index}", node=f"n{zone}", owner=("ReplicaSet", "web-5d9f"))
    labels = {"app": "web", "pod-template-hash": "5d9f"}
    return replace(base, labels=labels, spec=replace(base.spec, topology_spread=(spread,)))


SPREAD = TopologySpread(ZONE, 1, "DoNotSchedule", label_selector=LabelSelector({"app": "web"}))


def test_a_zone_spread_over_a_zone_green_lacks_blocks_the_plan() -> None:
    """Blue's node in us-east-1c stays a domain while it drains: once its pod is gone it holds
    0, and the replacement may go neither to a nor to b (1 each, maxSkew 1)."""
    webs = [_web(z, SPREAD) for z in "abc"]
    finding = only(run("zonal-placement", _snap(*webs)))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert finding.objects == ("default/web",)
    assert "after 2 of 3 pods move" in finding.message
    assert "us-east-1c 0 (blue only)" in finding.message
    assert "no node that can take them is in us-east-1c" in finding.message
    assert "raise maxSkew" in finding.remedy


def test_a_zone_spread_passes_when_green_covers_blue_zones_or_skew_allows() -> None:
    webs = [_web(z, SPREAD) for z in "abc"]
    assert only(run("zonal-placement", _snap(*webs, zones="abc"))).status is CheckStatus.PASS
    lenient = [_web(z, replace(SPREAD, max_skew=2)) for z in "abc"]
    assert only(run("zonal-placement", _snap(*lenient))).status is CheckStatus.PASS


def test_min_domains_beyond_green_zones_blocks_the_plan() -> None:
    """With 3 zones and minDomains 4 the minimum counts as 0, so a zone holds at most maxSkew
    pods: the second pod of a zone has nowhere to go (it was placed before minDomains was)."""
    webs = [_web(z, replace(SPREAD, min_domains=4), i) for z in "abc" for i in range(2)]
    finding = only(run("zonal-placement", _snap(*webs, zones="abc")))
    assert "than minDomains 4" in finding.message


def test_in_place_updates_pass() -> None:
    db, volume = _db("c")
    ctx = context(strategy=NodeStrategy.IN_PLACE)
    snap = _snap(db, persistent_volumes=(volume,))
    assert only(run("zonal-placement", snap, ctx)).status is CheckStatus.PASS
