"""What a drain would refuse, found before anything changes (reads only): the pre-flight gate
and every step that drains call this, so they judge exactly as the drain will.
"""

from __future__ import annotations

from upgrader.core.errors import PermissionDeniedError
from upgrader.core.kube import WorkloadKind
from upgrader.core.ports import Cluster
from upgrader.drain.rules import DrainOptions, PodDecision, decide_all, refusals


def preflight_refusals(
    cluster: Cluster,
    node_names: list[str],
    options: DrainOptions,
    pod_selector: str | None = None,
    now: float | None = None,
) -> list[PodDecision]:
    """Every pod on these nodes that the drain would refuse; reads only. `now` dates deletions
    for --skip-wait-for-delete-timeout (None: no deletion is old enough to skip)."""
    found: list[PodDecision] = []
    daemonsets = existing_daemonsets(cluster)
    for name in node_names:
        pods = cluster.list_pods(node_name=name, label_selector=pod_selector)
        found.extend(refusals(decide_all(pods, options, daemonsets, now)))
    return found


def existing_daemonsets(cluster: Cluster) -> set[str] | None:
    """ "namespace/name" of every DaemonSet: kubectl refuses a pod whose DaemonSet is gone.
    None when DaemonSets may not be listed: every DaemonSet pod is then taken as owned."""
    try:
        daemonsets = cluster.list_workloads(WorkloadKind.DAEMON_SET)
    except PermissionDeniedError:
        return None
    return {f"{w.namespace}/{w.name}" for w in daemonsets}
