from __future__ import annotations

from tests.plan.checks.factories import (
    context,
    node,
    nodegroup,
    only,
    pod,
    run,
    self_managed,
    snapshot,
)
from upgrader.core.kube import Node
from upgrader.plan.checks import CheckStatus, Finding, Severity


def _skew(version: str, *nodes: Node, target: str = "1.34") -> list[Finding]:
    return run("kubelet-skew", snapshot(version, nodes=nodes), context(target))


def test_kubelet_skew_passes_when_everything_matches() -> None:
    snap = snapshot(nodes=(node("n1"),), nodegroups=(nodegroup("ng-a"),))
    assert only(run("kubelet-skew", snap)).status is CheckStatus.PASS


def test_kubelet_newer_than_the_control_plane() -> None:
    finding = only(_skew("1.33", node("n1", kubelet="v1.34.0")))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert (
        "kubelet 1.34 on managed node group ng-a is newer than the control plane 1.33"
        in finding.message
    )
    assert finding.objects == ("node/n1",)


def test_kubelet_outside_the_skew_now() -> None:
    # 1.27 under a 1.31 control plane: 4 behind, 3 allowed.
    finding = only(_skew("1.31", node("old", group=None, kubelet="v1.27.9"), target="1.32"))
    assert "4 minors behind the control plane 1.31, beyond the supported 3" in finding.message
    assert finding.objects == ("node/old",)


def test_managed_node_group_on_another_minor_blocks_the_first_hop() -> None:
    snap = snapshot(
        "1.33",
        nodes=(node("n1", kubelet="v1.32.5"),),
        nodegroups=(nodegroup("ng-a", version="1.32"),),
    )
    finding = only(run("kubelet-skew", snap))
    assert finding.status is CheckStatus.FAIL
    assert finding.objects == ("nodegroup/ng-a",)
    assert "managed node group is on 1.32, not the control plane's 1.33" in finding.message


def test_fargate_pods_on_an_old_kubelet_name_the_pods() -> None:
    snap = snapshot(
        "1.33",
        nodes=(node("fargate-ip-1", fargate=True, kubelet="v1.32.5-eks"),),
        pods=(pod("api-1", "shop", node="fargate-ip-1"),),
    )
    finding = only(run("kubelet-skew", snap))
    assert "Fargate pods run kubelet 1.32" in finding.message
    assert finding.objects == ("shop/api-1",)


def test_self_managed_nodes_that_the_next_hop_would_leave_behind() -> None:
    # Control plane 1.33 -> 1.34: a 1.30 kubelet would be 4 behind 1.34.
    snap = snapshot(
        "1.33",
        nodes=(node("sm-1", group=None, kubelet="v1.30.2", instance="i-1"),),
        self_managed_groups=(self_managed("smg-a", instances=("i-1",)),),
    )
    finding = only(run("kubelet-skew", snap))
    assert (
        "kubelet 1.30 on self-managed group smg-a would be 4 minors behind 1.34" in finding.message
    )
    assert finding.objects == ("node/sm-1",)


def test_self_managed_nodes_within_skew_of_the_next_hop_pass() -> None:
    snap = snapshot(
        "1.33",
        nodes=(node("sm-1", group=None, kubelet="v1.31.2", instance="i-1"),),
        self_managed_groups=(self_managed("smg-a", instances=("i-1",)),),
    )
    assert only(run("kubelet-skew", snap)).status is CheckStatus.PASS


def test_kubelet_skew_with_node_groups_unreadable_is_not_assessed_in_part() -> None:
    snap = snapshot(nodes=(node("n1"),), not_assessed={"nodegroups": "eks:ListNodegroups"})
    finding = only(run("kubelet-skew", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "eks:ListNodegroups" in finding.message


def test_kubelet_skew_hops_needs_an_extra_replacement() -> None:
    # 1.30 -> 1.33 with a 1.29 self-managed kubelet: fine at 1.31 (2) and 1.32 (3), not at 1.33.
    snap = snapshot("1.30", nodes=(node("sm-1", group=None, kubelet="v1.29.0"),))
    finding = only(run("kubelet-skew-hops", snap, context("1.33")))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert "outside the supported skew when the control plane goes to 1.33" in finding.message
    assert "extra replacement at 1.32" in finding.message
    assert finding.objects == ("node/sm-1",)


def test_kubelet_skew_hops_passes_when_trailing_nodes_stay_within_skew() -> None:
    snap = snapshot(
        "1.30",
        nodes=(node("sm-1", group=None, kubelet="v1.30.0"), node("n1", kubelet="v1.30.0")),
    )
    assert only(run("kubelet-skew-hops", snap, context("1.33"))).status is CheckStatus.PASS


def test_al2_node_groups_cannot_reach_1_33() -> None:
    snap = snapshot(
        "1.32",
        nodegroups=(
            nodegroup("old", version="1.32", ami_type="AL2_x86_64"),
            nodegroup("new", version="1.32"),
        ),
    )
    finding = only(run("al2-ami", snap, context("1.33")))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "no Amazon Linux 2 AMIs for Kubernetes 1.33" in finding.message
    assert finding.objects == ("nodegroup/old",)


def test_al2_self_managed_groups_are_found_by_their_ssm_ami() -> None:
    parameter = "/aws/service/eks/optimized-ami/1.32/amazon-linux-2/recommended/image_id"
    snap = snapshot(
        "1.32",
        self_managed_groups=(self_managed("smg-a", image_id="ami-al2"),),
        ami_ids={parameter: "ami-al2"},
    )
    assert only(run("al2-ami", snap, context("1.33"))).objects == ("asg/smg-a",)


def test_al2_before_1_33_only_warns_about_end_of_support() -> None:
    snap = snapshot("1.31", nodegroups=(nodegroup("old", version="1.31", ami_type="AL2_ARM_64"),))
    finding = only(run("al2-ami", snap, context("1.32")))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert "no fixes since 2025-11-26" in finding.message


def test_al2023_node_groups_pass() -> None:
    snap = snapshot("1.32", nodegroups=(nodegroup("new", version="1.32"),))
    assert only(run("al2-ami", snap, context("1.33"))).status is CheckStatus.PASS


def test_nodes_not_ready() -> None:
    snap = snapshot(nodes=(node("n1"), node("n2", ready=False)))
    finding = only(run("nodes-not-ready", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert finding.message.startswith("1 node is NotReady")
    assert finding.objects == ("node/n2",)


def test_nodes_all_ready_pass() -> None:
    assert only(run("nodes-not-ready", snapshot(nodes=(node("n1"),)))).status is CheckStatus.PASS


def test_nodegroup_health_degraded() -> None:
    group = nodegroup(
        "ng-a", status="DEGRADED", health_issues=("AsgInstanceLaunchFailures: quota",)
    )
    finding = only(run("nodegroup-health", snapshot(nodegroups=(group,))))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "is DEGRADED (AsgInstanceLaunchFailures: quota)" in finding.message
    assert finding.objects == ("nodegroup/ng-a",)


def test_nodegroup_health_self_managed_unhealthy_instances_warn() -> None:
    group = self_managed("smg-a", instances=("i-1", "i-2"), unhealthy=("i-2",))
    finding = only(run("nodegroup-health", snapshot(self_managed_groups=(group,))))
    assert finding.severity is Severity.WARNING
    assert finding.objects == ("asg/smg-a",)
    assert "i-2" in finding.remedy


def test_nodegroup_health_passes() -> None:
    snap = snapshot(nodegroups=(nodegroup(),), self_managed_groups=(self_managed(),))
    assert only(run("nodegroup-health", snap)).status is CheckStatus.PASS


def test_nodegroup_health_denied_is_not_assessed() -> None:
    snap = snapshot(not_assessed={"nodegroups": "eks:DescribeNodegroup"})
    finding = only(run("nodegroup-health", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "missing permission: eks:DescribeNodegroup" in finding.message


def test_managed_nodes_left_behind_by_an_unfinished_update() -> None:
    snap = snapshot(
        "1.33",
        nodes=(node("n1"), node("n2", kubelet="v1.32.9")),
        nodegroups=(nodegroup("ng-a", version="1.33"),),
    )
    finding = only(run("kubelet-skew", snap))
    assert "nodes of managed node group ng-a run kubelet 1.32" in finding.message
    assert finding.objects == ("node/n2",)


def test_karpenter_nodes_trail_like_self_managed_ones() -> None:
    snap = snapshot("1.33", nodes=(node("k1", karpenter_pool="default", kubelet="v1.30.0"),))
    finding = only(run("kubelet-skew", snap))
    assert "on Karpenter node pool default would be 4 minors behind 1.34" in finding.message
