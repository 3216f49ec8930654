"""Checks on the EKS side: cluster and add-on health, control-plane IPs, upgrade insights, and
whether the Kubernetes credentials really reach the cluster being planned.

The last one guards the worst mistake an upgrade tool can make: reading (and later draining)
the cluster a stale kubeconfig context points at while upgrading another one.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from upgrader.core.shell import command
from upgrader.plan.checks._common import hops_of, plural
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, fail, not_assessed
from upgrader.plan.checks.ids import (
    ADDON_HEALTH,
    CLUSTER_HEALTH,
    CLUSTER_SUBNET_IPS,
    EKS_INSIGHTS,
    KUBE_CONTEXT,
)
from upgrader.plan.checks.registry import check
from upgrader.plan.snapshot import ClusterSnapshot, Read, minor_of


@check(
    CLUSTER_HEALTH,
    severity=Severity.ERROR,
    title="The cluster is ACTIVE and EKS reports no health issue",
    passes="the cluster is ACTIVE with no health issue",
)
def cluster_health(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    cluster = snapshot.cluster
    if cluster.status == "ACTIVE" and not cluster.health_issues:
        return []
    issues = f" ({'; '.join(cluster.health_issues)})" if cluster.health_issues else ""
    return [
        fail(
            CLUSTER_HEALTH,
            Severity.ERROR,
            f"the cluster is {cluster.status}{issues}",
            (f"cluster/{cluster.name}",),
            remedy="wait for a running update to finish, or resolve the health issues "
            "(aws eks describe-cluster), before upgrading",
        )
    ]


@check(
    ADDON_HEALTH,
    severity=Severity.WARNING,
    title="Every EKS add-on is ACTIVE",
    passes="every EKS add-on is ACTIVE",
    reads=(Read.ADDONS,),
)
def addon_health(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    findings = []
    for addon in sorted(snapshot.addons, key=lambda a: a.name):
        if addon.status != "ACTIVE":
            findings.append(
                fail(
                    ADDON_HEALTH,
                    Severity.WARNING,
                    f"add-on {addon.name} {addon.version} is {addon.status}",
                    (f"addon/{addon.name}",),
                    remedy="fix it first (aws eks describe-addon shows its health issues): an "
                    "add-on update after each hop starts from this state",
                )
            )
    return findings


@check(
    CLUSTER_SUBNET_IPS,
    severity=Severity.ERROR,
    title="The cluster subnets have the free IPs a control-plane upgrade needs",
    passes="the cluster subnets have enough free IPs for the control-plane upgrade",
    reads=(Read.SUBNETS,),
)
def cluster_subnet_ips(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    need = context.thresholds.cluster_subnet_min_free_ips
    ids = snapshot.cluster.subnet_ids
    known = snapshot.subnet_by_id
    missing = sorted(f"subnet/{s}" for s in ids if s not in known)
    findings = []
    if missing:
        findings.append(
            fail(
                CLUSTER_SUBNET_IPS,
                Severity.ERROR,
                "cluster subnets no longer exist: EKS cannot place control-plane interfaces there",
                missing,
                remedy="recreate the subnets, or move the cluster to existing ones "
                "(aws eks update-cluster-config --resources-vpc-config subnetIds=...)",
            )
        )
    present = [known[s] for s in ids if s in known]
    free = sum(s.available_ips for s in present)
    if present and free < need:
        counts = ", ".join(f"{s.id}: {s.available_ips}" for s in present)
        findings.append(
            fail(
                CLUSTER_SUBNET_IPS,
                Severity.ERROR,
                f"only {plural(free, 'free IP')} across the cluster subnets ({counts}); an "
                f"upgrade needs up to {need}",
                [f"subnet/{s.id}" for s in present],
                remedy="free addresses in these subnets (delete unused ENIs, move node groups to "
                "other subnets) or add subnets to the cluster",
            )
        )
    return findings


@check(
    EKS_INSIGHTS,
    severity=Severity.ERROR,
    title="No EKS upgrade insight for the versions on the way is ERROR (or WARNING)",
    passes="no EKS upgrade insight in ERROR or WARNING for these versions",
    reads=(Read.INSIGHTS,),
)
def eks_insights(snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
    hops = hops_of(snapshot, context)
    versions = set(hops) if hops is not None else None
    severity_of = {"ERROR": Severity.ERROR, "WARNING": Severity.WARNING}
    findings = []
    for insight in sorted(snapshot.insights, key=lambda i: (i.kubernetes_version, i.name)):
        severity = severity_of.get(insight.status)
        # Rollback readiness is about going back, which this plan does not do.
        if severity is None or insight.category == "ROLLBACK_READINESS":
            continue
        version = minor_of(insight.kubernetes_version)
        if versions is not None and version and version not in versions:
            continue
        about = f" for {version}" if version else ""
        description = f": {insight.description}" if insight.description else ""
        findings.append(
            fail(
                EKS_INSIGHTS,
                severity,
                f'EKS insight "{insight.name}" is {insight.status}{about}{description}',
                (f"insight/{insight.id}",),
                remedy=insight.recommendation
                or command(
                    "aws",
                    "eks",
                    "describe-insight",
                    "--cluster-name",
                    snapshot.cluster.name,
                    "--id",
                    insight.id,
                ),
            )
        )
    return findings


@check(
    KUBE_CONTEXT,
    severity=Severity.ERROR,
    title="The kubeconfig context points at this cluster's API endpoint",
    passes="the kubeconfig context points at the cluster's API endpoint",
)
def kube_context(snapshot: ClusterSnapshot, _context: CheckContext) -> list[Finding]:
    cluster = snapshot.cluster
    name = snapshot.kube_context or "(current)"
    if snapshot.kube_endpoint is None:
        return [
            not_assessed(
                KUBE_CONTEXT,
                Severity.ERROR,
                f"not assessed: the API endpoint of kubeconfig context {name} is unknown",
                remedy="pass --context naming a context from `aws eks update-kubeconfig`",
            )
        ]
    if _endpoint(snapshot.kube_endpoint) == _endpoint(cluster.endpoint):
        return []
    return [
        fail(
            KUBE_CONTEXT,
            Severity.ERROR,
            f"kubeconfig context {name} points at {snapshot.kube_endpoint}, not at cluster "
            f"{cluster.name} ({cluster.endpoint}): eksup refuses to act on another cluster",
            (f"context/{name}",),
            remedy=f"{command('aws', 'eks', 'update-kubeconfig', '--name', cluster.name)}, "
            "or pass --context for it",
        )
    ]


def _endpoint(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path, so that "HTTPS://X:443/" and "https://x" compare equal."""
    parts = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/")
