from __future__ import annotations

import pytest

from tests.plan.checks.factories import (
    ENDPOINT,
    cluster,
    context,
    insight,
    only,
    run,
    snapshot,
    subnet,
)
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.checks.config import Config, Thresholds


def test_cluster_health_not_active() -> None:
    snap = snapshot(cluster=cluster(status="UPDATING", health_issues=("Ec2SubnetNotFound: x",)))
    finding = only(run("cluster-health", snap))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert finding.message == "the cluster is UPDATING (Ec2SubnetNotFound: x): cluster/prod"


def test_cluster_health_passes() -> None:
    assert only(run("cluster-health", snapshot())).status is CheckStatus.PASS


def test_cluster_subnets_short_of_ips() -> None:
    snap = snapshot(subnets=(subnet("subnet-a", free=1), subnet("subnet-b", free=2)))
    finding = only(run("cluster-subnet-ips", snap))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "only 3 free IPs across the cluster subnets (subnet-a: 1, subnet-b: 2)" in (
        finding.message
    )
    assert finding.objects == ("subnet/subnet-a", "subnet/subnet-b")


def test_cluster_subnet_that_no_longer_exists() -> None:
    snap = snapshot(subnets=(subnet("subnet-a", free=100),))
    finding = only(run("cluster-subnet-ips", snap))
    assert finding.objects == ("subnet/subnet-b",)
    assert "no longer exist" in finding.message


def test_cluster_subnet_threshold_is_configurable() -> None:
    snap = snapshot(subnets=(subnet("subnet-a", free=10), subnet("subnet-b", free=10)))
    assert only(run("cluster-subnet-ips", snap)).status is CheckStatus.PASS
    strict = context(config=Config(thresholds=Thresholds(cluster_subnet_min_free_ips=50)))
    assert only(run("cluster-subnet-ips", snap, strict)).status is CheckStatus.FAIL


def test_cluster_subnets_unreadable_is_not_assessed() -> None:
    snap = snapshot(subnets=(), not_assessed={"subnets": "ec2:DescribeSubnets"})
    finding = only(run("cluster-subnet-ips", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "ec2:DescribeSubnets" in finding.message


def test_eks_insights_error_and_warning_for_versions_on_the_way() -> None:
    snap = snapshot(
        "1.32",
        insights=(
            insight("Kubelet version skew", "ERROR", "1.33"),
            insight("Deprecated APIs removed in Kubernetes v1.34", "WARNING", "1.34"),
            insight("Cluster health issues", "PASSING", "1.33"),
            insight("Something about 1.36", "ERROR", "1.36"),
            insight("Rollback", "ERROR", "1.33", category="ROLLBACK_READINESS"),
        ),
    )
    findings = run("eks-insights", snap, context("1.34"))
    assert [(f.severity, f.status) for f in findings] == [
        (Severity.ERROR, CheckStatus.FAIL),
        (Severity.WARNING, CheckStatus.FAIL),
    ]
    assert 'EKS insight "Kubelet version skew" is ERROR for 1.33' in findings[0].message
    assert findings[0].objects == ("insight/id-kubelet-version-skew",)
    assert findings[0].remedy == "fix Kubelet version skew"


def test_eks_insights_passing_pass() -> None:
    snap = snapshot(insights=(insight("Kubelet version skew", "PASSING"),))
    assert only(run("eks-insights", snap)).status is CheckStatus.PASS


def test_eks_insights_denied_is_not_assessed() -> None:
    finding = only(run("eks-insights", snapshot(not_assessed={"insights": "eks:ListInsights"})))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert finding.warns


def test_kube_context_pointing_elsewhere_refuses() -> None:
    snap = snapshot(kube_context="staging", kube_endpoint="https://OTHER.eks.amazonaws.com")
    finding = only(run("kube-context", snap))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "kubeconfig context staging points at https://OTHER.eks.amazonaws.com" in (
        finding.message
    )
    assert finding.objects == ("context/staging",)


@pytest.mark.parametrize(
    "endpoint", [ENDPOINT, ENDPOINT.lower() + "/", ENDPOINT + ":443", ENDPOINT[len("https://") :]]
)
def test_kube_context_matching_endpoint_passes(endpoint: str) -> None:
    assert only(run("kube-context", snapshot(kube_endpoint=endpoint))).status is CheckStatus.PASS


def test_kube_context_unknown_is_not_assessed() -> None:
    finding = only(run("kube-context", snapshot(kube_endpoint=None)))
    assert finding.status is CheckStatus.NOT_ASSESSED
