from __future__ import annotations

from tests.plan.checks.factories import addon, addon_version, context, only, run, snapshot
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.checks.addons import addon_version_key

COREDNS_33 = addon_version("coredns", "v1.11.4-eksbuild.2", "1.33", "1.34")
COREDNS_34 = addon_version("coredns", "v1.12.1-eksbuild.1", "1.34", default=True)


def test_addons_with_a_version_for_every_hop_pass() -> None:
    snap = snapshot(
        "1.33",
        addons=(addon("coredns", "v1.11.4-eksbuild.2"),),
        addon_versions={"1.33": (COREDNS_33,), "1.34": (COREDNS_33, COREDNS_34)},
    )
    assert only(run("addon-compatibility", snap)).status is CheckStatus.PASS


def test_an_addon_with_no_version_for_a_hop_blocks() -> None:
    snap = snapshot(
        "1.33",
        addons=(addon("vendor-agent", "v2.0.0"),),
        addon_versions={"1.33": (addon_version("vendor-agent", "v2.0.0", "1.33"),), "1.34": ()},
    )
    finding = only(run("addon-compatibility", snap))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert "no version of add-on vendor-agent is compatible with Kubernetes 1.34" in finding.message
    assert finding.objects == ("addon/vendor-agent",)


def test_an_addon_to_update_before_the_hop_warns_with_a_bridge_version() -> None:
    old = addon_version("coredns", "v1.10.1-eksbuild.1", "1.33")
    snap = snapshot(
        "1.33",
        addons=(addon("coredns", "v1.10.1-eksbuild.1"),),
        addon_versions={"1.33": (old, COREDNS_33), "1.34": (COREDNS_33, COREDNS_34)},
    )
    finding = only(run("addon-compatibility", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert "coredns v1.10.1-eksbuild.1 is not compatible with 1.34" in finding.message
    assert "--addon-version v1.11.4-eksbuild.2" in finding.remedy


def test_per_minor_addons_are_updated_after_the_hop_without_a_finding() -> None:
    proxy_33 = addon_version("kube-proxy", "v1.33.5-eksbuild.2", "1.33")
    proxy_34 = addon_version("kube-proxy", "v1.34.1-eksbuild.2", "1.34")
    snap = snapshot(
        "1.33",
        addons=(addon("kube-proxy", "v1.33.5-eksbuild.2"),),
        addon_versions={"1.33": (proxy_33,), "1.34": (proxy_34,)},
    )
    assert only(run("addon-compatibility", snap)).status is CheckStatus.PASS


def test_a_minimum_version_on_the_way_blocks() -> None:
    # VPC CNI below 1.12 crashes on 1.26 (from the version data).
    cni = addon_version("vpc-cni", "v1.11.4-eksbuild.1", "1.25", "1.26")
    snap = snapshot(
        "1.25",
        addons=(addon("vpc-cni", "v1.11.4-eksbuild.1"),),
        addon_versions={"1.25": (cni,), "1.26": (cni,)},
    )
    findings = run("addon-compatibility", snap, context("1.26"))
    blocking = [f for f in findings if f.severity is Severity.ERROR]
    assert len(blocking) == 1
    assert "vpc-cni v1.11.4-eksbuild.1 is below 1.12.0, needed before Kubernetes 1.26" in (
        blocking[0].message
    )


def test_addon_versions_not_read_for_a_hop_is_not_assessed() -> None:
    snap = snapshot(
        "1.33", addons=(addon("coredns", "v1.11.4-eksbuild.2"),), addon_versions={"1.33": ()}
    )
    finding = only(run("addon-compatibility", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "not read for 1.34" in finding.message


def test_addon_versions_denied_is_not_assessed() -> None:
    snap = snapshot(
        "1.33",
        addons=(addon("coredns", "v1.11.4-eksbuild.2"),),
        not_assessed={"addon-versions": "eks:DescribeAddonVersions"},
    )
    finding = only(run("addon-compatibility", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "eks:DescribeAddonVersions" in finding.message


def test_addons_denied_is_not_assessed_and_never_passes() -> None:
    snap = snapshot(not_assessed={"addons": "eks:ListAddons"})
    finding = only(run("addon-compatibility", snap))
    assert finding.status is CheckStatus.NOT_ASSESSED


def test_addon_version_ordering() -> None:
    assert addon_version_key("v1.12.0-eksbuild.1") > addon_version_key("v1.11.9-eksbuild.9")
    assert addon_version_key("v1.12.0-eksbuild.10") > addon_version_key("v1.12.0-eksbuild.9")
    assert addon_version_key("garbage") < addon_version_key("v0.0.1")


def test_addon_health() -> None:
    snap = snapshot(addons=(addon("coredns", "v1", "DEGRADED"), addon("kube-proxy", "v1")))
    finding = only(run("addon-health", snap))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert "add-on coredns v1 is DEGRADED" in finding.message
    assert finding.objects == ("addon/coredns",)


def test_addon_health_passes() -> None:
    assert only(run("addon-health", snapshot(addons=(addon("coredns", "v1"),)))).status is (
        CheckStatus.PASS
    )
