"""Which pods a drain evicts, skips or refuses: `kubectl drain`'s filters, in kubectl's order.

kubectl (staging/src/k8s.io/kubectl/pkg/drain/filters.go) runs its filters in a fixed order and
the first one that decides wins: an already-deleted pod is skipped; a DaemonSet pod is left
running (its controller would recreate it at once); a mirror pod is skipped (the kubelet owns
it); a pod with emptyDir data is refused unless the user agreed to lose that data; a pod with
no controller is refused unless forced (nothing would recreate it). Finished pods pass every
filter: losing them loses nothing.

eksup runs these rules for every blue node at plan time, so a refusal is reported up front for
the whole node group, before anything is cordoned or evicted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from upgrader.kube import OwnerKind, Pod


class Verdict(StrEnum):
    EVICT = "evict"
    SKIP = "skip"  # left where it is, on purpose
    REFUSE = "refuse"  # blocks the drain of its node until the user decides


@dataclass(frozen=True)
class DrainOptions:
    delete_emptydir_data: bool = False
    force: bool = False


@dataclass(frozen=True)
class PodDecision:
    pod: Pod
    verdict: Verdict
    reason: str


def decide(pod: Pod, options: DrainOptions) -> PodDecision:
    if pod.is_terminating:
        return PodDecision(pod, Verdict.SKIP, "already being deleted")
    if pod.owner is not None and pod.owner.kind == OwnerKind.DAEMON_SET:
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
    if pod.owner is None or not pod.owner.controller:
        if not options.force:
            return PodDecision(
                pod,
                Verdict.REFUSE,
                "has no controller, so nothing recreates it (allow with --force)",
            )
        return PodDecision(pod, Verdict.EVICT, "no controller; deleted for good (--force)")
    return PodDecision(pod, Verdict.EVICT, f"managed by {pod.owner.kind} {pod.owner.name}")


def decide_all(pods: Iterable[Pod], options: DrainOptions) -> list[PodDecision]:
    return [decide(pod, options) for pod in pods]


def refusals(decisions: Iterable[PodDecision]) -> list[PodDecision]:
    return [d for d in decisions if d.verdict is Verdict.REFUSE]
