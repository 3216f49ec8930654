from __future__ import annotations

import pytest

from tests.plan.checks.factories import (
    cluster,
    context,
    node,
    nodegroup,
    only,
    run,
    self_managed,
    snapshot,
    workload,
)
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.checks.ownership import iac_owner


@pytest.mark.parametrize(
    ("tags", "tool"),
    [
        (
            {"alpha.eksctl.io/nodegroup-name": "ng-a", "aws:cloudformation:stack-name": "s"},
            "eksctl",
        ),
        ({"eksctl.cluster.k8s.io/v1alpha1/cluster-name": "prod"}, "eksctl"),
        ({"aws:cloudformation:stack-name": "platform-nodes"}, "CloudFormation"),
        ({"ManagedBy": "Terraform"}, "Terraform"),
        ({"managed-by": "opentofu"}, "Terraform"),
        ({"terraform": "true"}, "Terraform"),
        ({"Terraform-Workspace": "prod"}, "Terraform"),
        ({"pulumi:project": "infra"}, "Pulumi"),
    ],
)
def test_iac_owner_by_tags(tags: dict[str, str], tool: str) -> None:
    owner = iac_owner(tags)
    assert owner is not None
    assert owner.tool == tool


def test_iac_owner_none_for_plain_tags() -> None:
    assert iac_owner({"team": "payments", "env": "prod"}) is None


def test_iac_drift_names_groups_and_says_what_to_change() -> None:
    snap = snapshot(
        cluster=cluster(tags={"ManagedBy": "terraform"}),
        nodegroups=(
            nodegroup("ng-a", tags={"ManagedBy": "terraform"}),
            nodegroup("ng-b", tags={"alpha.eksctl.io/nodegroup-name": "ng-b"}),
            nodegroup("ng-c"),
        ),
        self_managed_groups=(self_managed("smg-a", tags={"aws:cloudformation:stack-name": "x"}),),
    )
    findings = run("iac-drift", snap, context("1.34"))
    assert all((f.severity, f.status) == (Severity.WARNING, CheckStatus.FAIL) for f in findings)
    by_tool = {f.message.split(" ")[2]: f for f in findings}
    assert by_tool["Terraform"].objects == ("cluster/prod", "nodegroup/ng-a")
    assert "release_version" in by_tool["Terraform"].remedy
    assert by_tool["eksctl"].objects == ("nodegroup/ng-b",)
    assert "metadata.version to 1.34" in by_tool["eksctl"].remedy
    assert by_tool["CloudFormation"].objects == ("asg/smg-a",)
    assert "(by their tags; x)" in by_tool["CloudFormation"].message


def test_iac_drift_passes_without_owner_tags() -> None:
    snap = snapshot(nodegroups=(nodegroup("ng-a", tags={"team": "core"}),))
    assert only(run("iac-drift", snap)).status is CheckStatus.PASS


def test_cluster_autoscaler_is_reported() -> None:
    snap = snapshot(
        workloads=(
            workload("cluster-autoscaler-aws-cluster-autoscaler", "kube-system"),
            workload("web"),
        )
    )
    finding = only(run("cluster-autoscaler", snap))
    assert (finding.severity, finding.status) == (Severity.INFO, CheckStatus.FAIL)
    assert finding.objects == ("kube-system/cluster-autoscaler-aws-cluster-autoscaler",)
    assert "scales it to 0" in finding.message


def test_cluster_autoscaler_found_by_label() -> None:
    ca = workload("scaler", "ops", labels={"app.kubernetes.io/name": "cluster-autoscaler"})
    assert only(run("cluster-autoscaler", snapshot(workloads=(ca,)))).objects == ("ops/scaler",)


def test_no_cluster_autoscaler_passes() -> None:
    snap = snapshot(workloads=(workload("web"),))
    assert only(run("cluster-autoscaler", snap)).status is CheckStatus.PASS


def test_karpenter_controller_and_nodes() -> None:
    snap = snapshot(
        workloads=(workload("karpenter", "karpenter"),),
        nodes=(
            node("k1", karpenter_pool="default"),
            node("k2", karpenter_pool="default"),
            node("k3", karpenter_pool="gpu"),
            node("n1"),
        ),
    )
    finding = only(run("karpenter", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert "Karpenter manages 3 nodes in 2 node pools" in finding.message
    assert finding.objects == ("karpenter/karpenter", "nodepool/default", "nodepool/gpu")


def test_no_karpenter_passes() -> None:
    snap = snapshot(workloads=(workload("web"),), nodes=(node("n1"),))
    assert only(run("karpenter", snap)).status is CheckStatus.PASS
