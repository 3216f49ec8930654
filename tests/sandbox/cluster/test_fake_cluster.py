"""FakeCluster behaviour: controllers, scheduling, readiness, termination, nodes and the API."""

from __future__ import annotations

import contextlib
import threading

import pytest

from tests.sandbox.conftest import GI, World
from upgrader.core.errors import (
    ConflictError,
    EvictionBlockedError,
    NotFoundError,
    ServiceUnavailableError,
    UserError,
)
from upgrader.core.kube import (
    NODEGROUP_LABEL,
    ConfigMap,
    Lease,
    NodeAffinity,
    OwnerRef,
    PodPhase,
    Resources,
    SelectorRequirement,
    Service,
    Taint,
    TaintEffect,
    Toleration,
    WorkloadKind,
)
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.cluster.node_groups import NodeTemplate

NO_SCHEDULE = Taint("upgrade", TaintEffect.NO_SCHEDULE, "blue")


# ---------------------------------------------------------------------------- controllers


def test_deployment_pods_belong_to_a_replicaset_that_belongs_to_the_deployment(
    world: World,
) -> None:
    world.node("n1")
    world.deployment("web", 3)
    world.settle()

    workloads = world.cluster.list_workloads(namespace="default")
    assert (workloads[0].kind, workloads[0].name) == (WorkloadKind.DEPLOYMENT, "web")
    (rs,) = world.cluster.list_workloads(WorkloadKind.REPLICA_SET)
    assert rs.name.startswith("web-")
    assert rs.owner == OwnerRef("Deployment", "web")
    assert (rs.replicas, rs.ready_replicas) == (3, 3)
    pods = world.pods("web")
    assert len(pods) == 3
    assert {p.owner for p in pods} == {OwnerRef("ReplicaSet", rs.name)}
    assert all(p.name.startswith(rs.name + "-") for p in pods)
    assert {p.labels["pod-template-hash"] for p in pods} == {rs.name.removeprefix("web-")}
    deployment = world.cluster.get_workload(WorkloadKind.DEPLOYMENT, "default", "web")
    assert (deployment.replicas, deployment.ready_replicas) == (3, 3)


def test_a_scheduled_pod_is_ready_only_after_its_startup_delay(world: World) -> None:
    world.node("n1")
    world.deployment("web", 2, startup=20.0)

    world.clock.run_due()  # the scheduler binds at once; the kubelet has yet to start them
    assert all(p.node_name == "n1" and p.phase is PodPhase.PENDING for p in world.pods("web"))
    world.sleep(19.9)
    assert world.ready("web") == []
    world.sleep(0.2)
    assert len(world.ready("web")) == 2


def test_evicted_pod_is_replaced_on_an_untainted_node_after_its_startup_delay(
    world: World,
) -> None:
    world.node("blue")
    world.deployment("web", 2, startup=30.0)
    world.settle()
    world.node("green")
    world.cluster.set_unschedulable("blue", True)
    world.cluster.add_taint("blue", NO_SCHEDULE)
    victim = world.pods("web")[0]

    world.cluster.evict_pod("default", victim.name)
    evicted_at = world.elapsed
    world.clock.run_due()

    (replacement,) = [p for p in world.live("web") if p.node_name == "green"]
    assert replacement.name != victim.name
    assert replacement.uid != victim.uid
    assert replacement.owner == victim.owner
    world.sleep(29.9)
    assert not world.cluster.get_pod("default", replacement.name).ready
    world.sleep(0.2)
    assert world.cluster.get_pod("default", replacement.name).ready
    assert world.elapsed - evicted_at == pytest.approx(30.1)


def test_bare_pod_is_not_recreated_after_eviction(world: World) -> None:
    world.node("n1")
    world.bare_pod("lonely")
    world.settle()

    world.cluster.evict_pod("default", "lonely")
    world.settle()

    assert world.pods("lonely") == []


def test_statefulset_pod_comes_back_under_the_same_name_once_the_old_one_is_gone(
    world: World,
) -> None:
    world.node("n1")
    world.workload(WorkloadKind.STATEFUL_SET, "db", 3, grace=60, startup=10.0)
    world.settle()
    assert [p.name for p in world.pods("db")] == ["db-0", "db-1", "db-2"]
    old = world.cluster.get_pod("default", "db-1")

    world.cluster.evict_pod("default", "db-1")
    world.sleep(59)
    during = world.cluster.get_pod("default", "db-1")
    assert during.uid == old.uid
    assert during.is_terminating
    world.sleep(1)
    world.clock.run_due()
    new = world.cluster.get_pod("default", "db-1")
    assert new.uid != old.uid
    assert not new.is_terminating
    assert not new.ready
    world.sleep(10)
    assert world.cluster.get_pod("default", "db-1").ready


def test_daemonset_runs_on_cordoned_nodes_and_follows_nodes_in_and_out(world: World) -> None:
    world.node("n1")
    world.node("n2")
    world.workload(WorkloadKind.DAEMON_SET, "cni", None)
    world.settle()
    assert sorted(p.node_name or "" for p in world.pods("cni")) == ["n1", "n2"]

    world.cluster.set_unschedulable("n1", True)
    (on_n1,) = world.cluster.list_pods(node_name="n1")
    world.cluster.evict_pod("default", on_n1.name)
    world.node("n3")
    world.settle()

    by_node = {p.node_name: p for p in world.pods("cni")}
    assert sorted(by_node) == ["n1", "n2", "n3"]
    assert by_node["n1"].name != on_n1.name
    assert by_node["n1"].ready
    status = world.cluster.get_workload(WorkloadKind.DAEMON_SET, "default", "cni")
    assert (status.replicas, status.ready_replicas) == (None, 3)

    world.cluster.remove_node("n3")
    assert sorted(p.node_name or "" for p in world.pods("cni")) == ["n1", "n2"]
    assert world.cluster.stats.lost_pods == ()  # DaemonSet pods go with their node


def test_daemonset_skips_nodes_it_does_not_select_or_tolerate(world: World) -> None:
    world.node("gpu", labels={"kind": "gpu"})
    world.node("tainted", labels={"kind": "gpu"}, taints=(NO_SCHEDULE,))
    world.node("plain")
    world.workload(WorkloadKind.DAEMON_SET, "driver", None, node_selector={"kind": "gpu"})
    world.settle()

    assert [p.node_name for p in world.pods("driver")] == ["gpu"]


def test_job_runs_its_completions_and_leaves_them_succeeded(world: World) -> None:
    world.node("n1")
    world.workload(WorkloadKind.JOB, "migrate", 3, startup=5.0, run=10.0)
    world.sleep(14.9)
    assert {p.phase for p in world.pods("migrate")} == {PodPhase.RUNNING}
    world.sleep(0.2)
    world.settle()

    pods = world.pods("migrate")
    assert len(pods) == 3
    assert {p.phase for p in pods} == {PodPhase.SUCCEEDED}
    assert not any(p.ready for p in pods)
    assert world.cluster.list_nodes()[0].name == "n1"
    # Finished pods give their requests back.
    world.deployment("big", 1, cpu=4000)
    world.settle()
    assert len(world.ready("big")) == 1


def test_scale_up_and_down(world: World) -> None:
    world.node("n1")
    world.deployment("web", 2)
    world.workload(WorkloadKind.STATEFUL_SET, "db", 3)
    world.settle()

    scaled = world.cluster.scale_workload(WorkloadKind.DEPLOYMENT, "default", "web", 5)
    world.cluster.scale_workload(WorkloadKind.STATEFUL_SET, "default", "db", 1)
    world.settle()

    assert scaled.replicas == 5
    assert scaled.generation == 2
    assert len(world.ready("web")) == 5
    assert [p.name for p in world.pods("db")] == ["db-0"]
    with pytest.raises(UserError):
        world.cluster.scale_workload(WorkloadKind.DEPLOYMENT, "default", "web", -1)


def test_daemonsets_and_jobs_cannot_be_scaled(world: World) -> None:
    world.workload(WorkloadKind.DAEMON_SET, "cni", None)
    with pytest.raises(UserError):
        world.cluster.scale_workload(WorkloadKind.DAEMON_SET, "default", "cni", 3)


def test_rollout_restart_replaces_every_pod_within_surge_and_unavailability(
    world: World,
) -> None:
    world.node("n1")
    world.deployment("web", 4, startup=10.0)
    world.settle()
    before = {p.name for p in world.pods("web")}

    world.cluster.restart_workload(WorkloadKind.DEPLOYMENT, "default", "web")
    lowest_ready, highest_live = 4, 4
    for _ in range(120):
        world.sleep(1)
        lowest_ready = min(lowest_ready, len(world.ready("web")))
        highest_live = max(highest_live, len(world.live("web")))

    assert len(world.ready("web")) == 4
    assert not before & {p.name for p in world.live("web")}
    assert lowest_ready >= 3  # maxUnavailable 25% of 4
    assert highest_live <= 5  # maxSurge 25% of 4
    deployment = world.cluster.get_workload(WorkloadKind.DEPLOYMENT, "default", "web")
    assert "kubectl.kubernetes.io/restartedAt" in deployment.template.annotations
    replica_sets = world.cluster.list_workloads(WorkloadKind.REPLICA_SET)
    assert sorted(rs.replicas or 0 for rs in replica_sets) == [0, 4]


def test_rollout_restart_of_a_statefulset_goes_one_pod_at_a_time(world: World) -> None:
    world.node("n1")
    world.workload(WorkloadKind.STATEFUL_SET, "db", 3, startup=10.0, grace=5)
    world.settle()
    uids = {p.name: p.uid for p in world.pods("db")}

    world.cluster.restart_workload(WorkloadKind.STATEFUL_SET, "default", "db")
    world.sleep(1)
    assert [p.name for p in world.pods("db") if p.is_terminating] == ["db-2"]
    world.settle()

    assert all(p.ready and p.uid != uids[p.name] for p in world.pods("db"))


def test_jobs_and_replicasets_cannot_be_restarted(world: World) -> None:
    world.workload(WorkloadKind.JOB, "once", 1)
    with pytest.raises(UserError):
        world.cluster.restart_workload(WorkloadKind.JOB, "default", "once")


# ---------------------------------------------------------------------------- scheduling


@pytest.mark.parametrize(
    ("why", "node_options", "pod_options"),
    [
        ("cpu", {"cpu": 500}, {"cpu": 600}),
        ("memory", {"memory": 1 * GI}, {"memory": 2 * GI}),
        ("pod count", {"pods": 0}, {}),
        ("taint", {"taints": (NO_SCHEDULE,)}, {}),
        ("cordon", {"unschedulable": True}, {}),
        ("node selector", {"labels": {"disk": "hdd"}}, {"node_selector": {"disk": "ssd"}}),
        (
            "node affinity",
            {"labels": {"zone": "a"}},
            {"affinity": NodeAffinity(((SelectorRequirement("zone", "In", ("b", "c")),),))},
        ),
    ],
)
def test_pod_stays_pending_when_no_node_fits(
    world: World, why: str, node_options: dict[str, object], pod_options: dict[str, object]
) -> None:
    world.node("n1", **node_options)  # type: ignore[arg-type]
    world.deployment("web", 1, **pod_options)
    world.settle()

    (pod,) = world.pods("web")
    assert (pod.phase, pod.node_name, pod.ready) == (PodPhase.PENDING, None, False), why


def test_pending_pod_is_scheduled_when_a_fitting_node_joins(world: World) -> None:
    world.node("small", cpu=500)
    world.deployment("web", 1, cpu=1000, node_selector={"disk": "ssd"})
    world.settle()
    world.node("big-hdd", cpu=4000, labels={"disk": "hdd"})
    world.settle()
    assert world.pods("web")[0].node_name is None

    world.node("big-ssd", cpu=4000, labels={"disk": "ssd"})
    world.settle()
    assert world.pods("web")[0].node_name == "big-ssd"


def test_pending_pod_is_scheduled_when_capacity_frees(world: World) -> None:
    world.node("n1", cpu=1000)
    world.bare_pod("hog", cpu=800)
    world.settle()
    world.deployment("web", 1, cpu=500)
    world.settle()
    assert world.pods("web")[0].node_name is None

    world.cluster.delete_pod("default", "hog", grace_period_seconds=20)
    world.sleep(19)
    assert world.pods("web")[0].node_name is None  # a terminating pod still holds its requests
    world.sleep(1)
    world.settle()
    assert world.pods("web")[0].node_name == "n1"


def test_tolerations_let_pods_onto_tainted_nodes(world: World) -> None:
    world.node("tainted", taints=(NO_SCHEDULE,))
    toleration = Toleration("upgrade", "Equal", "blue", TaintEffect.NO_SCHEDULE)
    world.deployment("web", 2, tolerations=(toleration,))
    world.settle()
    assert [p.node_name for p in world.pods("web")] == ["tainted", "tainted"]


def test_scheduler_spreads_pods_over_nodes(world: World) -> None:
    for name in ("n1", "n2", "n3", "n4"):
        world.node(name)
    world.deployment("web", 8, cpu=0, memory=0)
    world.settle()

    counts: dict[str, int] = {}
    for pod in world.pods("web"):
        counts[pod.node_name or ""] = counts.get(pod.node_name or "", 0) + 1
    assert counts == {"n1": 2, "n2": 2, "n3": 2, "n4": 2}


def test_pod_count_limit_is_honoured(world: World) -> None:
    world.node("n1", pods=3)
    world.deployment("web", 5, cpu=0, memory=0)
    world.settle()
    assert sum(1 for p in world.pods("web") if p.node_name) == 3


# ---------------------------------------------------------------------------- termination


def test_deleted_pod_is_listed_as_terminating_for_its_grace_period(world: World) -> None:
    world.node("n1")
    world.bare_pod("slow")
    world.bare_pod("quick")
    world.settle()

    world.cluster.delete_pod("default", "slow", grace_period_seconds=45)
    deleted_at = world.clock.now()
    world.sleep(44.9)
    pod = world.cluster.get_pod("default", "slow")
    assert pod.deletion_timestamp == deleted_at
    assert not pod.ready
    world.sleep(0.2)
    with pytest.raises(NotFoundError):
        world.cluster.get_pod("default", "slow")

    world.cluster.delete_pod("default", "quick", grace_period_seconds=0)
    assert world.pods("quick") == []


def test_default_grace_period_comes_from_the_pod_spec_and_can_be_shortened(
    world: World,
) -> None:
    world.node("n1")
    world.deployment("web", 1, grace=120)
    world.settle()
    (pod,) = world.pods("web")

    world.cluster.delete_pod("default", pod.name)
    world.sleep(60)
    assert world.cluster.get_pod("default", pod.name).is_terminating
    world.cluster.delete_pod("default", pod.name, grace_period_seconds=5)
    world.sleep(5)
    with pytest.raises(NotFoundError):
        world.cluster.get_pod("default", pod.name)


def test_deleting_a_missing_pod_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        world.cluster.delete_pod("default", "ghost")


# ---------------------------------------------------------------------------- nodes


def test_node_group_nodes_join_after_the_delay_with_eks_labels(world: World) -> None:
    template = NodeTemplate(kubelet_version="v1.30.4-eks-a737599", instance_type="m6i.large")
    world.cluster.scale_node_group("ng-green", 3, template, join_delay_seconds=60)
    world.sleep(59)
    assert world.cluster.list_nodes() == []
    world.sleep(1)

    nodes = world.cluster.list_nodes(label_selector=f"{NODEGROUP_LABEL}=ng-green")
    assert len(nodes) == 3
    assert {n.minor_version for n in nodes} == {"1.30"}
    assert {n.labels["node.kubernetes.io/instance-type"] for n in nodes} == {"m6i.large"}
    assert len({n.labels["topology.kubernetes.io/zone"] for n in nodes}) == 3
    assert all(n.ready and n.provider_id.startswith("aws:///") for n in nodes)
    assert world.cluster.node_group_nodes("ng-green") == sorted(n.name for n in nodes)


def test_node_group_scale_down_removes_the_oldest_nodes(world: World) -> None:
    world.cluster.scale_node_group("ng", 2, NodeTemplate(), join_delay_seconds=0)
    world.settle()
    first = world.cluster.node_group_nodes("ng")
    world.cluster.scale_node_group("ng", 3, join_delay_seconds=10)
    world.cluster.scale_node_group("ng", 4, join_delay_seconds=10)
    world.settle()
    assert len(world.cluster.node_group_nodes("ng")) == 4

    world.cluster.scale_node_group("ng", 2)
    remaining = world.cluster.node_group_nodes("ng")
    assert len(remaining) == 2
    assert not set(first) & set(remaining)


def test_deleting_a_node_group_loses_the_pods_still_on_it(world: World) -> None:
    world.node("blue-1", group="blue")
    world.deployment("web", 2, cpu=1000)
    world.workload(WorkloadKind.DAEMON_SET, "cni", None)
    world.bare_pod("lonely")
    world.settle()
    world.node("green-1", group="green")
    world.settle()
    doomed = sorted(p.key for p in world.cluster.list_pods(node_name="blue-1"))

    world.cluster.delete_node_group("blue", delay_seconds=30)
    world.sleep(29)
    assert world.cluster.stats.lost_pods == ()
    world.sleep(1)
    world.settle()

    lost = world.cluster.stats.lost_pods
    assert sorted(lost) == [k for k in doomed if "/cni-" not in k]
    assert "default/lonely" in lost
    assert world.pods("lonely") == []  # a bare pod is gone for good
    assert {p.node_name for p in world.ready("web")} == {"green-1"}
    assert len(world.ready("web")) == 2
    assert [n.name for n in world.cluster.list_nodes()] == ["green-1"]


def test_a_node_group_deleted_before_its_nodes_join_never_gets_them(world: World) -> None:
    world.cluster.scale_node_group("ng", 3, NodeTemplate(), join_delay_seconds=60)
    world.cluster.delete_node_group("ng")
    world.cluster.scale_node_group("ng", 1, NodeTemplate(), join_delay_seconds=120)
    world.settle()
    assert len(world.cluster.list_nodes()) == 1


def test_terminating_and_finished_pods_are_not_counted_lost(world: World) -> None:
    world.node("n1")
    world.workload(WorkloadKind.JOB, "once", 1, run=1.0)
    world.deployment("web", 1, grace=300)
    world.settle()
    (web,) = world.pods("web")
    world.cluster.delete_pod("default", web.name)

    world.cluster.remove_node("n1")
    assert world.cluster.stats.lost_pods == ()


def test_node_patches(world: World) -> None:
    world.node("n1", labels={"old": "x"})
    taint = Taint("dedicated", TaintEffect.NO_SCHEDULE, "a")

    world.cluster.add_taint("n1", taint)
    node = world.cluster.add_taint("n1", Taint("dedicated", TaintEffect.NO_SCHEDULE, "b"))
    assert node.taints == (Taint("dedicated", TaintEffect.NO_SCHEDULE, "b"),)
    node = world.cluster.remove_taint("n1", "dedicated", TaintEffect.NO_SCHEDULE)
    assert node.taints == ()
    node = world.cluster.label_node("n1", {"old": None, "new": "y"})
    assert node.labels["new"] == "y"
    assert "old" not in node.labels
    assert world.cluster.set_unschedulable("n1", True).unschedulable
    assert world.cluster.get_node("n1").unschedulable
    with pytest.raises(NotFoundError):
        world.cluster.get_node("ghost")


def test_no_execute_taint_deletes_intolerant_pods_bypassing_pdbs(world: World) -> None:
    world.node("n1")
    world.node("n2")
    world.deployment("web", 2, startup=1.0)
    tolerant = Toleration("maintenance", "Exists", effect=TaintEffect.NO_EXECUTE)
    world.deployment("agent", 1, tolerations=(tolerant,))
    world.pdb("web-pdb", "web", min_available=2)
    world.settle()
    web = [p.name for p in world.pods("web")]

    for name in ("n1", "n2"):
        world.cluster.add_taint(name, Taint("maintenance", TaintEffect.NO_EXECUTE))

    assert all(world.cluster.get_pod("default", name).is_terminating for name in web)
    assert not world.pods("agent")[0].is_terminating
    violations = world.cluster.stats.pdb_violations
    assert [(v.pdb, v.current_healthy, v.desired_healthy) for v in violations] == [
        ("default/web-pdb", 1, 2),
        ("default/web-pdb", 0, 2),
    ]
    assert violations[0].cause.startswith("NoExecute taint on ")
    world.settle()
    assert all(p.node_name is None for p in world.pods("web"))  # nowhere to go


def test_no_execute_toleration_seconds_delay_the_deletion(world: World) -> None:
    world.node("n1")
    brief = Toleration(
        "maintenance", "Exists", effect=TaintEffect.NO_EXECUTE, toleration_seconds=60
    )
    world.deployment("patient", 1, tolerations=(brief,))
    world.settle()
    (patient,) = world.pods("patient")

    world.cluster.add_taint("n1", Taint("maintenance", TaintEffect.NO_EXECUTE))
    world.sleep(59)
    assert not world.cluster.get_pod("default", patient.name).is_terminating
    world.sleep(1)
    assert world.cluster.get_pod("default", patient.name).is_terminating


# ---------------------------------------------------------------------------- API odds and ends


def test_list_pods_filters(world: World) -> None:
    world.node("n1")
    world.node("n2", cpu=0)
    world.deployment("web", 2)
    world.deployment("api", 1, namespace="prod")
    world.settle()

    assert len(world.cluster.list_pods()) == 3
    assert [p.name for p in world.cluster.list_pods(namespace="prod")] == [
        world.pods("api", "prod")[0].name
    ]
    assert len(world.cluster.list_pods(node_name="n1")) == 3
    assert world.cluster.list_pods(node_name="n2") == []
    assert len(world.cluster.list_pods(label_selector="app in (web,api)")) == 3
    assert len(world.cluster.list_pods(namespace="default", label_selector="app!=web")) == 0


def test_lease_compare_and_swap(world: World) -> None:
    lease = Lease("kube-system", "eksup-lock", "me", 0.0, 0.0, 60)
    created = world.cluster.create_lease(lease)
    assert created.resource_version
    with pytest.raises(ConflictError):
        world.cluster.create_lease(lease)

    renewed = world.cluster.update_lease(
        Lease("kube-system", "eksup-lock", "me", 0.0, 30.0, 60, created.resource_version)
    )
    assert renewed.resource_version != created.resource_version
    with pytest.raises(ConflictError):  # still holding the first version: someone moved it
        world.cluster.update_lease(
            Lease("kube-system", "eksup-lock", "you", 0.0, 31.0, 60, created.resource_version)
        )
    assert world.cluster.get_lease("kube-system", "eksup-lock").holder == "me"

    world.cluster.delete_lease("kube-system", "eksup-lock")
    with pytest.raises(NotFoundError):
        world.cluster.get_lease("kube-system", "eksup-lock")


def test_config_maps_and_services(world: World) -> None:
    first = world.cluster.apply_config_map(ConfigMap("kube-system", "eksup", {"a": "1"}))
    second = world.cluster.apply_config_map(ConfigMap("kube-system", "eksup", {"a": "2"}))
    assert world.cluster.get_config_map("kube-system", "eksup").data == {"a": "2"}
    assert first.resource_version != second.resource_version
    with pytest.raises(NotFoundError):
        world.cluster.get_config_map("kube-system", "other")

    world.cluster.add_service(Service("default", "web", {"app": "web", "track": "blue"}))
    patched = world.cluster.patch_service_selector("default", "web", {"app": "web"})
    assert patched.selector == {"app": "web"}
    assert world.cluster.list_services("default") == [patched]
    with pytest.raises(NotFoundError):
        world.cluster.get_service("default", "ghost")


def test_server_version_follows_the_control_plane(world: World) -> None:
    assert world.cluster.server_version() == "v1.29.8-eks-a737599"
    world.cluster.set_server_version("v1.30.4-eks-a737599")
    assert world.cluster.server_version() == "v1.30.4-eks-a737599"


def test_actions_are_logged_and_reactors_inject_faults(world: World) -> None:
    world.node("n1")
    world.bare_pod("p")
    world.settle()

    def unavailable(action: Action) -> None:
        raise ServiceUnavailableError(f"injected: {action.verb} {action.resource}")

    world.cluster.add_reactor("create", "pods/eviction", unavailable)
    with pytest.raises(ServiceUnavailableError, match="injected: create pods/eviction"):
        world.cluster.evict_pod("default", "p")
    assert not world.cluster.get_pod("default", "p").is_terminating

    world.cluster.add_reactor("patch", "*", unavailable)
    with pytest.raises(ServiceUnavailableError):
        world.cluster.set_unschedulable("n1", True)
    assert not world.cluster.get_node("n1").unschedulable

    assert world.cluster.actions[:3] == (
        Action("create", "pods/eviction", "default", "p"),
        Action("get", "pods", "default", "p"),
        Action("patch", "nodes", "", "n1"),
    )
    world.cluster.remove_reactors()
    world.cluster.evict_pod("default", "p")
    assert world.cluster.get_pod("default", "p").is_terminating


def test_returned_objects_cannot_change_the_cluster(world: World) -> None:
    world.node("n1", labels={"a": "1"})
    node = world.cluster.get_node("n1")
    with pytest.raises(TypeError):
        node.labels["a"] = "2"  # type: ignore[index]
    assert world.cluster.get_node("n1").allocatable == Resources(4000, 16 * GI, 110)


def test_callers_on_other_threads_and_a_ticking_clock_do_not_deadlock(world: World) -> None:
    world.node("n1")
    world.node("n2")
    world.deployment("web", 20, startup=1.0, grace=2)
    world.pdb("web-pdb", "web", max_unavailable=5)
    world.settle()
    stop = threading.Event()

    def tick() -> None:
        for _ in range(200):
            world.sleep(0.5)

    def drain() -> None:
        while not stop.is_set():
            for pod in world.cluster.list_pods(node_name="n1")[:3]:
                with contextlib.suppress(EvictionBlockedError, NotFoundError):
                    world.cluster.evict_pod(pod.namespace, pod.name)

    clock = threading.Thread(target=tick)
    callers = [threading.Thread(target=drain) for _ in range(2)]
    for thread in (clock, *callers):
        thread.start()
    clock.join(timeout=30)
    stop.set()
    for thread in callers:
        thread.join(timeout=5)

    assert not any(t.is_alive() for t in (clock, *callers))
    assert world.cluster.stats.evictions > 0
    assert world.cluster.stats.pdb_violations == ()


def test_an_api_call_meeting_a_firing_clock_event_does_not_deadlock(world: World) -> None:
    """The clock fires events holding its lock and our callbacks then take the cluster's lock,
    so an API call must never wait for the clock while it holds the cluster's lock."""
    world.node("n1")
    world.bare_pod("victim")
    world.settle()
    inside_clock, inside_api = threading.Event(), threading.Event()

    def gate() -> None:  # runs inside clock.advance_to, before the cluster's own event
        inside_clock.set()
        inside_api.wait(5)

    world.clock.call_later(1, gate)
    world.bare_pod("late", startup=1.0)  # its readiness: a cluster event right after the gate
    world.clock.run_due()
    world.cluster.add_reactor("delete", "pods", lambda action: inside_api.set())

    def delete() -> None:
        inside_clock.wait(5)
        world.cluster.delete_pod("default", "victim")  # schedules its end of grace

    threads = [
        threading.Thread(target=world.sleep, args=(2,), daemon=True),
        threading.Thread(target=delete, daemon=True),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not any(t.is_alive() for t in threads)
    assert world.cluster.get_pod("default", "late").ready
    assert world.cluster.get_pod("default", "victim").is_terminating


def test_a_pod_pinned_by_hostname_lands_on_that_node(world: World) -> None:
    world.cluster.scale_node_group("ng", 5, NodeTemplate(), join_delay_seconds=0)
    world.settle()
    target = world.cluster.node_group_nodes("ng")[3]

    world.deployment("pinned", 2, node_selector={"kubernetes.io/hostname": target})
    world.settle()

    assert {p.node_name for p in world.ready("pinned")} == {target}
