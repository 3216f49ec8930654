"""Which pods a drain evicts, skips or refuses: `kubectl drain`'s filters, in kubectl's order.

kubectl (staging/src/k8s.io/kubectl/pkg/drain/filters.go, `makeFilters`) runs its filters in a
fixed order, and the first that does not let a pod go decides (`filterPods`):
- `skipDeletedFilter`: a pod deleted more than --skip-wait-for-delete-timeout seconds ago is
  skipped (not waited for); without that option a terminating pod goes through the others;
- `daemonSetFilter`: a finished DaemonSet pod goes; a pod whose DaemonSet no longer exists is
  refused, or deleted with --force; the others stay (an error without --ignore-daemonsets);
- `mirrorPodFilter`: a mirror (static) pod is skipped: the kubelet owns it;
- `localStorageFilter`: a running pod with emptyDir data is refused unless the user agreed to
  lose that data (--delete-emptydir-data);
- `unreplicatedFilter`: a running pod with no controller is refused unless forced.
Finished pods pass every filter: losing them loses nothing.

Where eksup differs, on purpose: DaemonSet pods always stay, as with kubectl's
--ignore-daemonsets (their controller would put them back at once, and a node replacement
removes them with the node); eksup never fails a drain for them. A terminating pod that passes
every filter is not evicted a second time (kubectl evicts it again, which only re-deletes it):
the drain waits for it either way.

eksup runs these rules for every blue node at plan time, so a refusal is reported up front for
the whole node group, before anything is cordoned or evicted.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from enum import StrEnum

from upgrader.core.kube import OwnerKind, Pod


class Verdict(StrEnum):
    EVICT = "evict"
    SKIP = "skip"  # left where it is, on purpose
    REFUSE = "refuse"  # blocks the drain of its node until the user decides


@dataclass(frozen=True)
class DrainOptions:
    delete_emptydir_data: bool = False
    force: bool = False
    # Pods deleted longer ago than this are not waited for (a dead kubelet never confirms
    # their end); 0 waits for every pod, as kubectl does by default.
    skip_wait_for_delete_timeout_seconds: int = 0


@dataclass(frozen=True)
class PodDecision:
    pod: Pod
    verdict: Verdict
    reason: str


def gave_up_waiting(pod: Pod, options: DrainOptions, now: float | None) -> bool:
    """kubectl's shouldSkipPod: deleted longer ago than --skip-wait-for-delete-timeout."""
    timeout = options.skip_wait_for_delete_timeout_seconds
    return (
        pod.deletion_timestamp is not None
        and timeout > 0
        and now is not None
        and now - pod.deletion_timestamp > timeout
    )


def decide(
    pod: Pod,
    options: DrainOptions,
    daemonsets: Container[str] | None = None,
    now: float | None = None,
) -> PodDecision:
    """kubectl's filters for one pod. `daemonsets` holds "namespace/name" of the DaemonSets
    that exist (None: unknown, taken as existing); `now` dates a pod's deletion."""
    timeout = options.skip_wait_for_delete_timeout_seconds
    if gave_up_waiting(pod, options, now):
        return PodDecision(
            pod,
            Verdict.SKIP,
            f"being deleted for over {timeout}s; not waited for (--skip-wait-for-delete-timeout)",
        )
    owner = pod.owner
    if owner is not None and owner.controller and owner.kind == OwnerKind.DAEMON_SET:
        if pod.is_finished:
            return PodDecision(pod, Verdict.EVICT, "finished DaemonSet pod; nothing is lost")
        if daemonsets is not None and f"{pod.namespace}/{owner.name}" not in daemonsets:
            if options.force:
                return PodDecision(
                    pod,
                    Verdict.EVICT,
                    f"its DaemonSet {owner.name} no longer exists; deleted for good (--force)",
                )
            return PodDecision(
                pod,
                Verdict.REFUSE,
                f"its DaemonSet {owner.name} no longer exists, so nothing recreates it "
                "(allow with --force)",
            )
        return PodDecision(pod, Verdict.SKIP, "DaemonSet-managed; it stays until the node goes")
    if pod.is_mirror:
        return PodDecision(pod, Verdict.SKIP, "mirror (static) pod, owned by the kubelet")
    if pod.is_finished:
        return PodDecision(pod, Verdict.EVICT, "finished; nothing is lost")
    if any(v.empty_dir for v in pod.spec.volumes) and not options.delete_emptydir_data:
        return PodDecision(
            pod,
            Verdict.REFUSE,
            "uses emptyDir, whose data is lost on eviction (allow with --delete-emptydir-data)",
        )
    if owner is None or not owner.controller:
        if not options.force:
            return PodDecision(
                pod,
                Verdict.REFUSE,
                "has no controller, so nothing recreates it (allow with --force)",
            )
        if pod.is_terminating:
            return PodDecision(pod, Verdict.SKIP, "already being deleted; the drain waits for it")
        return PodDecision(pod, Verdict.EVICT, "no controller; deleted for good (--force)")
    if pod.is_terminating:
        return PodDecision(pod, Verdict.SKIP, "already being deleted; the drain waits for it")
    return PodDecision(pod, Verdict.EVICT, f"managed by {owner.kind} {owner.name}")


def decide_all(
    pods: Iterable[Pod],
    options: DrainOptions,
    daemonsets: Container[str] | None = None,
    now: float | None = None,
) -> list[PodDecision]:
    return [decide(pod, options, daemonsets, now) for pod in pods]


def refusals(decisions: Iterable[PodDecision]) -> list[PodDecision]:
    return [d for d in decisions if d.verdict is Verdict.REFUSE]
