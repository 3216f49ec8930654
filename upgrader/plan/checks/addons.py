"""Can every installed EKS add-on follow the control plane through each hop?

Compatibility comes from `eks:DescribeAddonVersions`, read by discovery for the current version
and every hop (add-on builds change every few weeks; the version data never pins them). Minimum
versions with a reason (VPC CNI 1.12 before 1.26, ...) come from the version data.

The plan updates add-ons right after each control-plane hop. That is too late for an add-on
whose installed version stops working on the next minor while a version working on both
exists (the VPC CNI case); add-ons released per minor (kube-proxy) have no such version and
are simply updated after the hop.
"""

from __future__ import annotations

import re

from upgrader.core.aws import Addon
from upgrader.core.shell import command
from upgrader.plan.checks._common import hops_of, no_path
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, fail, not_assessed
from upgrader.plan.checks.ids import ADDON_COMPATIBILITY
from upgrader.plan.checks.registry import check, denied_finding
from upgrader.plan.snapshot import ClusterSnapshot, Read
from upgrader.versions import KubeVersion

_ADDON_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:.*?eksbuild\.(\d+))?")


def addon_version_key(version: str) -> tuple[int, int, int, int]:
    """Sortable "v1.18.3-eksbuild.2"; unreadable versions sort first."""
    match = _ADDON_VERSION.match(version.strip())
    if match is None:
        return (-1, -1, -1, -1)
    major, minor, patch, build = match.groups()
    return (int(major), int(minor), int(patch), int(build or 0))


def compatible_versions(snapshot: ClusterSnapshot, name: str, kube: str) -> set[str] | None:
    """The versions of add-on `name` that run on Kubernetes `kube`; None when not read."""
    listed = snapshot.addon_versions.get(kube)
    if listed is None:
        return None
    return {
        v.version
        for v in listed
        if v.addon_name == name and (not v.compatibilities or v.compatible_with(kube))
    }


@check(
    ADDON_COMPATIBILITY,
    severity=Severity.ERROR,
    title="Every EKS add-on has a compatible version at every hop, and meets known minimums",
    passes="every EKS add-on can follow every hop",
    reads=(Read.ADDONS,),
)
def addon_compatibility(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    hops = hops_of(snapshot, context)
    if hops is None:
        return [no_path(ADDON_COMPATIBILITY, Severity.ERROR, context)]
    findings: list[Finding] = []
    unread = sorted({v for v in [snapshot.version, *hops] if v not in snapshot.addon_versions})
    for addon in sorted(snapshot.addons, key=lambda a: a.name):
        findings.extend(_per_hop(snapshot, addon, hops))
        findings.extend(_minimums(snapshot, context, addon))
    if snapshot.addons and Read.ADDON_VERSIONS.value in snapshot.not_assessed:
        findings.append(
            denied_finding(
                ADDON_COMPATIBILITY, Severity.ERROR, snapshot.denied(Read.ADDON_VERSIONS)
            )
        )
    elif snapshot.addons and unread:
        findings.append(
            not_assessed(
                ADDON_COMPATIBILITY,
                Severity.ERROR,
                f"not assessed: add-on versions were not read for {', '.join(unread)}",
                remedy="plan again; discovery reads eks:DescribeAddonVersions for every hop",
            )
        )
    return findings


def _per_hop(snapshot: ClusterSnapshot, addon: Addon, hops: list[str]) -> list[Finding]:
    findings = []
    for hop in hops:
        available = compatible_versions(snapshot, addon.name, hop)
        if available is not None and not available:
            findings.append(
                fail(
                    ADDON_COMPATIBILITY,
                    Severity.ERROR,
                    f"no version of add-on {addon.name} is compatible with Kubernetes {hop}",
                    (f"addon/{addon.name}",),
                    remedy=f"remove the add-on (or replace it with a self-managed install) "
                    f"before the upgrade to {hop}, or wait for its vendor to support {hop}",
                )
            )
            return findings
    if not hops:
        return findings  # the control plane is on the target: no add-on has to follow
    first = hops[0]
    now = compatible_versions(snapshot, addon.name, snapshot.version)
    then = compatible_versions(snapshot, addon.name, first)
    if now is None or then is None or addon.version in then:
        return findings
    bridge = now & then
    if bridge:
        pick = max(bridge, key=addon_version_key)
        findings.append(
            fail(
                ADDON_COMPATIBILITY,
                Severity.WARNING,
                f"add-on {addon.name} {addon.version} is not compatible with {first}; "
                f"{pick} runs on both {snapshot.version} and {first}",
                (f"addon/{addon.name}",),
                remedy=f"update {addon.name} to {pick} before the control plane goes to {first} "
                + "("
                + command(
                    *("aws", "eks", "update-addon", "--cluster-name", snapshot.cluster.name),
                    *("--addon-name", addon.name, "--addon-version", pick),
                )
                + f"); the plan does it in step addons-before-{first}",
            )
        )
    return findings


def _minimums(snapshot: ClusterSnapshot, context: CheckContext, addon: Addon) -> list[Finding]:
    installed = addon_version_key(addon.version)
    current = KubeVersion.parse(snapshot.cluster.version)
    findings = []
    for minimum in context.catalog.addon_minimums(addon.name, context.target):
        if installed >= addon_version_key(minimum.version):
            continue
        # A minimum tied to a version on the way blocks; a standing one (or one the cluster
        # already passed) may depend on how the cluster is set up, so it only warns.
        on_the_way = minimum.kubernetes is not None and minimum.kubernetes > current
        when = f" before Kubernetes {minimum.kubernetes}" if on_the_way else ""
        findings.append(
            fail(
                ADDON_COMPATIBILITY,
                Severity.ERROR if on_the_way else Severity.WARNING,
                f"add-on {addon.name} {addon.version} is below {minimum.version}, needed"
                f"{when}: {minimum.reason}",
                (f"addon/{addon.name}",),
                remedy=f"update {addon.name} to {minimum.version} or later first",
            )
        )
    return findings
