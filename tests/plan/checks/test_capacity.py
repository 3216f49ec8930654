from __future__ import annotations

from dataclasses import replace

from tests.plan.checks.factories import (
    context,
    daemon_pod,
    node,
    nodegroup,
    only,
    pod,
    run,
    self_managed,
    snapshot,
    subnet,
)
from upgrader.core.aws import NodegroupTaint
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    Node,
    Pod,
    Taint,
    TaintEffect,
    Toleration,
    TopologySpread,
)
from upgrader.plan.checks import CheckStatus, NodeStrategy, Severity
from upgrader.plan.snapshot import ClusterSnapshot, InstanceTypeInfo

BLUE = tuple(node(f"n{i}", cpu="4", memory="16Gi") for i in range(3))
DAEMONS = tuple(daemon_pod(f"aws-node-{n.name}", n.name, cpu="500m") for n in BLUE)


def _web(count: int, cpu: str = "1") -> tuple[Pod, ...]:
    return tuple(pod(f"web-{i}", node=f"n{i % 3}", cpu=cpu, memory="1Gi") for i in range(count))


def _snap(*pods: Pod, nodes: tuple[Node, ...] = BLUE, **fields: object) -> ClusterSnapshot:
    fields.setdefault("nodegroups", (nodegroup("ng-a"),))
    return snapshot(nodes=nodes, pods=(*DAEMONS, *pods), **fields)


def test_green_copy_holds_the_pods() -> None:
    assert only(run("capacity", _snap(*_web(9)))).status is CheckStatus.PASS


def test_green_copy_too_small_counts_daemonset_overhead() -> None:
    # 3 nodes x 4 CPUs, minus 0.5 CPU of DaemonSet per node: 9 one-CPU pods fit, 12 do not.
    finding = only(run("capacity", _snap(*_web(12))))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "a green copy of managed node group ng-a (3 nodes) cannot hold its pods: 3 of 12" in (
        finding.message
    )
    assert "about 1 more node needed" in finding.message
    assert finding.objects == ("nodegroup/ng-a",)
    assert "at least 4 nodes" in finding.remedy


def test_pods_pinned_to_the_blue_group_cannot_move() -> None:
    pinned = pod(
        "pinned-5d9f-x",
        node="n0",
        owner=("ReplicaSet", "pinned-5d9f"),
        labels={"app": "pinned", "pod-template-hash": "5d9f"},
        node_selector={NODEGROUP_LABEL: "ng-a"},
    )
    host = pod(
        "host",
        node="n1",
        owner=("StatefulSet", "db"),
        node_selector={"kubernetes.io/hostname": "n1"},
    )
    findings = run("capacity", _snap(pinned, host, *_web(3)))
    assert all("cannot run on its green copy" in f.message for f in findings)
    assert sorted(f.objects for f in findings) == [("default/db",), ("default/pinned",)]
    by_object = {f.objects: f for f in findings}
    assert "nodeSelector kubernetes.io/hostname=n1" in by_object[("default/db",)].message
    assert "eks.amazonaws.com/nodegroup=<green>" in by_object[("default/pinned",)].message
    assert "instead of the node group's name" in by_object[("default/pinned",)].remedy


def test_configured_taints_carry_over_and_transient_taints_do_not() -> None:
    gpu = Taint("nvidia.com/gpu", TaintEffect.NO_SCHEDULE)
    cordoned = Taint("node.kubernetes.io/unschedulable", TaintEffect.NO_SCHEDULE)
    nodes = tuple(node(f"n{i}", taints=(gpu, cordoned)) for i in range(3))
    group = replace(
        nodegroup("ng-a"), taints=(NodegroupTaint("nvidia.com/gpu", "", "NO_SCHEDULE"),)
    )
    tolerant = tuple(
        pod(f"train-{i}", node=f"n{i}", tolerations=(Toleration("nvidia.com/gpu", "Exists"),))
        for i in range(3)
    )
    snap = _snap(*tolerant, nodes=nodes, nodegroups=(group,))
    assert only(run("capacity", snap)).status is CheckStatus.PASS
    intolerant = pod("plain", node="n0", owner=("ReplicaSet", "plain-1"))
    finding = only(run("capacity", _snap(*tolerant, intolerant, nodes=nodes, nodegroups=(group,))))
    assert finding.objects == ("default/plain-1",)
    assert "taint nvidia.com/gpu:NoSchedule (not tolerated)" in finding.message


def test_a_taint_added_to_blue_by_hand_does_not_come_back_on_green() -> None:
    # Green is made from the group's configuration: a hand-made taint only makes blue stricter.
    hand = Taint("maintenance", TaintEffect.NO_SCHEDULE)
    nodes = tuple(node(f"n{i}", taints=(hand,)) for i in range(3))
    plain = pod("plain", node="n0", owner=("ReplicaSet", "plain-1"))
    assert only(run("capacity", _snap(plain, nodes=nodes))).status is CheckStatus.PASS


def test_a_label_added_to_blue_by_hand_blocks_the_plan() -> None:
    """Issue 11: a Deployment selects a label someone put on the blue nodes by hand. Green is
    made from the node group's configuration, which does not have it: the pods would stay
    Pending on green. The plan must say so, naming the workload, the label and the remedy."""
    nodes = tuple(node(f"n{i}", labels={"team": "payments"}) for i in range(3))
    pinned = tuple(
        pod(
            f"pay-{i}",
            node=f"n{i}",
            owner=("ReplicaSet", "pay-7c4d"),
            labels={"app": "pay", "pod-template-hash": "7c4d"},
            node_selector={"team": "payments"},
        )
        for i in range(3)
    )
    finding = only(run("capacity", _snap(*pinned, nodes=nodes)))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert finding.objects == ("default/pay",)
    assert "nodeSelector team=payments (the node has no team label)" in finding.message
    assert "team=payments is on the blue nodes but not in node group ng-a's labels" in (
        finding.remedy
    )
    assert "suppressing check capacity" in finding.remedy
    # The same label in the group's configuration: green will have it.
    group = replace(nodegroup("ng-a"), labels={"team": "payments"})
    snap = _snap(*pinned, nodes=nodes, nodegroups=(group,))
    assert only(run("capacity", snap)).status is CheckStatus.PASS


def test_zone_instance_type_and_capacity_type_come_from_the_group() -> None:
    nodes = tuple(
        node(
            f"n{i}",
            labels={
                "topology.kubernetes.io/zone": "us-east-1a",
                "node.kubernetes.io/instance-type": "m5.xlarge",
            },
        )
        for i in range(3)
    )
    group = replace(
        nodegroup("ng-a", subnets=("subnet-a", "subnet-b")), instance_types=("m6i.xlarge",)
    )
    subnets = (subnet("subnet-a", az="us-east-1a"), subnet("subnet-b", az="us-east-1b"))
    zonal = pod(
        "z",
        node="n0",
        owner=("ReplicaSet", "z-1"),
        node_selector={"topology.kubernetes.io/zone": "us-east-1b"},
    )
    snap = _snap(zonal, nodes=nodes, nodegroups=(group,), subnets=subnets)
    assert only(run("capacity", snap)).status is CheckStatus.PASS
    typed = pod(
        "t",
        node="n0",
        owner=("ReplicaSet", "t-1"),
        node_selector={"node.kubernetes.io/instance-type": "m5.xlarge"},
    )
    finding = only(run("capacity", _snap(typed, nodes=nodes, nodegroups=(group,), subnets=subnets)))
    assert "node.kubernetes.io/instance-type=m5.xlarge (the node has " in finding.message
    spot = pod(
        "s",
        node="n0",
        owner=("ReplicaSet", "s-1"),
        node_selector={"eks.amazonaws.com/capacityType": "SPOT"},
    )
    finding = only(run("capacity", _snap(spot, nodes=nodes, nodegroups=(group,), subnets=subnets)))
    assert "capacityType=SPOT (the node has eks.amazonaws.com/capacityType=ON_DEMAND)" in (
        finding.message
    )


def test_bare_and_daemonset_pods_are_not_moved() -> None:
    bare = tuple(pod(f"bare-{i}", node="n0", owner=None, cpu="3") for i in range(5))
    assert only(run("capacity", _snap(*bare))).status is CheckStatus.PASS


def test_self_managed_groups_are_estimated_too() -> None:
    nodes = tuple(node(f"n{i}", group=None, instance=f"i-{i}") for i in range(3))
    group = self_managed("smg-a", instances=("i-0", "i-1", "i-2"))
    finding = only(run("capacity", _snap(*_web(12), nodes=nodes, self_managed_groups=(group,))))
    assert finding.objects == ("asg/smg-a",)


def test_capacity_in_place_passes() -> None:
    ctx = context(strategy=NodeStrategy.IN_PLACE)
    finding = only(run("capacity", _snap(*_web(12)), ctx))
    assert finding.status is CheckStatus.PASS
    assert "in-place" in finding.message


def test_capacity_without_pods_is_not_assessed() -> None:
    snap = snapshot(nodes=BLUE, not_assessed={"pods": "list pods (core/v1)"})
    assert only(run("capacity", snap)).status is CheckStatus.NOT_ASSESSED


def test_surge_beyond_the_vcpu_quota() -> None:
    snap = _snap(
        nodegroups=(nodegroup("ng-a", desired=10),),
        instance_types={"m5.xlarge": InstanceTypeInfo("m5.xlarge", 4, 16384)},
        vcpu_quota=64,
        vcpus_in_use=32,
    )
    finding = only(run("surge-capacity", snap))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "launches 10 instances (40 vCPUs)" in finding.message
    assert "leaves 32 with 32 in use in the account" in finding.message
    assert finding.objects == ("nodegroup/ng-a",)


def test_surge_vcpus_estimated_from_allocatable_and_this_clusters_nodes() -> None:
    snap = _snap(nodegroups=(nodegroup("ng-a", desired=3),), vcpu_quota=20)
    finding = only(run("surge-capacity", snap))
    assert "(12 vCPUs)" in finding.message
    assert "other clusters not counted" in finding.message


def test_surge_beyond_the_node_subnets_free_ips() -> None:
    snap = _snap(*_web(30), subnets=(subnet("subnet-a", free=20), subnet("subnet-b", free=10)))
    finding = only(run("surge-capacity", snap))
    assert "needs about 36 IPs (3 new nodes x 12) but its subnets have 30 free" in finding.message


def test_in_place_surges_fewer_nodes() -> None:
    group = nodegroup("ng-a", desired=10)
    snap = _snap(
        nodegroups=(group,),
        instance_types={"m5.xlarge": InstanceTypeInfo("m5.xlarge", 4)},
        vcpu_quota=64,
        vcpus_in_use=32,
    )
    ctx = context(strategy=NodeStrategy.IN_PLACE)
    assert only(run("surge-capacity", snap, ctx)).status is CheckStatus.PASS


def test_surge_passes_with_room() -> None:
    assert only(run("surge-capacity", _snap(vcpu_quota=1000))).status is CheckStatus.PASS


def test_surge_quota_unreadable_is_not_assessed() -> None:
    snap = _snap(not_assessed={"vcpu-quota": "servicequotas:GetServiceQuota"})
    finding = only(run("surge-capacity", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "servicequotas:GetServiceQuota" in finding.message


def test_a_topology_spread_key_green_will_not_have_blocks_the_plan() -> None:
    """PodTopologySpread: with DoNotSchedule, a node without the topology key's label is not
    eligible. A key someone put on blue by hand leaves the pods nowhere to go on green."""
    nodes = tuple(
        node(f"n{i}", labels={"rack": f"r{i}", "topology.kubernetes.io/zone": "us-east-1a"})
        for i in range(3)
    )

    def spread(key: str, when: str = "DoNotSchedule") -> Pod:
        base = pod("s", node="n0", owner=("ReplicaSet", "s-1"))
        return replace(
            base, spec=replace(base.spec, topology_spread=(TopologySpread(key, 1, when),))
        )

    finding = only(run("capacity", _snap(spread("rack"), nodes=nodes)))
    assert "topologySpreadConstraint on rack (DoNotSchedule" in finding.message
    zonal = spread("topology.kubernetes.io/zone")
    assert only(run("capacity", _snap(zonal, nodes=nodes))).status is CheckStatus.PASS
    lenient = spread("rack", "ScheduleAnyway")
    assert only(run("capacity", _snap(lenient, nodes=nodes))).status is CheckStatus.PASS
