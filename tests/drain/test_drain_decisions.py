"""The drain's decisions and reports pinned one by one (issue 12, item 9, after issue 11's drain
merged): what it refuses before any change, when it gives up, what it says is stuck and what
its progress reads. `make mutate` runs this module against mutants of `upgrader/drain/`; each
test here kills mutants the rest of its selection let live.

Kubernetes' rules cited are kubectl's (staging/src/k8s.io/kubectl/pkg/drain/filters.go:
`skipDeletedFilter`/`shouldSkipPod`, `daemonSetFilter`) and the Eviction API's
(pkg/registry/core/pod/storage/eviction.go).

No mutant of the modules this selection covers is known to be equivalent. Two were, and the code
changed so they cannot exist: the journal's file encoding (records are ASCII JSON, so "utf-8",
"UTF-8" and the locale's encoding wrote the same bytes; the file is now written as bytes) and
the ConfigMap mirror's "" default for a missing key (any one-line default was dropped as a torn
last line; a missing key now reads as no records without parsing anything).
"""

from __future__ import annotations

import pytest

from upgrader.core.errors import EvictionDeniedError, PermissionDeniedError
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    Node,
    OwnerRef,
    Pod,
    PodDisruptionBudget,
    PodPhase,
    PodSpec,
    PodTemplate,
    Resources,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)
from upgrader.drain.drainer import (
    Drain,
    DrainRefusedError,
    DrainReport,
    DrainSettings,
    DrainTimeoutError,
    StuckPod,
    drain_summary,
    existing_daemonsets,
    preflight_refusals,
)
from upgrader.drain.rules import (
    DrainOptions,
    PodDecision,
    Verdict,
    decide,
    decide_all,
    gave_up_waiting,
)
from upgrader.drain.schedule import Candidate, PdbIndex
from upgrader.execute.progress import DrainTally
from upgrader.plan.drain_estimate import ASSUMED_STARTUP_SECONDS
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

T0 = 1767225600.0  # the virtual clock's start
MIB = 2**20
BLUE = Taint("eksup.io/upgrade", TaintEffect.NO_SCHEDULE, "blue")
RS = OwnerRef("ReplicaSet", "web-1")
WAITS = "already being deleted; the drain waits for it"


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


# --- kubectl's filters: the exact decision, reason included ------------------------------------


def _pod(**fields: object) -> Pod:
    return Pod("shop", "p", "uid", **fields)  # type: ignore[arg-type]


SKIP_30 = DrainOptions(skip_wait_for_delete_timeout_seconds=30)


@pytest.mark.parametrize(
    ("fields", "options", "verdict", "reason"),
    [
        # skipDeletedFilter: deleted 31 s ago, the option says 30.
        ({"deletion_timestamp": T0 - 31, "owner": None}, SKIP_30, Verdict.SKIP,
         "being deleted for over 30s; not waited for (--skip-wait-for-delete-timeout)"),
        # daemonSetFilter: a finished DaemonSet pod goes whether or not its DaemonSet exists.
        ({"owner": OwnerRef("DaemonSet", "gone"), "phase": PodPhase.SUCCEEDED}, DrainOptions(),
         Verdict.EVICT, "finished DaemonSet pod; nothing is lost"),
        ({"owner": OwnerRef("DaemonSet", "gone")}, DrainOptions(force=True), Verdict.EVICT,
         "its DaemonSet gone no longer exists; deleted for good (--force)"),
        ({"owner": OwnerRef("DaemonSet", "gone")}, DrainOptions(), Verdict.REFUSE,
         "its DaemonSet gone no longer exists, so nothing recreates it (allow with --force)"),
        ({"owner": OwnerRef("DaemonSet", "here")}, DrainOptions(), Verdict.SKIP,
         "DaemonSet-managed; it stays until the node goes"),
        # A forced bare pod already being deleted is waited for, not deleted again.
        ({"deletion_timestamp": T0 - 1, "owner": None}, DrainOptions(force=True), Verdict.SKIP,
         WAITS),
        ({"deletion_timestamp": T0 - 1, "owner": RS}, SKIP_30, Verdict.SKIP, WAITS),
    ],
)  # fmt: skip
def test_each_filter_decides_with_its_exact_reason(
    fields: dict[str, object], options: DrainOptions, verdict: Verdict, reason: str
) -> None:
    pod = _pod(**fields)
    assert decide(pod, options, daemonsets={"shop/here"}, now=T0) == PodDecision(
        pod, verdict, reason
    )


@pytest.mark.parametrize(
    ("timeout", "deleted_ago", "gave_up"),
    [
        (1, 5.0, True),  # any positive timeout counts, 1 s included
        (10, 5.0, False),
        (10, 10.0, False),  # kubectl: only deletions *older* than the timeout are skipped
        (10, 11.0, True),
        (0, 10_000.0, False),  # 0 (the default): every deletion is waited for
    ],
)
def test_skip_wait_counts_from_the_deletion_timestamp(
    timeout: int, deleted_ago: float, gave_up: bool
) -> None:
    options = DrainOptions(skip_wait_for_delete_timeout_seconds=timeout)
    pod = _pod(deletion_timestamp=T0 - deleted_ago)
    assert gave_up_waiting(pod, options, T0) is gave_up
    assert gave_up_waiting(pod, options, None) is False  # undated: never given up on
    assert gave_up_waiting(_pod(), options, T0) is False  # not being deleted


def test_decide_all_decides_with_the_daemonsets_and_time_it_is_given() -> None:
    orphan = Pod("shop", "agent", "u", owner=OwnerRef("DaemonSet", "gone"))
    stuck = Pod("shop", "stuck", "u", deletion_timestamp=T0 - 100)
    decisions = decide_all([orphan, stuck], SKIP_30, set(), T0)
    assert [d.verdict for d in decisions] == [Verdict.REFUSE, Verdict.SKIP]


# --- the one-line result of a drain ------------------------------------------------------------


@pytest.mark.parametrize(
    ("capped", "tail"),
    [
        (0, ""),
        (3, "; --max-grace-period cut the grace period of p0, p1, p2"),
        (4, "; --max-grace-period cut the grace period of p0, p1, p2 and 1 more"),
        (6, "; --max-grace-period cut the grace period of p0, p1, p2 and 3 more"),
    ],
)
def test_the_summary_says_what_went_how_long_and_whose_grace_was_cut(
    capped: int, tail: str
) -> None:
    report = DrainReport(
        evicted=["a/x", "a/y"],
        started_at=T0,
        finished_at=T0 + 61.6,
        grace_capped=[f"p{i}" for i in range(capped)],
    )
    assert drain_summary(report) == "2 pods evicted in 62s" + tail


# --- a world of two blue nodes and a green one ---------------------------------------------------


def _world(clock: VirtualClock, green_cpu: int = 8000) -> FakeCluster:
    kube = FakeCluster(clock)
    for name, group, cpu in (
        ("blue-1", "blue", 8000),
        ("blue-2", "blue", 8000),
        ("green-1", "green", green_cpu),
    ):
        kube.add_node(
            Node(
                name=name,
                labels={NODEGROUP_LABEL: group},
                kubelet_version="v1.29.8",
                allocatable=Resources(cpu, 32 * 1024 * MIB, 110),
            )
        )
    return kube


def _app(kube: FakeCluster, name: str, replicas: int, *, cpu: int = 100, grace: int = 30) -> None:
    labels = {"app": name}
    spec = PodSpec(requests=Resources(cpu, 64 * MIB, 1), termination_grace_seconds=grace)
    kube.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "default",
            name,
            LabelSelector(labels),
            PodTemplate(labels, spec=spec),
            replicas=replicas,
        ),
        startup_seconds=5.0,
    )


def _on_blue(kube: FakeCluster) -> None:
    """Let every workload's pods start on blue only."""
    kube.set_unschedulable("green-1", True)
    kube.settle()
    kube.set_unschedulable("green-1", False)


def _blue_drain(kube: FakeCluster, clock: VirtualClock, **settings: object) -> Drain:
    return Drain(
        kube,
        clock,
        lambda: kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=blue"),
        DrainSettings(**{"taint": BLUE, "timeout_seconds": 600.0, **settings}),  # type: ignore[arg-type]
    )


def _bare(kube: FakeCluster, name: str, node: str, **fields: object) -> Pod:
    return kube.add_pod(Pod("default", name, "", node_name=node, **fields))  # type: ignore[arg-type]


def _stuck_terminating(kube: FakeCluster, clock: VirtualClock, name: str, ago: float) -> Pod:
    """A bare pod on blue-1 whose kubelet never confirms its deletion, deleted `ago` s ago."""
    _bare(kube, name, "blue-1")
    kube.delete_pod("default", name, 100_000)
    clock.sleep(ago)
    return kube.get_pod("default", name)


# --- refusals found before any change ----------------------------------------------------------


def test_daemonsets_are_listed_by_kind_or_unknown_when_forbidden(clock: VirtualClock) -> None:
    kube = _world(clock)
    _app(kube, "ds", 1)  # a Deployment named like the DaemonSets below: not one of them
    nowhere = PodTemplate({"app": "a"}, spec=PodSpec(node_selector={"nowhere": "true"}))
    kube.add_workload(
        Workload(WorkloadKind.DAEMON_SET, "kube-system", "agent", LabelSelector({}), nowhere)
    )
    assert existing_daemonsets(kube) == {"kube-system/agent"}

    def forbid(action: Action) -> None:
        raise PermissionDeniedError("forbidden", "list daemonsets")

    kube.add_reactor("list", "daemonsets", forbid)
    assert existing_daemonsets(kube) is None


def test_preflight_refuses_an_orphaned_daemonset_pod(clock: VirtualClock) -> None:
    kube = _world(clock)
    orphan = _bare(kube, "agent", "blue-1", owner=OwnerRef("DaemonSet", "gone"))
    (refused,) = preflight_refusals(kube, ["blue-1", "blue-2"], DrainOptions())
    assert refused == PodDecision(
        orphan,
        Verdict.REFUSE,
        "its DaemonSet gone no longer exists, so nothing recreates it (allow with --force)",
    )


def test_preflight_looks_only_at_the_selected_pods(clock: VirtualClock) -> None:
    kube = _world(clock)
    _bare(kube, "bare", "blue-1", labels={"app": "other"})
    assert [d.pod.name for d in preflight_refusals(kube, ["blue-1"], DrainOptions())] == ["bare"]
    assert preflight_refusals(kube, ["blue-1"], DrainOptions(), pod_selector="app=web") == []


def test_preflight_skips_what_skip_wait_gives_up_on_when_given_the_time(
    clock: VirtualClock,
) -> None:
    kube = _world(clock)
    _stuck_terminating(kube, clock, "stuck", ago=100)
    options = DrainOptions(skip_wait_for_delete_timeout_seconds=60)
    assert preflight_refusals(kube, ["blue-1"], options, now=clock.now()) == []
    assert len(preflight_refusals(kube, ["blue-1"], options)) == 1  # undated: a bare pod


def test_a_drain_leaves_a_pod_outside_its_selector_alone(clock: VirtualClock) -> None:
    kube = _world(clock)
    _app(kube, "web", 2)
    _on_blue(kube)
    bare = _bare(kube, "bare", "blue-1", labels={"app": "other"})
    report = _blue_drain(kube, clock, pod_selector="app=web").run()
    assert len(report.evicted) == 2
    left = kube.get_pod("default", "bare")
    assert (left.uid, left.node_name, left.is_terminating) == (bare.uid, "blue-1", False)


def test_a_drain_skips_a_pod_a_dead_kubelet_holds_past_skip_wait(clock: VirtualClock) -> None:
    """kubectl runs skipDeletedFilter first: a pod deleted longer ago than
    --skip-wait-for-delete-timeout is skipped, even a bare one (no refusal, no waiting)."""
    kube = _world(clock)
    _stuck_terminating(kube, clock, "stuck", ago=100)
    options = DrainOptions(skip_wait_for_delete_timeout_seconds=60)
    report = _blue_drain(kube, clock, options=options).run()
    assert (report.evicted, report.skipped) == ([], ["default/stuck"])
    assert kube.get_pod("default", "stuck").is_terminating


def test_a_daemonset_pod_orphaned_mid_drain_holds_its_node(clock: VirtualClock) -> None:
    kube = _world(clock)
    _app(kube, "web", 4)
    _on_blue(kube)

    def orphan() -> None:
        _bare(kube, "agent", "blue-2", owner=OwnerRef("DaemonSet", "gone"))

    clock.call_later(1, orphan)
    with pytest.raises(DrainRefusedError) as refused:
        _blue_drain(kube, clock).run()
    assert "default/agent on blue-2: its DaemonSet gone no longer exists" in str(refused.value)


# --- when the drain gives up ---------------------------------------------------------------------


def _frozen_pdb(namespace: str = "default") -> PodDisruptionBudget:
    return PodDisruptionBudget(
        namespace, "frozen", LabelSelector({"app": "frozen"}), max_unavailable=0
    )


def test_deleting_past_a_budget_that_never_allows_is_not_hopeless(clock: VirtualClock) -> None:
    """--disable-eviction deletes pods a batch at a time whatever their budget says: pods being
    deleted each round are progress, so the drain must not stop as if nothing could move."""
    kube = _world(clock)
    kube.add_pdb(_frozen_pdb())
    for i in range(3):
        _bare(kube, f"f{i}", "blue-1", labels={"app": "frozen"}, owner=RS)
    report = _blue_drain(
        kube, clock, disable_eviction=True, grace_period_seconds=0, unbudgeted_limit=1
    ).run()
    assert report.evicted == ["default/f0", "default/f1", "default/f2"]


def test_the_drain_does_not_give_up_while_a_pod_is_still_terminating(
    clock: VirtualClock,
) -> None:
    """A webhook refuses one pod for good, but another is still going: the drain waits for it
    to be gone (the webhook may answer differently then), and gives up two polls later."""
    kube = _world(clock)
    _app(kube, "held", 1)
    _app(kube, "slow", 1, grace=100)
    _on_blue(kube)

    def deny(action: Action) -> None:
        if action.name.startswith("held-"):
            raise EvictionDeniedError('admission webhook "guard" denied the request')

    kube.add_reactor("create", "pods/eviction", deny)
    start = clock.now()
    with pytest.raises(DrainTimeoutError) as stopped:
        _blue_drain(kube, clock, poll_seconds=2.0, timeout_seconds=1800.0).run()
    assert stopped.value.hopeless
    assert 100 <= clock.now() - start <= 106
    assert [s.cause for s in stopped.value.report.stuck] == ["webhook"]


def _hopeless_drain(clock: VirtualClock, kube: FakeCluster | None = None) -> Drain:
    drain = Drain(kube or FakeCluster(clock), clock, list)
    drain._denied["ns/denied"] = "no"
    return drain


DENIED = Candidate(Pod("ns", "denied", "u"), (), 1.0)
NEVER = Candidate(Pod("ns", "never", "u", labels={"app": "frozen"}), ("ns/frozen",), 1.0)
OPEN = Candidate(Pod("ns", "open", "u", labels={"app": "open"}), ("ns/open",), 1.0)
INDEX = PdbIndex(
    [_frozen_pdb("ns"), PodDisruptionBudget("ns", "open", LabelSelector({}), max_unavailable=1)]
)
STUCK = [DENIED, NEVER]  # a webhook's refusal and a budget that never allows: waiting is vain


def _rounds(
    drain: Drain, *rounds: tuple[list[Candidate], list[Candidate], list[Pod]]
) -> list[bool]:
    return [drain._hopeless(c, chosen, terminating, INDEX) for c, chosen, terminating in rounds]


def test_hopeless_takes_two_rounds_in_a_row_of_nothing_that_can_move(clock: VirtualClock) -> None:
    assert _rounds(_hopeless_drain(clock), (STUCK, [], []), (STUCK, [], [])) == [False, True]


@pytest.mark.parametrize(
    "moving",
    [
        ([DENIED], [OPEN], []),  # an eviction issued this round
        ([DENIED], [], [Pod("ns", "t", "u")]),  # a pod still terminating
        ([DENIED, OPEN], [], []),  # a budget that may open again
        ([DENIED, Candidate(Pod("ns", "free", "u"), (), 1.0)], [], []),  # a pod with no PDB
    ],
)
def test_a_round_where_something_can_move_starts_the_count_again(
    clock: VirtualClock, moving: tuple[list[Candidate], list[Candidate], list[Pod]]
) -> None:
    drain = _hopeless_drain(clock)
    stuck = (STUCK, [], [])
    assert _rounds(drain, stuck, moving, stuck, moving, moving) == [False] * 5
    assert _rounds(drain, stuck, stuck) == [False, True]


def test_not_hopeless_while_replacements_are_starting(clock: VirtualClock) -> None:
    kube = FakeCluster(clock)
    _unready_statefulset(kube, "db")
    drain = _hopeless_drain(clock, kube)
    drain._displaced = {(WorkloadKind.STATEFUL_SET, "ns", "db")}
    stuck = (STUCK, [], [])
    assert _rounds(drain, stuck, stuck, stuck) == [False, False, False]


# --- replacements, and what is reported stuck ---------------------------------------------------


def _unready_statefulset(kube: FakeCluster, name: str) -> None:
    """A StatefulSet whose pod can start nowhere: never Ready."""
    nowhere = PodTemplate({"app": name}, spec=PodSpec(node_selector={"nowhere": "true"}))
    kube.add_workload(
        Workload(WorkloadKind.STATEFUL_SET, "ns", name, LabelSelector({"app": name}), nowhere, 1)
    )


def _displaced(*names: str) -> set[tuple[WorkloadKind, str, str]]:
    return {(WorkloadKind.STATEFUL_SET, "ns", name) for name in names}


@pytest.mark.parametrize(
    ("displaced", "pending"),
    [
        (_displaced("a-gone", "db"), 1),  # a workload deleted meanwhile is not waited for
        (_displaced("db", "db2"), 2),
        (_displaced("a-gone"), 0),
        # A workload with no desired count (a DaemonSet) is not waited for, wherever it sorts.
        ({(WorkloadKind.DAEMON_SET, "ns", "a-agent"), *_displaced("db")}, 1),
    ],
)
def test_replacements_pending_counts_the_workloads_not_ready(
    clock: VirtualClock, displaced: set[tuple[WorkloadKind, str, str]], pending: int
) -> None:
    kube = FakeCluster(clock)
    _unready_statefulset(kube, "db")
    _unready_statefulset(kube, "db2")
    agent = PodTemplate({"app": "agent"}, spec=PodSpec(node_selector={"nowhere": "true"}))
    kube.add_workload(
        Workload(WorkloadKind.DAEMON_SET, "ns", "a-agent", LabelSelector({"app": "agent"}), agent)
    )
    drain = Drain(kube, clock, list)
    drain._displaced = displaced
    assert drain._replacements_ready() is (pending == 0)
    assert drain._tally([], [], [], {}).replacements_pending == pending


def test_a_workload_behind_is_reported_with_its_cause_and_advice(clock: VirtualClock) -> None:
    kube = FakeCluster(clock)
    _unready_statefulset(kube, "db")
    drain = Drain(kube, clock, list)
    drain._displaced = _displaced("a-gone", "db")
    assert drain._stuck([], [], PdbIndex([]), []) == [
        StuckPod(
            "StatefulSet/ns/db",
            "",
            None,
            None,
            "0/1 Ready; Pending, no room: db-0: no Ready, schedulable node outside the drained "
            "ones",
            "no-room",
            "make room on the new nodes, then --resume",
        )
    ]


def test_a_terminating_pod_is_reported_with_its_grace_period_and_the_way_out(
    clock: VirtualClock,
) -> None:
    drain = Drain(FakeCluster(clock), clock, list)
    pod = Pod("ns", "t", "u", spec=PodSpec(termination_grace_seconds=45))
    assert drain._stuck([], [pod], PdbIndex([]), []) == [
        StuckPod(
            "ns/t",
            "",
            None,
            None,
            "terminating (grace 45s)",
            "terminating",
            "wait for its grace period; a pod stuck Terminating on a dead kubelet needs "
            "--skip-wait-for-delete-timeout",
        )
    ]


def test_no_room_on_green_counts_the_pods_of_every_namespace(clock: VirtualClock) -> None:
    """Green is full of another namespace's pods: the replacement is Pending for lack of cpu,
    and the stuck report says so (not "not scheduled yet")."""
    kube = _world(clock, green_cpu=1000)
    hog = PodSpec(requests=Resources(900, 64 * MIB, 1))
    kube.add_pod(Pod("other", "hog", "", owner=RS, node_name="green-1", spec=hog))
    _app(kube, "web", 2, cpu=200)
    _on_blue(kube)
    kube.add_pdb(
        PodDisruptionBudget("default", "web", LabelSelector({"app": "web"}), max_unavailable=1)
    )
    with pytest.raises(DrainTimeoutError) as stopped:
        _blue_drain(kube, clock, timeout_seconds=60.0).run()
    (stuck,) = stopped.value.report.stuck
    assert stuck.cause == "no-room"
    assert stuck.reason.endswith(": not enough cpu (needs 200m, 100m free) on green-1")


# --- deleting without the Eviction API ----------------------------------------------------------


def test_a_deletion_is_journaled_made_with_the_capped_grace_and_reported(
    clock: VirtualClock,
) -> None:
    kube = _world(clock)
    pod = _bare(kube, "p", "blue-1", owner=RS)
    journal: list[str] = []
    settings = DrainSettings(
        disable_eviction=True, max_grace_period_seconds=0, journal=journal.append
    )
    drain = Drain(kube, clock, list, settings)
    drain._evict(pod)
    assert journal == [
        "delete pod default/p on blue-1 without the Eviction API (--disable-eviction: no "
        "PodDisruptionBudget is asked)"
    ]
    assert kube.list_pods(namespace="default") == []  # grace 0: gone at once
    assert drain.report.evicted == ["default/p"]
    assert drain.report.grace_capped == ["default/p 30s->0s"]
    assert drain._displaced == {(WorkloadKind.REPLICA_SET, "default", "web-1")}
    bare = _bare(kube, "bare", "blue-1")
    drain._evict(bare)
    assert drain._displaced == {(WorkloadKind.REPLICA_SET, "default", "web-1")}  # nothing new


def test_a_grace_cap_above_the_pods_own_is_not_reported_as_a_cut(clock: VirtualClock) -> None:
    kube = _world(clock)
    pod = _bare(kube, "p", "blue-1", owner=RS)  # its own grace: 30 s
    drain = Drain(kube, clock, list, DrainSettings(max_grace_period_seconds=30))
    drain._evict(pod)
    assert drain.report.evicted == ["default/p"]
    assert drain.report.grace_capped == []


# --- the progress tally -------------------------------------------------------------------------


def test_a_tally_counts_nodes_headroom_held_pods_and_the_budget_bound(
    clock: VirtualClock,
) -> None:
    nodes = [Node(name=f"blue-{i}", kubelet_version="v1.29.8") for i in range(1, 5)]

    def on(node: str, name: str, pdbs: tuple[str, ...]) -> Candidate:
        return Candidate(Pod("ns", name, "u", node_name=node), pdbs, 1.0)

    candidates = [
        on("blue-1", "w1", ("ns/web",)),
        on("blue-1", "w2", ("ns/web",)),
        on("blue-2", "d1", ("ns/db",)),
        on("blue-2", "m1", ("ns/missing",)),  # its budget was not in the last read
        on("blue-2", "free", ()),
    ]
    terminating = [Pod("ns", "t", "u", node_name="blue-3")]
    budgets = {"ns/web": 1, "ns/db": 0}
    drain = Drain(FakeCluster(clock), clock, list)
    drain.report.started_at = T0 - 42
    wave = 30 + ASSUMED_STARTUP_SECONDS  # default grace + assumed start-up
    assert drain._tally(nodes, candidates, terminating, budgets) == DrainTally(
        nodes_total=4,
        nodes_drained=1,  # blue-4: nothing left to evict and nothing terminating
        replacements_pending=0,
        elapsed=42.0,
        estimate=2 * wave,  # two pods in waves of one, under ns/web
        headroom=1,  # what ns/web allows; a spent or unknown budget allows nothing
        held=2,  # d1 and m1
    )
    # The estimate is the drain's first: later rounds do not move it.
    later = drain._tally(nodes, candidates[:1], [], budgets)
    assert (later.estimate, later.nodes_drained) == (2 * wave, 3)


def test_no_estimate_before_there_is_a_pod_to_evict(clock: VirtualClock) -> None:
    drain = Drain(FakeCluster(clock), clock, list)
    assert drain._tally([], [], [], {}).estimate is None


def test_a_workload_must_only_get_back_the_ready_count_it_had_before_the_drain(
    clock: VirtualClock,
) -> None:
    """A pod bound but never started (Pending, never Ready) leaves its workload short before the
    drain: waiting for all replicas would hold the drain to its timeout (eviction.go lets such a
    pod go without its budget; kubectl drain finishes)."""
    kube = FakeCluster(clock)
    _unready_statefulset(kube, "db")  # 1 replica, 0 Ready, before anything is evicted
    pod = Pod("ns", "db-0", uid="db-0", labels={"app": "db"}, owner=OwnerRef("StatefulSet", "db"))
    drain = Drain(kube, clock, list)
    drain._note_ready_before(pod)
    key = (WorkloadKind.STATEFUL_SET, "ns", "db")
    assert drain._ready_before == {key: 0}
    drain._displaced = {key}
    assert drain._replacements_ready() is True
    # The count is the one before the first eviction: a later note does not move it.
    drain._ready_before[key] = 1
    drain._note_ready_before(pod)
    assert drain._ready_before == {key: 1}
    # Without that memory the same workload would be waited for.
    drain._ready_before.clear()
    assert drain._replacements_ready() is False
