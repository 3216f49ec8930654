"""Properties of the FakeCluster on random small worlds: the scheduler never overcommits or
breaks a constraint, evictions never break a PDB, and evicted pods come back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.conftest import GI, MI, World
from upgrader.core.errors import EvictionBlockedError
from upgrader.core.kube import (
    IntOrPercent,
    Node,
    NodeAffinity,
    PodPhase,
    PodSpec,
    SelectorRequirement,
    Taint,
    TaintEffect,
    Toleration,
    WorkloadKind,
    tolerates_all,
)

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    # `new_world` is a factory: every example builds its own world, nothing leaks between them.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

DEDICATED = Taint("dedicated", TaintEffect.NO_SCHEDULE, "db")
SPOT = Taint("spot", TaintEffect.NO_EXECUTE)
CORDON = Taint("node.kubernetes.io/unschedulable", TaintEffect.NO_SCHEDULE)


# ---------------------------------------------------------------------------- the scheduler


@dataclass(frozen=True)
class NodeShape:
    cpu: int
    memory: int
    pods: int
    labels: dict[str, str]
    taints: tuple[Taint, ...]
    unschedulable: bool
    joins_late: bool


@dataclass(frozen=True)
class PodShape:
    cpu: int
    memory: int
    node_selector: dict[str, str]
    affinity: NodeAffinity
    tolerations: tuple[Toleration, ...]
    replicas: int  # 0 = a bare pod


node_shapes = st.builds(
    NodeShape,
    cpu=st.sampled_from([0, 500, 1000, 2000]),
    memory=st.sampled_from([0, 1 * GI, 2 * GI, 4 * GI]),
    pods=st.sampled_from([0, 1, 2, 3, 5]),
    labels=st.fixed_dictionaries(
        {},
        optional={"disk": st.sampled_from(["ssd", "hdd"]), "zone": st.sampled_from(["a", "b"])},
    ),
    taints=st.lists(st.sampled_from([DEDICATED, SPOT]), unique=True).map(tuple),
    unschedulable=st.booleans(),
    joins_late=st.booleans(),
)
pod_shapes = st.builds(
    PodShape,
    cpu=st.sampled_from([0, 100, 400, 900]),
    memory=st.sampled_from([0, 256 * MI, 1 * GI, 3 * GI]),
    node_selector=st.sampled_from([{}, {"disk": "ssd"}, {"disk": "hdd"}]),
    affinity=st.sampled_from(
        [
            NodeAffinity(),
            NodeAffinity(((SelectorRequirement("zone", "In", ("a",)),),)),
            NodeAffinity(((SelectorRequirement("zone", "Exists"),),)),
        ]
    ),
    tolerations=st.lists(
        st.sampled_from(
            [
                Toleration("dedicated", "Equal", "db", TaintEffect.NO_SCHEDULE),
                Toleration("spot", "Exists"),
                Toleration(operator="Exists"),
            ]
        ),
        unique=True,
    ).map(tuple),
    replicas=st.integers(min_value=0, max_value=3),
)


def admits(node: Node, spec: PodSpec) -> bool:
    """The oracle: kube-scheduler's filters, written from the rules, not from scheduler.py."""
    taints = node.taints + ((CORDON,) if node.unschedulable else ())
    return (
        tolerates_all(spec.tolerations, taints)
        and all(node.labels.get(k) == v for k, v in spec.node_selector.items())
        and spec.node_affinity.matches(node.labels)
    )


@PROPERTY_SETTINGS
@given(
    nodes=st.lists(node_shapes, min_size=1, max_size=6),
    pods=st.lists(pod_shapes, min_size=1, max_size=8),
)
def test_scheduler_never_binds_a_pod_where_it_does_not_fit(
    new_world: Callable[[], World], nodes: list[NodeShape], pods: list[PodShape]
) -> None:
    world = new_world()

    def add(index: int, shape: NodeShape) -> None:
        world.node(
            f"n{index}",
            cpu=shape.cpu,
            memory=shape.memory,
            pods=shape.pods,
            labels=shape.labels,
            taints=shape.taints,
            unschedulable=shape.unschedulable,
        )

    for index, shape in enumerate(nodes):
        if not shape.joins_late:
            add(index, shape)
    for index, pod in enumerate(pods):
        options = {
            "cpu": pod.cpu,
            "memory": pod.memory,
            "node_selector": pod.node_selector,
            "affinity": pod.affinity,
            "tolerations": pod.tolerations,
        }
        world.workload(WorkloadKind.DEPLOYMENT, f"app{index}", max(pod.replicas, 1), **options)
    world.settle()
    for index, shape in enumerate(nodes):
        if shape.joins_late:  # pending pods must be retried when nodes join
            add(index, shape)
    world.settle()

    all_pods = world.cluster.list_pods()
    for node in world.cluster.list_nodes():
        bound = [p for p in all_pods if p.node_name == node.name and not p.is_finished]
        assert len(bound) <= node.allocatable.pods
        assert sum(p.spec.requests.cpu_millis for p in bound) <= node.allocatable.cpu_millis
        assert sum(p.spec.requests.memory_bytes for p in bound) <= node.allocatable.memory_bytes
        for pod in bound:
            assert admits(node, pod.spec), (pod.key, node.name)
    # And it is not too shy: a pod left Pending has no node with room for it.
    for pod in all_pods:
        if pod.node_name is not None:
            continue
        assert pod.phase is PodPhase.PENDING
        for node in world.cluster.list_nodes():
            bound = [p for p in all_pods if p.node_name == node.name]
            room_cpu = node.allocatable.cpu_millis - sum(p.spec.requests.cpu_millis for p in bound)
            room_mem = node.allocatable.memory_bytes - sum(
                p.spec.requests.memory_bytes for p in bound
            )
            fits = (
                len(bound) < node.allocatable.pods
                and pod.spec.requests.cpu_millis <= room_cpu
                and pod.spec.requests.memory_bytes <= room_mem
            )
            assert not (fits and admits(node, pod.spec)), (pod.key, node.name)


# ---------------------------------------------------------------------------- evictions


@dataclass(frozen=True)
class App:
    kind: WorkloadKind
    replicas: int
    startup: float
    min_available: IntOrPercent | None
    max_unavailable: IntOrPercent | None


@st.composite
def apps(draw: st.DrawFn) -> App:
    kind = draw(st.sampled_from([WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET]))
    replicas = draw(st.integers(min_value=1, max_value=6))
    startup = draw(st.sampled_from([1.0, 5.0, 30.0]))
    percent = st.sampled_from(["0%", "25%", "50%", "75%", "100%"])
    budget = draw(
        st.one_of(
            st.tuples(st.integers(min_value=0, max_value=replicas), st.none()),
            st.tuples(percent, st.none()),
            st.tuples(st.none(), st.integers(min_value=0, max_value=3)),
            st.tuples(st.none(), percent),
        )
    )
    return App(kind, replicas, startup, budget[0], budget[1])


steps = st.lists(
    st.one_of(
        st.tuples(st.just("evict"), st.integers(0, 3), st.integers(0, 10)),
        st.tuples(st.just("sleep"), st.sampled_from([0.0, 1.0, 4.0, 15.0, 31.0])),
        st.tuples(st.just("cordon"), st.integers(0, 2)),
    ),
    max_size=40,
)


def build(world: World, fleet: list[App]) -> None:
    for index in range(3):
        world.node(f"n{index}", cpu=8000, memory=32 * GI)
    for index, app in enumerate(fleet):
        world.workload(app.kind, f"app{index}", app.replicas, startup=app.startup, grace=10)
        world.pdb(
            f"pdb{index}",
            f"app{index}",
            min_available=app.min_available,
            max_unavailable=app.max_unavailable,
        )
    world.settle()


def run(world: World, fleet: list[App], plan: list[tuple[object, ...]]) -> list[str]:
    """Play the steps, checking every PDB after each; returns the evicted pods' uids."""
    evicted: list[str] = []
    for step in plan:
        if step[0] == "evict":
            index = int(step[1]) % len(fleet)  # type: ignore[call-overload]
            candidates = world.live(f"app{index}")
            if candidates:
                pod = candidates[int(step[2]) % len(candidates)]  # type: ignore[call-overload]
                try:
                    world.cluster.evict_pod(pod.namespace, pod.name)
                    evicted.append(pod.uid)
                except EvictionBlockedError:
                    pass
        elif step[0] == "sleep":
            world.sleep(float(step[1]))  # type: ignore[arg-type]
        else:
            node = f"n{step[1]}"
            cordoned = world.cluster.get_node(node).unschedulable
            if not cordoned and len([n for n in world.cluster.list_nodes() if n.unschedulable]) < 2:
                world.cluster.set_unschedulable(node, True)
            elif cordoned:
                world.cluster.set_unschedulable(node, False)
        for budget in world.cluster.list_pdbs():
            assert budget.current_healthy >= budget.desired_healthy, (step, budget)
    return evicted


@PROPERTY_SETTINGS
@given(fleet=st.lists(apps(), min_size=1, max_size=4), plan=steps)
def test_evictions_never_take_a_pdb_below_its_desired_healthy(
    new_world: Callable[[], World], fleet: list[App], plan: list[tuple[object, ...]]
) -> None:
    world = new_world()
    build(world, fleet)

    run(world, fleet, plan)

    assert world.cluster.stats.pdb_violations == ()


@PROPERTY_SETTINGS
@given(fleet=st.lists(apps(), min_size=1, max_size=4), plan=steps)
def test_every_evicted_pod_gets_a_ready_replacement(
    new_world: Callable[[], World], fleet: list[App], plan: list[tuple[object, ...]]
) -> None:
    world = new_world()
    build(world, fleet)

    evicted = run(world, fleet, plan)
    world.settle()

    for index, app in enumerate(fleet):
        ready = world.ready(f"app{index}")
        assert len(ready) == app.replicas
        assert len(world.pods(f"app{index}")) == app.replicas  # the evicted ones are gone
        if app.kind is WorkloadKind.STATEFUL_SET:
            assert sorted(p.name for p in ready) == sorted(
                f"app{index}-{i}" for i in range(app.replicas)
            )
    # Replacements are new pods (a StatefulSet's under the old name): no evicted pod remains.
    remaining = {p.uid for p in world.cluster.list_pods()}
    assert not set(evicted) & remaining
