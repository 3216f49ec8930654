from __future__ import annotations

import datetime as dt

import pytest

from tests.plan.checks.factories import context, node, nodegroup, only, run, snapshot
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.versions import Gotcha, VersionCatalog, default_catalog


@pytest.mark.parametrize(
    ("current", "target", "words"),
    [
        ("1.33", "1.32", "older than the cluster's 1.33"),
        ("1.33", "1.99", "not in eksup's version data"),
        ("1.33", "one.thirty", "not a Kubernetes version"),
        ("1.27", "1.28", "left EKS extended support on 2025-11-26"),
        ("1.36", "1.37", "not available on EKS yet"),
    ],
)
def test_target_version_refuses(current: str, target: str, words: str) -> None:
    finding = only(run("target-version", snapshot(current), context(target)))
    assert (finding.severity, finding.status) == (Severity.ERROR, CheckStatus.FAIL)
    assert words in finding.message
    assert finding.objects == ("prod",)
    assert finding.blocking


def test_the_current_version_is_not_a_blocking_target() -> None:
    # Nothing to upgrade is not an error: the plan says "nothing to do" (or moves lagging nodes).
    finding = only(run("target-version", snapshot("1.33"), context("1.33")))
    assert finding.status is CheckStatus.PASS
    hops = only(run("control-plane-hops", snapshot("1.33"), context("1.33")))
    assert "already on 1.33" in hops.message


def test_target_version_passes_for_a_supported_step_up() -> None:
    finding = only(run("target-version", snapshot("1.33"), context("1.35")))
    assert finding.status is CheckStatus.PASS


def test_target_support_warns_on_extended_support() -> None:
    finding = only(run("target-support", snapshot("1.30"), context("1.32")))
    assert (finding.severity, finding.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert "1.32 is in extended support" in finding.message
    assert "consider 1.36" in finding.remedy


def test_target_support_warns_when_standard_support_ends_soon() -> None:
    ctx = context("1.34", today=dt.date(2026, 11, 23))
    finding = only(run("target-support", snapshot("1.33"), ctx))
    assert finding.status is CheckStatus.FAIL
    assert "leaves standard support on 2026-12-02, in 9 days" in finding.message


def test_target_support_passes_with_a_long_standard_support() -> None:
    assert only(run("target-support", snapshot("1.33"), context("1.34"))).status is CheckStatus.PASS


def test_control_plane_hops_lists_every_hop_and_the_groups_that_follow() -> None:
    snap = snapshot("1.31", nodegroups=(nodegroup("ng-a", version="1.31"),))
    finding = only(run("control-plane-hops", snap, context("1.34")))
    assert (finding.severity, finding.status) == (Severity.INFO, CheckStatus.FAIL)
    assert "3 control-plane upgrades: 1.31 -> 1.32 -> 1.33 -> 1.34" in finding.message
    assert "so these follow every hop: nodegroup/ng-a" in finding.message
    assert not finding.blocking
    assert not finding.warns


def test_control_plane_hops_mentions_fargate() -> None:
    snap = snapshot("1.32", nodes=(node("fargate-1", fargate=True, kubelet="v1.32.1"),))
    assert only(run("control-plane-hops", snap, context("1.34"))).objects == ("fargate",)


def test_control_plane_hops_single_hop() -> None:
    finding = only(run("control-plane-hops", snapshot("1.33"), context("1.34")))
    assert finding.message == "1 control-plane upgrade: 1.33 -> 1.34"


def test_control_plane_hops_not_assessed_without_a_path() -> None:
    finding = only(run("control-plane-hops", snapshot("1.33"), context("1.30")))
    assert finding.status is CheckStatus.NOT_ASSESSED


def test_upgrade_notes_raise_high_gotchas_to_warnings() -> None:
    findings = run("upgrade-notes", snapshot("1.34"), context("1.36"))
    gitrepo = next(f for f in findings if f.objects == ("gitrepo-disabled",))
    assert (gitrepo.severity, gitrepo.status) == (Severity.WARNING, CheckStatus.FAIL)
    assert gitrepo.message.startswith("upgrading to 1.36: ")
    assert any(f.objects == ("cgroup-v1",) for f in findings)  # 1.35, on the way
    assert all(f.severity in (Severity.INFO, Severity.WARNING) for f in findings)


class _NoGotchas(VersionCatalog):
    def gotchas_between(self, current: object, target: object) -> list[Gotcha]:
        return []


def test_upgrade_notes_pass_when_the_data_has_none() -> None:
    ctx = context("1.34", catalog=_NoGotchas(default_catalog().data))
    assert only(run("upgrade-notes", snapshot("1.33"), ctx)).status is CheckStatus.PASS
