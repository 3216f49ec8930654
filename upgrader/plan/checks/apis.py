"""Removed Kubernetes APIs still in use, from three sources that see different things.

The API server's `apiserver_requested_deprecated_apis` metric sees live clients (controllers,
CI jobs) but only since the API server last restarted; `--manifests` files see what will be
applied next; Helm release manifests see what `helm upgrade` will diff against (a release
holding a removed API cannot be upgraded after the hop). Any one of them is enough to block.
"""

from __future__ import annotations

from collections import defaultdict

from upgrader.plan.checks._common import hops_of, no_path, plural
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, fail, not_assessed
from upgrader.plan.checks.ids import REMOVED_APIS
from upgrader.plan.checks.registry import check, denied_finding
from upgrader.plan.snapshot import ApiUsage, ClusterSnapshot, Read, UsageSource
from upgrader.versions import ApiRemoval

# The sources every plan must read; --manifests is the user's choice.
_REQUIRED_SOURCES = {
    UsageSource.API_SERVER: Read.DEPRECATED_API_METRICS,
    UsageSource.HELM: Read.HELM_RELEASES,
}


def resource_of(kind: str) -> str:
    """The API server's resource name for a Kind: "PodSecurityPolicy" -> "podsecuritypolicies"."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "ch", "sh")):
        return f"{lower}es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{lower[:-1]}ies"
    return f"{lower}s"


@check(
    REMOVED_APIS,
    severity=Severity.ERROR,
    title="No API removed on the way is used (API server metric, --manifests, Helm releases)",
    passes="no use of an API removed before the target was found",
)
def removed_apis(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    if hops_of(snapshot, context) is None:
        return [no_path(REMOVED_APIS, Severity.ERROR, context)]
    removals = context.catalog.removals_between(snapshot.version, context.target)
    by_key: dict[tuple[str, str], ApiRemoval] = {}
    for removal in removals:
        by_key[(removal.group_version, removal.kind.lower())] = removal
        by_key[(removal.group_version, resource_of(removal.kind))] = removal
    used: dict[ApiRemoval, list[ApiUsage]] = defaultdict(list)
    for usage in snapshot.api_usage:
        match = by_key.get((usage.group_version, usage.kind.lower()))
        if match is not None:
            used[match].append(usage)

    findings = []
    for removal, usages in sorted(used.items(), key=lambda i: (i[0].removed_in, i[0].kind)):
        sources = sorted({u.source.value for u in usages})
        if removal.replacement:
            instead = f"; use {removal.replacement}"
            remedy = (
                f"move every listed use to {removal.replacement} before the control plane goes "
                f"to {removal.removed_in} (kubectl convert, chart upgrades, client updates)"
            )
        else:
            instead = " and has no replacement"
            remedy = f"remove these uses before the upgrade to {removal.removed_in}"
        findings.append(
            fail(
                REMOVED_APIS,
                Severity.ERROR,
                f"{removal.group_version} {removal.kind} is not served from {removal.removed_in}"
                f"{instead}; still used ({', '.join(sources)})",
                sorted({f"{u.source.value}:{u.object}" for u in usages}),
                remedy=remedy,
            )
        )
    denied = snapshot.denied(*_REQUIRED_SOURCES.values())
    if denied:
        findings.append(denied_finding(REMOVED_APIS, Severity.ERROR, denied))
    unread = [
        source.value
        for source, read in _REQUIRED_SOURCES.items()
        if source not in snapshot.api_usage_sources and read.value not in denied
    ]
    if unread:
        findings.append(
            not_assessed(
                REMOVED_APIS,
                Severity.ERROR,
                f"not assessed: API uses from {' and '.join(unread)} were not read",
                remedy="plan again with discovery of the API server metric and Helm releases, "
                "or check with `kubectl get --raw /metrics | grep "
                "apiserver_requested_deprecated_apis` and pluto",
            )
        )
    if snapshot.manifest_errors:
        findings.append(
            not_assessed(
                REMOVED_APIS,
                Severity.ERROR,
                f"not assessed: {plural(len(snapshot.manifest_errors), 'manifest file')} could "
                "not be read",
                snapshot.manifest_errors,
                remedy="fix the files (or render Helm templates with `helm template`) and plan "
                "again",
            )
        )
    return findings
