"""The Eviction API and PDB status of the FakeCluster, against the rules of eviction.go and the
disruption controller."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import World
from upgrader.core.errors import (
    EvictionBlockedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
)
from upgrader.core.kube import (
    MATCH_NOTHING,
    MIRROR_POD_ANNOTATION,
    IntOrPercent,
    LabelSelector,
    OwnerRef,
    Pod,
    PodDisruptionBudget,
    WorkloadKind,
)


def test_eviction_is_refused_at_the_limit_and_allowed_once_the_replacement_is_ready(
    world: World,
) -> None:
    world.node("n1")
    world.deployment("web", 3, startup=20.0)
    world.pdb("web-pdb", "web", min_available=2)
    world.settle()
    first, second, _ = world.pods("web")

    world.cluster.evict_pod("default", first.name)
    with pytest.raises(EvictionBlockedError) as refused:
        world.cluster.evict_pod("default", second.name)
    assert refused.value.pdbs == ("web-pdb",)
    assert "needs 2 healthy pods and has 2 currently" in str(refused.value)
    assert not world.cluster.get_pod("default", second.name).is_terminating

    world.sleep(19.9)
    with pytest.raises(EvictionBlockedError):
        world.cluster.evict_pod("default", second.name)
    world.sleep(0.2)
    world.cluster.evict_pod("default", second.name)

    stats = world.cluster.stats
    assert (stats.evictions, stats.evictions_refused) == (2, 2)
    assert stats.evictions_refused_by_pdb == {"default/web-pdb": 2}
    assert stats.pdb_violations == ()


@pytest.mark.parametrize(
    ("replicas", "min_available", "max_unavailable", "desired", "allowed"),
    [
        (4, 3, None, 3, 1),
        (4, 4, None, 4, 0),
        (5, "50%", None, 3, 2),  # 2.5 rounds up
        (5, "100%", None, 5, 0),
        (4, None, 1, 3, 1),
        (4, None, 0, 4, 0),
        (5, None, "25%", 3, 2),  # 1.25 unavailable rounds up to 2
        (5, None, "10%", 4, 1),  # 0.5 rounds up to 1
        (3, None, "100%", 0, 3),
    ],
)
def test_pdb_status_follows_the_disruption_controller(
    world: World,
    replicas: int,
    min_available: IntOrPercent | None,
    max_unavailable: IntOrPercent | None,
    desired: int,
    allowed: int,
) -> None:
    world.node("n1")
    world.deployment("web", replicas)
    world.pdb("web-pdb", "web", min_available=min_available, max_unavailable=max_unavailable)
    world.settle()

    status = world.budget("web-pdb")
    assert (status.expected_pods, status.current_healthy) == (replicas, replicas)
    assert (status.desired_healthy, status.disruptions_allowed) == (desired, allowed)


def test_expected_pods_come_from_the_controller_not_from_the_pods_present(
    world: World,
) -> None:
    world.node("n1", cpu=1000)
    world.deployment("web", 4, cpu=300)  # room for three only
    world.pdb("by-count", "web", max_unavailable=1)
    world.settle()

    status = world.budget("by-count")
    assert (status.expected_pods, status.current_healthy, status.desired_healthy) == (4, 3, 3)
    assert status.disruptions_allowed == 0


def test_int_min_available_counts_the_pods_present(world: World) -> None:
    world.node("n1", cpu=1000)
    world.deployment("web", 4, cpu=300)
    world.pdb("web-pdb", "web", min_available=2)
    world.settle()

    status = world.budget("web-pdb")
    assert (status.expected_pods, status.current_healthy, status.disruptions_allowed) == (4, 3, 1)


def test_a_pdb_over_daemonset_pods_fails_safe_unless_min_available_is_an_integer(
    world: World,
) -> None:
    world.node("n1")
    world.node("n2")
    world.workload(WorkloadKind.DAEMON_SET, "cni", None)
    world.pdb("by-percent", "cni", max_unavailable="50%")
    world.workload(WorkloadKind.DAEMON_SET, "agent", None, namespace="other")
    world.pdb("by-int", "agent", min_available=1, namespace="other")
    world.settle()

    assert world.budget("by-percent").disruptions_allowed == 0  # a DaemonSet has no scale
    with pytest.raises(EvictionBlockedError):
        world.cluster.evict_pod("default", world.pods("cni")[0].name)
    by_int = world.budget("by-int", "other")
    assert (by_int.expected_pods, by_int.disruptions_allowed) == (2, 1)
    world.cluster.evict_pod("other", world.pods("agent", "other")[0].name)


def test_a_pod_under_two_pdbs_cannot_be_evicted(world: World) -> None:
    world.node("n1")
    world.deployment("web", 3)
    world.pdb("a-pdb", "web", max_unavailable=1)
    world.pdb("b-pdb", "web", min_available=1)
    world.settle()

    with pytest.raises(MultiplePdbsError) as refused:
        world.cluster.evict_pod("default", world.pods("web")[0].name)
    assert refused.value.pdbs == ("a-pdb", "b-pdb")
    assert not any(p.is_terminating for p in world.pods("web"))


@pytest.mark.parametrize(("policy", "evicted"), [("AlwaysAllow", True), ("IfHealthyBudget", False)])
def test_a_not_ready_pod_of_a_disrupted_application(
    world: World, policy: str, evicted: bool
) -> None:
    world.node("n1")
    world.deployment("web", 3)
    world.pdb("web-pdb", "web", min_available=3, policy=policy)
    world.settle()
    sick = world.pods("web")[0]
    world.cluster.set_pod_ready("default", sick.name, False)
    assert world.budget("web-pdb").current_healthy == 2  # below the 3 it needs

    if evicted:
        world.cluster.evict_pod("default", sick.name)
    else:
        with pytest.raises(EvictionBlockedError):
            world.cluster.evict_pod("default", sick.name)
    assert world.cluster.get_pod("default", sick.name).is_terminating is evicted


def test_if_healthy_budget_lets_a_not_ready_pod_go_while_the_application_is_healthy(
    world: World,
) -> None:
    world.node("n1")
    world.deployment("web", 4)
    world.pdb("web-pdb", "web", min_available=3)
    world.settle()
    sick, healthy, *_ = world.pods("web")
    world.cluster.set_pod_ready("default", sick.name, False)
    assert world.budget("web-pdb").disruptions_allowed == 0  # 3 healthy, 3 needed

    world.cluster.evict_pod("default", sick.name)  # healthy >= desired: no budget spent
    with pytest.raises(EvictionBlockedError):
        world.cluster.evict_pod("default", healthy.name)


def test_pending_terminating_and_finished_pods_skip_the_budget(world: World) -> None:
    world.node("n1", cpu=1000)
    world.deployment("web", 3, cpu=400)  # the third cannot be scheduled
    world.workload(WorkloadKind.JOB, "once", 1, run=1.0)
    world.pdb("web-pdb", "web", min_available="100%")
    world.pdb("job-pdb", "once", min_available=1)
    world.settle()
    (pending,) = [p for p in world.pods("web") if p.node_name is None]
    running = [p for p in world.pods("web") if p.node_name is not None]

    world.cluster.evict_pod("default", pending.name)
    world.cluster.delete_pod("default", running[0].name)
    world.cluster.evict_pod("default", running[0].name)  # already terminating
    world.cluster.evict_pod("default", world.pods("once")[0].name)  # Succeeded
    with pytest.raises(EvictionBlockedError):
        world.cluster.evict_pod("default", running[1].name)


def test_a_successful_eviction_spends_the_budget_at_once(world: World) -> None:
    world.node("n1")
    world.deployment("web", 4)
    world.pdb("web-pdb", "web", max_unavailable=1)
    world.settle()
    first, second, *_ = world.pods("web")

    world.cluster.evict_pod("default", first.name)
    assert world.budget("web-pdb").disruptions_allowed == 0
    with pytest.raises(EvictionBlockedError):
        world.cluster.evict_pod("default", second.name)


def test_eviction_honours_the_requested_grace_period(world: World) -> None:
    world.node("n1")
    world.deployment("web", 1, grace=300)
    world.settle()
    (pod,) = world.pods("web")

    world.cluster.evict_pod("default", pod.name, grace_period_seconds=10)
    world.sleep(9)
    assert world.cluster.get_pod("default", pod.name).is_terminating
    world.sleep(1)
    with pytest.raises(NotFoundError):
        world.cluster.get_pod("default", pod.name)


def test_eviction_errors(world: World) -> None:
    world.node("n1")
    world.deployment("web", 1, namespace="doomed")
    world.settle()

    with pytest.raises(NotFoundError):
        world.cluster.evict_pod("default", "ghost")
    world.cluster.mark_namespace_terminating("doomed")
    with pytest.raises(NamespaceTerminatingError):
        world.cluster.evict_pod("doomed", world.pods("web", "doomed")[0].name)


def test_an_empty_selector_guards_every_pod_of_its_namespace(world: World) -> None:
    """policy/v1: `{}` selects every pod of the namespace, for the controller and for the
    Eviction API alike (kubernetes pkg/registry/core/pod/storage/eviction.go,
    `getPodDisruptionBudgets`: no `selector.Empty()` skip since policy/v1)."""
    world.node("n1")
    world.deployment("web", 2)
    world.cluster.add_pdb(PodDisruptionBudget("default", "all", LabelSelector(), min_available=2))
    world.settle()

    assert world.budget("all").disruptions_allowed == 0  # the controller counts every pod
    with pytest.raises(EvictionBlockedError) as refused:
        world.cluster.evict_pod("default", world.pods("web")[0].name)
    assert refused.value.pdbs == ("all",)
    assert world.cluster.stats.pdb_violations == ()


def test_an_empty_selector_beside_another_budget_makes_two(world: World) -> None:
    """With `{}` next to the app's own PDB, every pod has two budgets: the API answers 500
    (eviction.go `Create`: "more than one PodDisruptionBudget")."""
    world.node("n1")
    world.deployment("web", 3)
    world.pdb("web-pdb", "web", max_unavailable=1)
    world.cluster.add_pdb(PodDisruptionBudget("default", "all", LabelSelector(), max_unavailable=1))
    world.settle()
    with pytest.raises(MultiplePdbsError) as refused:
        world.cluster.evict_pod("default", world.pods("web")[0].name)
    assert refused.value.pdbs == ("all", "web-pdb")


def test_a_null_selector_guards_nothing(world: World) -> None:
    """policy/v1: a null selector selects no pod (LabelSelectorAsSelector(nil) is Nothing)."""
    world.node("n1")
    world.deployment("web", 2)
    world.cluster.add_pdb(PodDisruptionBudget("default", "none", MATCH_NOTHING, min_available=2))
    world.settle()
    assert world.budget("none").expected_pods == 0
    assert world.budget("none").disruptions_allowed == 0
    world.cluster.evict_pod("default", world.pods("web")[0].name)  # no budget asked


def test_disrupted_pods_forget_a_pod_once_it_is_being_deleted(world: World) -> None:
    """checkAndDecrement (eviction.go) records the pod in status.disruptedPods; the
    controller's buildDisruptedPodMap (disruption.go) skips pods already being deleted, so the
    status a client reads after the eviction no longer lists it, and the budget stays spent
    because the terminating pod is not healthy (countHealthyPods)."""
    world.node("n1")
    world.deployment("web", 3, startup=20.0)
    world.pdb("web-pdb", "web", max_unavailable=1)
    world.settle()
    victim = world.pods("web")[0]
    world.cluster.evict_pod("default", victim.name, grace_period_seconds=10)
    status = world.budget("web-pdb")
    assert status.disrupted_pods == ()
    assert (status.current_healthy, status.disruptions_allowed) == (2, 0)


def test_deleting_a_pod_past_its_budget_is_recorded_as_a_violation(world: World) -> None:
    world.node("n1")
    world.deployment("web", 2)
    world.pdb("web-pdb", "web", min_available=2)
    world.settle()
    victim = world.pods("web")[0]

    world.cluster.delete_pod("default", victim.name)

    (violation,) = world.cluster.stats.pdb_violations
    assert (violation.pdb, violation.pod, violation.cause) == (
        "default/web-pdb",
        victim.key,
        "delete",
    )
    assert (violation.current_healthy, violation.desired_healthy) == (1, 2)
    assert violation.at == world.clock.now()


def test_losing_a_node_past_a_budget_is_recorded_as_a_violation(world: World) -> None:
    world.node("n1")
    world.deployment("web", 2)
    world.pdb("web-pdb", "web", max_unavailable=1)
    world.settle()

    world.cluster.remove_node("n1")

    violations = world.cluster.stats.pdb_violations
    assert [(v.current_healthy, v.desired_healthy) for v in violations] == [(0, 1)]
    assert violations[0].cause == "node n1 removed"
    assert len(world.cluster.stats.lost_pods) == 2


def test_a_mirror_pod_is_not_a_lost_pod_when_its_node_goes(world: World) -> None:
    """Issue 11: static pods were counted as lost with their node. The kubelet owns a mirror
    pod (kubernetes.io/config.mirror); it lives and dies with its node, like a DaemonSet pod."""
    world.node("n1")
    world.cluster.add_pod(
        Pod(
            "kube-system",
            "kube-proxy-n1",
            "",
            annotations={MIRROR_POD_ANNOTATION: "static"},
            owner=OwnerRef("Node", "n1"),
            node_name="n1",
        )
    )
    world.bare_pod("stranded")
    world.settle()
    world.cluster.remove_node("n1")
    assert world.cluster.stats.lost_pods == ("default/stranded",)
