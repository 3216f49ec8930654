"""The drain asks for evictions the way the Eviction API decides them, and says why a pod stays.

Rules from kubernetes pkg/registry/core/pod/storage/eviction.go (`EvictionREST.Create`,
`checkAndDecrement`, `getPodDisruptionBudgets`) and pkg/controller/disruption/disruption.go
(`getExpectedPodCount`, `countHealthyPods`), as issue 11 found them missing.
"""

from __future__ import annotations

import pytest

from upgrader.core.errors import EvictionDeniedError
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    LabelSelector,
    Node,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Taint,
    TaintEffect,
    Workload,
    WorkloadKind,
)
from upgrader.drain.diagnosis import Cause
from upgrader.drain.drainer import Drain, DrainSettings, DrainTimeoutError
from upgrader.drain.rules import DrainOptions
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

TAINT = Taint("eksup.io/upgrade", TaintEffect.NO_SCHEDULE, "blue")
MIB = 2**20


def _world(green_cpu: int = 8000) -> tuple[FakeCluster, VirtualClock]:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    for name, group, cpu in (("blue-1", "blue", 8000), ("green-1", "green", green_cpu)):
        kube.add_node(
            Node(
                name=name,
                labels={NODEGROUP_LABEL: group},
                kubelet_version="v1.29.8",
                allocatable=Resources(cpu, 32 * 1024 * MIB, 110),
            )
        )
    return kube, clock


def _app(
    kube: FakeCluster,
    name: str,
    replicas: int,
    *,
    cpu: int = 100,
    grace: int = 30,
    node_selector: dict[str, str] | None = None,
) -> None:
    labels = {"app": name}
    spec = PodSpec(
        requests=Resources(cpu, 64 * MIB, 1),
        termination_grace_seconds=grace,
        node_selector=node_selector or {},
    )
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


def _pdb(kube: FakeCluster, name: str, app: str, **spec: object) -> None:
    kube.add_pdb(PodDisruptionBudget("default", name, LabelSelector({"app": app}), **spec))  # type: ignore[arg-type]


def _only_on_blue(kube: FakeCluster) -> None:
    kube.set_unschedulable("green-1", True)
    kube.settle()
    kube.set_unschedulable("green-1", False)


def _drain(kube: FakeCluster, clock: VirtualClock, **settings: object) -> Drain:
    return Drain(
        kube,
        clock,
        lambda: kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=blue"),
        DrainSettings(**{"taint": TAINT, "poll_seconds": 2.0, **settings}),  # type: ignore[arg-type]
    )


def test_a_not_ready_pod_goes_under_if_healthy_budget_when_the_app_is_not_disrupted() -> None:
    """Issue 11's stuck drain: minAvailable 2 of 3, one replica not Ready, so 0 allowed. The
    API lets the not-Ready pod go (currentHealthy 2 >= desiredHealthy 2 > 0, eviction.go
    `Create`), kubectl drain finishes; eksup's drain must ask for it and not time out."""
    kube, clock = _world()
    _app(kube, "web", 3)
    _pdb(kube, "web-pdb", "web", min_available=2)
    _only_on_blue(kube)
    sick = kube.list_pods(namespace="default")[0]
    kube.set_pod_ready("default", sick.name, False)
    assert kube.list_pdbs()[0].disruptions_allowed == 0

    report = _drain(kube, clock, timeout_seconds=600.0).run()

    assert sick.key in report.evicted
    assert report.refused_evictions == 0  # asked only when the API would say yes
    assert kube.stats.pdb_violations == ()


def test_always_allow_lets_every_unhealthy_pod_go_even_when_the_app_is_disrupted() -> None:
    """unhealthyPodEvictionPolicy AlwaysAllow: not-Ready pods go whatever the budget."""
    kube, clock = _world()
    _app(kube, "web", 3)
    _pdb(kube, "web-pdb", "web", min_available=3, unhealthy_pod_eviction_policy="AlwaysAllow")
    _only_on_blue(kube)
    for pod in kube.list_pods(namespace="default"):
        kube.set_pod_ready("default", pod.name, False)
    report = _drain(kube, clock, timeout_seconds=600.0).run()
    assert len(report.evicted) == 3
    assert report.refused_evictions == 0


def test_if_healthy_budget_keeps_a_not_ready_pod_while_the_app_is_disrupted() -> None:
    """IfHealthyBudget with currentHealthy < desiredHealthy: the not-Ready pod is judged like a
    healthy one and refused (429), so eksup does not ask; the drain reports why."""
    kube, clock = _world()
    _app(kube, "web", 2)
    _pdb(kube, "web-pdb", "web", min_available=2)
    _only_on_blue(kube)
    for pod in kube.list_pods(namespace="default"):
        kube.set_pod_ready("default", pod.name, False)
    with pytest.raises(DrainTimeoutError) as stopped:
        _drain(kube, clock, timeout_seconds=60.0).run()
    assert stopped.value.report.refused_evictions == 0


def test_a_free_eviction_does_not_spend_the_budget_a_healthy_pod_needs() -> None:
    """maxUnavailable 1 over 4 pods, one not Ready: the not-Ready pod goes free and the one
    disruption goes to a healthy pod in the same round."""
    kube, clock = _world()
    _app(kube, "web", 4)
    _pdb(kube, "web-pdb", "web", max_unavailable=2)
    _only_on_blue(kube)
    sick = kube.list_pods(namespace="default")[0]
    kube.set_pod_ready("default", sick.name, False)
    assert kube.list_pdbs()[0].disruptions_allowed == 1
    drain = _drain(kube, clock, timeout_seconds=600.0, poll_seconds=1.0)
    kube.clear_actions()
    drain.run()
    first_round = [a for a in kube.actions if a.resource == "pods/eviction"][:2]
    assert sick.name in {a.name for a in first_round}
    assert len(first_round) == 2


def test_no_room_on_green_is_named_with_the_resource_and_the_node() -> None:
    """Issue 11's wrong diagnosis: replacements Pending for lack of room were reported as a
    PDB to wait out. The report names the resource and the green node, and advises room."""
    kube, clock = _world(green_cpu=500)
    _app(kube, "big", 2, cpu=1000)
    _pdb(kube, "big-pdb", "big", max_unavailable=1)
    _only_on_blue(kube)
    with pytest.raises(DrainTimeoutError) as stopped:
        _drain(kube, clock, timeout_seconds=120.0).run()
    (stuck,) = stopped.value.report.stuck
    assert stuck.cause == Cause.NO_ROOM
    assert "not enough cpu (needs 1000m, 500m free) on green-1" in stuck.reason
    assert "longer --drain-timeout will not help" in stuck.advice


def test_replacements_not_ready_are_named() -> None:
    kube, clock = _world()
    _app(kube, "web", 2)
    _pdb(kube, "web-pdb", "web", max_unavailable=1)
    _only_on_blue(kube)

    def stall(action: Action) -> None:
        # Every replacement that lands on green fails its readiness probe.
        for pod in kube.list_pods(node_name="green-1"):
            if pod.ready:
                kube.set_pod_ready("default", pod.name, False)

    drain = _drain(kube, clock, timeout_seconds=120.0)
    kube.add_reactor("list", "poddisruptionbudgets", stall)
    with pytest.raises(DrainTimeoutError) as stopped:
        drain.run()
    stuck = stopped.value.report.stuck
    assert stuck[0].cause == Cause.REPLACEMENTS_NOT_READY
    assert "held by replacements not yet Ready: web-" in stuck[0].reason


def test_a_budget_that_never_allows_stops_the_drain_at_once() -> None:
    """maxUnavailable 0: waiting cannot help, so the drain stops in seconds, not at its
    timeout, and the advice is to relax the PDB, not to wait longer."""
    kube, clock = _world()
    _app(kube, "frozen", 2)
    _pdb(kube, "frozen-pdb", "frozen", max_unavailable=0)
    _only_on_blue(kube)
    start = clock.now()
    with pytest.raises(DrainTimeoutError) as stopped:
        _drain(kube, clock, timeout_seconds=1800.0).run()
    assert stopped.value.hopeless
    assert clock.now() - start < 60
    assert {s.cause for s in stopped.value.report.stuck} == {Cause.BUDGET_NEVER_ALLOWS}
    assert "can never allow an eviction (maxUnavailable 0)" in str(stopped.value)
    assert "waiting will not help" in stopped.value.advice


def test_min_available_equal_to_replicas_never_allows() -> None:
    kube, clock = _world()
    _app(kube, "db", 3)
    _pdb(kube, "db-pdb", "db", min_available=3)
    _only_on_blue(kube)
    with pytest.raises(DrainTimeoutError) as stopped:
        _drain(kube, clock, timeout_seconds=1800.0).run()
    assert "minAvailable 3 of 3 pods" in stopped.value.report.stuck[0].reason


def test_a_webhook_refusal_is_named_and_not_retried_forever() -> None:
    kube, clock = _world()
    _app(kube, "guarded", 1)
    _only_on_blue(kube)

    def deny(action: Action) -> None:
        raise EvictionDeniedError(
            'admission webhook "no-evict.example.com" denied the request: protected'
        )

    kube.add_reactor("create", "pods/eviction", deny)
    with pytest.raises(DrainTimeoutError) as stopped:
        _drain(kube, clock, timeout_seconds=1800.0).run()
    (stuck,) = stopped.value.report.stuck
    assert stuck.cause == Cause.WEBHOOK
    assert "no-evict.example.com" in stuck.reason
    assert "webhook's owner" in stuck.advice
    asked = [a for a in kube.actions if a.resource == "pods/eviction"]
    assert len(asked) == 1


def test_grace_caps_are_reported() -> None:
    kube, clock = _world()
    _app(kube, "slow", 1, grace=600)
    _only_on_blue(kube)
    report = _drain(kube, clock, max_grace_period_seconds=60, timeout_seconds=900.0).run()
    (capped,) = report.grace_capped
    assert capped.endswith("600s->60s")


def test_ready_workloads_are_not_listed_as_replacements_not_ready() -> None:
    """The old stuck report listed every displaced workload as "replacements not Ready"; only
    the ones short of Ready replicas hold the drain, each with its real cause."""
    kube, clock = _world(green_cpu=500)
    _app(kube, "fine", 1)
    _app(kube, "big", 1, cpu=1000)
    _only_on_blue(kube)
    with pytest.raises(DrainTimeoutError) as stopped:
        _drain(kube, clock, timeout_seconds=120.0).run()
    (stuck,) = stopped.value.report.stuck
    assert stuck.pod.startswith("ReplicaSet/default/big")
    assert stuck.cause == Cause.NO_ROOM
    assert "0/1 Ready; Pending, no room" in stuck.reason


# -- kubectl drain's options (staging/src/k8s.io/kubectl/pkg/cmd/drain/drain.go) ----------------


def test_disable_eviction_deletes_past_a_budget_and_journals_each_deletion() -> None:
    """--disable-eviction: DELETE, as kubectl's `Helper.DeletePod` does when DisableEviction is
    set; the budget is not asked, and each deletion is journaled before it is made."""
    kube, clock = _world()
    _app(kube, "frozen", 2)
    _pdb(kube, "frozen-pdb", "frozen", max_unavailable=0)
    _only_on_blue(kube)
    journal: list[str] = []
    report = _drain(
        kube, clock, timeout_seconds=600.0, disable_eviction=True, journal=journal.append
    ).run()
    assert len(report.evicted) == 2
    assert not [a for a in kube.actions if a.resource == "pods/eviction"]
    assert len(journal) == 2
    assert all("without the Eviction API" in line for line in journal)


def test_pod_selector_drains_only_the_chosen_pods() -> None:
    kube, clock = _world()
    _app(kube, "web", 2)
    _app(kube, "db", 1)
    _only_on_blue(kube)
    report = _drain(kube, clock, timeout_seconds=600.0, pod_selector="app=web").run()
    assert all(key.startswith("default/web-") for key in report.evicted)
    assert len(report.evicted) == 2
    left = [p.name for p in kube.list_pods(node_name="blue-1") if not p.is_terminating]
    assert len(left) == 1
    assert left[0].startswith("db-")


def test_skip_wait_for_delete_timeout_stops_waiting_for_a_pod_a_dead_kubelet_holds() -> None:
    """A pod stuck Terminating (its kubelet never confirms) holds a plain drain to its timeout;
    with --skip-wait-for-delete-timeout the drain moves on once the deletion is that old
    (filters.go skipDeletedFilter)."""
    kube, clock = _world()
    _app(kube, "web", 1, grace=3600)  # stands in for a kubelet that never answers
    _only_on_blue(kube)
    (pod,) = kube.list_pods(node_name="blue-1")
    kube.evict_pod("default", pod.name)
    with pytest.raises(DrainTimeoutError) as stuck:
        _drain(kube, clock, timeout_seconds=120.0).run()
    assert stuck.value.report.stuck[0].cause == Cause.TERMINATING
    options = DrainOptions(skip_wait_for_delete_timeout_seconds=60)
    report = _drain(kube, clock, timeout_seconds=120.0, options=options).run()
    assert report.evicted == []
