"""Checks on the requested version itself: is it a real, supported step up, and what it costs.

These run before anything else matters: a target EKS does not offer, or a downgrade, makes
every other finding moot, so `target-version` is the one check the per-hop checks defer to.
"""

from __future__ import annotations

from upgrader.core.kube import FARGATE_COMPUTE_LABEL
from upgrader.plan.checks._common import hops_of, no_path
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, fail
from upgrader.plan.checks.ids import (
    CONTROL_PLANE_HOPS,
    TARGET_SUPPORT,
    TARGET_VERSION,
    UPGRADE_NOTES,
    VERSION_DATA,
)
from upgrader.plan.checks.registry import check
from upgrader.plan.snapshot import ClusterSnapshot
from upgrader.plan.version_facts import FROM_FILE
from upgrader.versions import KubeVersion, SupportStatus
from upgrader.versions import Severity as GotchaSeverity


@check(
    TARGET_VERSION,
    severity=Severity.ERROR,
    title="The target is a Kubernetes version EKS offers, above the cluster's",
    passes="the target is an EKS version at or above the cluster's",
)
def target_version(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    problem = _target_problem(snapshot, context)
    if problem is None:
        return []
    known = context.catalog.known_versions()
    return [
        fail(
            TARGET_VERSION,
            Severity.ERROR,
            problem,
            (snapshot.cluster.name,),
            remedy=f"choose a version above {snapshot.version} that EKS supports "
            f"(eksup knows {known[0]} to {known[-1]}; "
            "`aws eks describe-cluster-versions` lists what EKS offers today)",
        )
    ]


def _target_problem(snapshot: ClusterSnapshot, context: CheckContext) -> str | None:
    catalog = context.catalog
    target = context.target_version
    current = KubeVersion.try_parse(snapshot.cluster.version)
    if target is None:
        return f"target {context.target!r} is not a Kubernetes version (expected e.g. 1.31)"
    if current is None:
        return f"the cluster reports version {snapshot.cluster.version!r}, which eksup cannot read"
    if not catalog.is_known(target):
        return f"Kubernetes {target} is not in eksup's version data"
    if target < current:
        return f"{target} is older than the cluster's {current}: EKS upgrades cannot go down"
    status = catalog.support_status(target, context.today)
    if status in (SupportStatus.UNKNOWN, SupportStatus.NOT_YET_AVAILABLE):
        return f"Kubernetes {target} is not available on EKS yet"
    if status is SupportStatus.UNSUPPORTED:
        end = catalog.get(target).end_of_extended_support
        return f"Kubernetes {target} left EKS extended support on {end}"
    return None


@check(
    TARGET_SUPPORT,
    severity=Severity.WARNING,
    title="The target stays in standard support for a while",
    passes="the target is in standard support beyond the configured margin",
)
def target_support(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    if _target_problem(snapshot, context) is not None:
        return [no_path(TARGET_SUPPORT, Severity.WARNING, context)]
    catalog = context.catalog
    info = catalog.get(context.target)
    newest = [
        v
        for v in catalog.known_versions()
        if catalog.support_status(v, context.today) is SupportStatus.STANDARD
    ]
    instead = f"; consider {newest[-1]}, in standard support" if newest else ""
    status = catalog.support_status(context.target, context.today)
    if status is SupportStatus.EXTENDED:
        return [
            fail(
                TARGET_SUPPORT,
                Severity.WARNING,
                f"{info.version} is in extended support (billed per cluster-hour) until "
                f"{info.end_of_extended_support}",
                (snapshot.cluster.name,),
                remedy=f"budget for extended support and plan the next upgrade soon{instead}",
            )
        ]
    end = info.end_of_standard_support
    margin = context.thresholds.standard_support_min_days
    if end is not None and (end - context.today).days < margin:
        days = (end - context.today).days
        return [
            fail(
                TARGET_SUPPORT,
                Severity.WARNING,
                f"{info.version} leaves standard support on {end}, in {days} days "
                f"(less than the {margin}-day margin)",
                (snapshot.cluster.name,),
                remedy=f"plan the next upgrade, or accept extended-support billing{instead}",
            )
        ]
    return []


@check(
    CONTROL_PLANE_HOPS,
    severity=Severity.INFO,
    title="The control-plane upgrades needed, one minor at a time",
    passes="one control-plane upgrade",
)
def control_plane_hops(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    hops = hops_of(snapshot, context)
    if hops is None:
        return [no_path(CONTROL_PLANE_HOPS, Severity.INFO, context)]
    if not hops:
        return [
            fail(
                CONTROL_PLANE_HOPS,
                Severity.INFO,
                f"the control plane is already on {snapshot.version}: no control-plane upgrade",
            )
        ]
    path = " -> ".join([snapshot.version, *hops])
    summary = f"{len(hops)} control-plane upgrade{'s' if len(hops) > 1 else ''}: {path}"
    followers = [f"nodegroup/{g.name}" for g in sorted(snapshot.nodegroups, key=lambda g: g.name)]
    if any(n.labels.get(FARGATE_COMPUTE_LABEL) == "fargate" for n in snapshot.nodes):
        followers.append("fargate")
    if len(hops) == 1 or not followers:
        followers = []
    else:
        summary += (
            "; AWS requires managed node groups and Fargate pods on the control plane's minor "
            "before each upgrade, so these follow every hop"
        )
    return [
        fail(
            CONTROL_PLANE_HOPS,
            Severity.INFO,
            summary,
            followers,
            remedy="none needed: the plan orders the hops; consider a new cluster at the target "
            "when the plan prices it cheaper",
        )
    ]


@check(
    UPGRADE_NOTES,
    severity=Severity.INFO,
    title="Known changes of every version on the way (from the version data)",
    passes="no known upgrade notes for these versions",
)
def upgrade_notes(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    if _target_problem(snapshot, context) is not None:
        return [no_path(UPGRADE_NOTES, Severity.INFO, context)]
    findings = []
    for gotcha in context.catalog.gotchas_between(snapshot.version, context.target):
        if gotcha.target is None:
            continue  # notes on every upgrade: the specific checks cover them
        when = f"upgrading to {gotcha.target}"
        severity = Severity.WARNING if gotcha.severity is GotchaSeverity.HIGH else Severity.INFO
        findings.append(
            fail(
                UPGRADE_NOTES,
                severity,
                f"{when}: {gotcha.summary}",
                (gotcha.id,),
                remedy=f"where to look: {gotcha.detect}",
            )
        )
    return findings


@check(
    VERSION_DATA,
    severity=Severity.WARNING,
    title="eksup's version data agrees with what EKS says today (DescribeClusterVersions)",
    passes="EKS's DescribeClusterVersions agrees with eksup's version data",
)
def version_data(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    del context
    # AWS could not be asked: a note, not a warning; the plan says the file was used.
    aws_unread = snapshot.version_facts_source == FROM_FILE
    severity = Severity.INFO if aws_unread else Severity.WARNING
    return [
        fail(
            VERSION_DATA,
            severity,
            note,
            (snapshot.cluster.name,),
            remedy="update upgrader/data/eks_versions.yaml as docs/versions.md says"
            if severity is Severity.WARNING
            else "grant eks:DescribeClusterVersions so the plan uses AWS's own calendar",
        )
        for note in snapshot.version_facts
    ]
