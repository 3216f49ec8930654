"""EKS version rollback in the sandbox: which `UpdateClusterVersion` to N-1 AWS accepts.

Since mid-2026 EKS takes the same UpdateClusterVersion call with the previous minor as a
rollback (update type `VersionRollback`), under rules `force` cannot lift: the current version
must come from an in-place upgrade (not the cluster's creation, not a rollback, not EKS's own
upgrade at the end of extended support) that completed less than 7 days ago. `force` lifts only
the rollback readiness checks: ERROR insights of category ROLLBACK_READINESS, and the kubelet
version skew check, which EKS computes from the nodes and the sandbox from the managed node
groups (a kubelet newer than the API server it would talk to).

A managed node group may likewise go back one minor, to the version the cluster is being rolled
back to, while that rollback is open: AWS's documented order is node groups first.

Messages are plausible, not AWS's verbatim (no public record of them yet).
"""

from __future__ import annotations

from datetime import UTC, datetime

from moto.eks.exceptions import InvalidRequestException

from upgrader.sandbox.eks import catalog
from upgrader.sandbox.eks.addons import ROLLBACK_READINESS
from upgrader.sandbox.eks.models import SUCCESSFUL, Cluster, Update, now
from upgrader.sandbox.eks.rules import InvalidStateException

ROLLBACK_WINDOW_SECONDS = 7 * 24 * 3600.0
VERSION_ROLLBACK = "VersionRollback"


def last_version_change(cluster: Cluster) -> Update | None:
    """The latest successful update that moved the control plane's version."""
    at = now()
    changes = [
        u for u in cluster.updates.values() if "version" in u.effects and u.status(at) == SUCCESSFUL
    ]
    return changes[-1] if changes else None


def rollback_refusal(cluster: Cluster, target: str) -> str | None:
    """Why EKS would not roll `cluster` back to `target` whatever `force` says, or None."""
    current = cluster.version
    prefix = f"Cluster {cluster.name} cannot be rolled back from {current} to {target}"
    change = last_version_change(cluster)
    if change is None:
        return f"{prefix}: it was created at {current} and has not been upgraded in place"
    if change.type == VERSION_ROLLBACK:
        return f"{prefix}: {current} is the result of a rollback; only an upgrade can be undone"
    if change.automatic == "extended":
        return (
            f"{prefix}: EKS upgraded it automatically at the end of extended support for "
            f"{change.from_values.get('version', target)}"
        )
    if change.from_values.get("version", target) != target:
        return f"{prefix}: it was upgraded from {change.from_values['version']}"
    ended = change.ended_at(now())
    if ended is not None and now() > ended + ROLLBACK_WINDOW_SECONDS:
        closed = datetime.fromtimestamp(ended + ROLLBACK_WINDOW_SECONDS, tz=UTC)
        return (
            f"{prefix}: the 7-day rollback window after the upgrade to {current} closed at "
            f"{closed:%Y-%m-%dT%H:%M:%SZ}"
        )
    return None


def readiness_failures(cluster: Cluster, target: str) -> list[str]:
    """The rollback readiness checks that fail (what `force` overrides)."""
    failures = [
        f"{insight.name}: {insight.reason or insight.description}".rstrip(": ")
        for insight in cluster.insights.values()
        if insight.category == ROLLBACK_READINESS
        and insight.status == "ERROR"
        and insight.kubernetes_version in ("", target)
    ]
    newer = sorted(
        f"{ng.nodegroup_name} ({ng.version})"
        for ng in cluster.nodegroups.values()
        if ng.gone_at is None and catalog.minor(ng.version) > catalog.minor(target)
    )
    if newer:
        failures.append(
            f"Kubelet version skew: nodegroups {', '.join(newer)} are newer than {target}"
        )
    return failures


def check_rollback(cluster: Cluster, target: str, force: bool) -> None:
    """Raise as EKS refuses a rollback of `cluster` to `target`."""
    reason = rollback_refusal(cluster, target)
    if reason is not None:
        raise InvalidRequestException(message=reason)
    failures = [] if force else readiness_failures(cluster, target)
    if failures:
        # What `force` lifts is a readiness refusal: InvalidStateException, as for an upgrade.
        raise InvalidStateException(
            message=(
                f"Rollback readiness checks failed for cluster {cluster.name}: "
                f"{'; '.join(failures)}. Resolve them or set force to override."
            )
        )


def rollback_open_to(cluster: Cluster, target: str) -> bool:
    """Whether a rollback of the control plane to `target` is (or was just) allowed: then a
    node group may go back to `target` first."""
    if catalog.minor(cluster.version) - 1 == catalog.minor(target):
        return rollback_refusal(cluster, target) is None
    return False
