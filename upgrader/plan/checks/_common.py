"""Small helpers the theme modules share: which pods a drain moves, and plain-English counts."""

from __future__ import annotations

from collections.abc import Iterable

from upgrader.core.kube import Pod
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import Finding, Severity, not_assessed
from upgrader.plan.snapshot import ClusterSnapshot, is_daemon_pod


def no_path(check_id: str, severity: Severity, context: CheckContext) -> Finding:
    """For checks that reason per hop when there is no valid upgrade path to reason about."""
    return not_assessed(
        check_id,
        severity,
        f"not assessed: no valid upgrade path to {context.target} (see target-version)",
    )


def hops_of(snapshot: ClusterSnapshot, context: CheckContext) -> list[str] | None:
    return context.hops(snapshot)


def is_moved_by_drain(pod: Pod) -> bool:
    """A pod a drain evicts and something recreates elsewhere: not a DaemonSet or mirror pod,
    not finished, not already going."""
    return not (is_daemon_pod(pod) or pod.is_mirror or pod.is_finished or pod.is_terminating)


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    word = noun if count == 1 else (plural_form or f"{noun}s")
    return f"{count} {word}"


def unique_sorted(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(items)))
