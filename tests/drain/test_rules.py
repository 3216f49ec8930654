from __future__ import annotations

import pytest

from upgrader.core.kube import MIRROR_POD_ANNOTATION, OwnerRef, Pod, PodPhase, PodSpec, Volume
from upgrader.drain.rules import DrainOptions, Verdict, decide, decide_all, refusals

REPLICA_SET = OwnerRef("ReplicaSet", "web-1")


def pod(
    name: str = "p",
    owner: OwnerRef | None = REPLICA_SET,
    *,
    phase: PodPhase = PodPhase.RUNNING,
    deleting: bool = False,
    empty_dir: bool = False,
    mirror: bool = False,
) -> Pod:
    return Pod(
        namespace="default",
        name=name,
        uid=name,
        owner=owner,
        phase=phase,
        deletion_timestamp=1.0 if deleting else None,
        annotations={MIRROR_POD_ANNOTATION: "x"} if mirror else {},
        spec=PodSpec(volumes=(Volume("scratch", empty_dir=True),) if empty_dir else ()),
    )


@pytest.mark.parametrize(
    ("subject", "options", "verdict", "reason_part"),
    [
        # filters.go: a terminating pod still meets unreplicatedFilter and localStorageFilter.
        (pod(deleting=True, owner=None), DrainOptions(), Verdict.REFUSE, "--force"),
        (pod(deleting=True, empty_dir=True), DrainOptions(), Verdict.REFUSE, "emptyDir"),
        (pod(deleting=True), DrainOptions(), Verdict.SKIP, "already being deleted"),
        (
            pod(deleting=True, owner=None),
            DrainOptions(force=True),
            Verdict.SKIP,
            "already being deleted",
        ),
        (
            pod(owner=OwnerRef("DaemonSet", "agent"), phase=PodPhase.SUCCEEDED),
            DrainOptions(),
            Verdict.EVICT,
            "finished DaemonSet pod",
        ),
        (pod(owner=OwnerRef("DaemonSet", "agent")), DrainOptions(), Verdict.SKIP, "DaemonSet"),
        (pod(owner=None, mirror=True), DrainOptions(), Verdict.SKIP, "mirror"),
        (pod(owner=None, phase=PodPhase.SUCCEEDED), DrainOptions(), Verdict.EVICT, "finished"),
        (pod(empty_dir=True), DrainOptions(), Verdict.REFUSE, "--delete-emptydir-data"),
        (pod(empty_dir=True), DrainOptions(delete_emptydir_data=True), Verdict.EVICT, "ReplicaSet"),
        (pod(owner=None), DrainOptions(), Verdict.REFUSE, "--force"),
        (pod(owner=None), DrainOptions(force=True), Verdict.EVICT, "deleted for good"),
        (
            pod(owner=OwnerRef("ReplicaSet", "x", controller=False)),
            DrainOptions(),
            Verdict.REFUSE,
            "--force",
        ),
        (pod(), DrainOptions(), Verdict.EVICT, "ReplicaSet web-1"),
    ],
)
def test_kubectl_filters_in_order(
    subject: Pod, options: DrainOptions, verdict: Verdict, reason_part: str
) -> None:
    decision = decide(subject, options)
    assert decision.verdict is verdict
    assert reason_part in decision.reason


def test_emptydir_refusal_comes_before_the_controller_check() -> None:
    # kubectl checks local storage before "unreplicated": a bare pod with emptyDir names emptyDir.
    decision = decide(pod(owner=None, empty_dir=True), DrainOptions())
    assert "emptyDir" in decision.reason


def test_refusals_lists_only_refused_pods() -> None:
    decisions = decide_all(
        [pod("a"), pod("b", owner=None), pod("c", empty_dir=True)], DrainOptions()
    )
    assert [d.pod.name for d in refusals(decisions)] == ["b", "c"]


def test_a_pod_whose_daemonset_is_gone_is_refused_or_forced() -> None:
    """filters.go daemonSetFilter: the DaemonSet is not found -> error, or delete with --force."""
    orphan = pod(owner=OwnerRef("DaemonSet", "gone"))
    assert decide(orphan, DrainOptions(), daemonsets=set()).verdict is Verdict.REFUSE
    assert "no longer exists" in decide(orphan, DrainOptions(), daemonsets=set()).reason
    forced = decide(orphan, DrainOptions(force=True), daemonsets=set())
    assert forced.verdict is Verdict.EVICT
    kept = decide(orphan, DrainOptions(), daemonsets={"default/gone"})
    assert kept.verdict is Verdict.SKIP


def test_skip_wait_for_delete_timeout_gives_up_on_old_deletions() -> None:
    """filters.go skipDeletedFilter/shouldSkipPod: deleted more than N seconds ago -> skipped."""
    old = pod(deleting=True, owner=None)  # deleted at t=1
    options = DrainOptions(skip_wait_for_delete_timeout_seconds=60)
    assert decide(old, options, now=100.0).verdict is Verdict.SKIP
    assert decide(old, options, now=30.0).verdict is Verdict.REFUSE
