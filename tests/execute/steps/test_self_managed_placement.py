"""The self-managed step re-checks placement before it cordons (issue 11, item 1 d).

The new instances come from the launch template and the group's subnets, not from what the old
nodes carry now: a label someone put on the old nodes by hand, or a zone the group no longer
launches into (its subnets changed since the old instances started), leaves pods nowhere to go.
The step must refuse before the first cordon, name the workload and what the new nodes lack,
and take the surge back, rather than evict pods into Pending.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execute.steps.test_self_managed import GROUP, _group, add_group, plan
from tests.execute.worlds import CLUSTER, MIB, Runner, build_world
from upgrader.core.kube import (
    LabelSelector,
    NodeAffinity,
    PersistentVolume,
    PodSpec,
    PodTemplate,
    Resources,
    SelectorRequirement,
    Volume,
    Workload,
    WorkloadKind,
)
from upgrader.execute.engine import RunStatus
from upgrader.sandbox.world import Sandbox

ZONE = "topology.kubernetes.io/zone"


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox() as world:
        build_world(world, general=1, batch=0, autoscaler=False, network=True)
        add_group(world)
        yield world


def _deployment(name: str, spec: PodSpec, replicas: int = 1) -> Workload:
    labels = {"app": name}
    return Workload(
        WorkloadKind.DEPLOYMENT,
        "shop",
        name,
        LabelSelector(labels),
        PodTemplate(labels, spec=spec),
        replicas=replicas,
        labels=labels,
    )


def _assert_untouched(world: Sandbox, result_error: str, old_images: set[str]) -> None:
    group = _group(world)
    assert {i.image_id for i in group.instances} == old_images
    assert group.desired_capacity == 2
    assert group.suspended_processes == ()
    kube = world.kube(CLUSTER)
    old = kube.list_nodes(label_selector="pool=legacy")
    assert len(old) == 2
    assert not any(n.unschedulable or n.taints for n in old)
    assert not [a for a in kube.actions if a.resource == "pods/eviction"]
    assert "Nothing was cordoned or evicted" in result_error
    assert "rolled back: new instances of legacy terminated" in result_error


def test_a_label_added_to_the_old_nodes_by_hand_is_refused_before_the_cordon(
    world: Sandbox, tmp_path: Path
) -> None:
    kube = world.kube(CLUSTER)
    for node in kube.list_nodes(label_selector="pool=legacy"):
        kube.label_node(node.name, {"team": "payments"})  # by hand, not in the user data
    spec = PodSpec(requests=Resources(100, 64 * MIB, 1), node_selector={"team": "payments"})
    kube.add_workload(_deployment("pay", spec, replicas=2), startup_seconds=5)
    world.settle(60)
    old_images = {i.image_id for i in _group(world).instances}
    kube.clear_actions()
    result = Runner(world, tmp_path).run(plan())
    assert result.status is RunStatus.FAILED
    error = result.error or ""
    assert f"refused before cordoning the old nodes of {GROUP}" in error
    assert "shop/pay: nodeSelector team=payments (the node has no team label)" in error
    assert "--node-labels" in error
    _assert_untouched(world, error, old_images)
    assert all(p.ready for p in kube.list_pods(namespace="shop", label_selector="app=pay"))


def test_an_ebs_volume_in_a_zone_the_group_no_longer_launches_into_is_refused(
    world: Sandbox, tmp_path: Path
) -> None:
    """VolumeBinding's filter (kubernetes pkg/scheduler/framework/plugins/volumebinding/
    binder.go, checkBoundClaims): a bound PV's node affinity must match the node. The group's
    subnets now leave out the zone where the volume and its pod are."""
    kube = world.kube(CLUSTER)
    old = kube.list_nodes(label_selector="pool=legacy")
    zone = old[0].labels[ZONE]
    subnets = world.aws.describe_cluster(CLUSTER).subnet_ids
    ec2 = world.boto3_client("ec2")
    by_zone = {
        s["SubnetId"]: s["AvailabilityZone"]
        for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    }
    elsewhere = [s for s in subnets if by_zone[s] != zone]
    world.boto3_client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=GROUP, VPCZoneIdentifier=",".join(elsewhere)
    )
    affinity = NodeAffinity(((SelectorRequirement(ZONE, "In", (zone,)),),))
    kube.add_persistent_volume(
        PersistentVolume("pv-ledger", "shop/data-ledger", affinity, "ebs.csi.aws.com")
    )
    spec = PodSpec(
        requests=Resources(100, 64 * MIB, 1),
        node_selector={"pool": "legacy"},
        volumes=(Volume("data", persistent_claim="data-ledger"),),
    )
    kube.add_workload(_deployment("ledger", spec), startup_seconds=5)
    world.settle(60)
    (ledger,) = kube.list_pods(namespace="shop", label_selector="app=ledger")
    assert ledger.node_name
    # The fake scheduler honours the volume's zone, as VolumeBinding does.
    assert kube.get_node(ledger.node_name).labels[ZONE] == zone
    old_images = {i.image_id for i in _group(world).instances}
    kube.clear_actions()
    result = Runner(world, tmp_path).run(plan())
    assert result.status is RunStatus.FAILED
    error = result.error or ""
    assert "shop/ledger: PersistentVolume pv-ledger (claim shop/data-ledger)" in error
    assert f"{ZONE} In ({zone})" in error
    _assert_untouched(world, error, old_images)
