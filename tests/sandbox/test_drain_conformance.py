"""The drain conformance table, three ways: the fake's Eviction API in-process, `kubectl drain`
against the served sandbox, and eksup's drain. All three must agree with the table (and so
with each other) on which pods go, which stay, and why.

One world holds every case (a node and a namespace each), built the same way each time: the
FakeCluster is deterministic, so pod names match across the three worlds. kubectl drains every
case node of one served world, a few at a time; eksup drains every case node of another; the
third answers single evictions. See drain_conformance_cases.py for the table and its sources.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.sandbox.apiserver.test_kubectl import KUBECTL, TICKER_RATE
from upgrader.core.errors import EvictionBlockedError, MultiplePdbsError, PermanentError
from upgrader.core.kube import (
    MATCH_NOTHING,
    MIRROR_POD_ANNOTATION,
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
    Toleration,
    Volume,
    Workload,
    WorkloadKind,
)
from upgrader.drain.drainer import (
    Drain,
    DrainRefusedError,
    DrainSettings,
    DrainTimeoutError,
    existing_daemonsets,
)
from upgrader.drain.rules import DrainOptions, Verdict, decide_all
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

from .drain_conformance_cases import CASES, NULL, Case, Group

GI = 2**30
MI = 2**20
NEVER = 1e9  # seconds: a start-up or grace period that does not end during the test
SPARES = 3


@dataclass
class World:
    clock: VirtualClock
    cluster: FakeCluster
    pods: dict[str, list[Pod]] = field(default_factory=dict)  # "case/group" -> pods, by name


def _node(cluster: FakeCluster, name: str, labels: dict[str, str]) -> None:
    cluster.add_node(
        Node(
            name=name,
            labels={"kubernetes.io/hostname": name, **labels},
            kubelet_version="v1.29.8-eks-a737599",
            allocatable=Resources(16000, 64 * GI, 110),
        )
    )


def _spec(case: Case, group: Group) -> PodSpec:
    return PodSpec(
        requests=Resources(10, 16 * MI, 1),
        node_selector={"case": case.id} if group.pinned else {},
        volumes=(Volume("scratch", empty_dir=True),) if group.empty_dir else (),
        termination_grace_seconds=1,
        tolerations=(Toleration(operator="Exists"),) if group.kind == "ds" else (),
    )


_KINDS = {
    "deploy": WorkloadKind.DEPLOYMENT,
    "sts": WorkloadKind.STATEFUL_SET,
    "job": WorkloadKind.JOB,
    "ds": WorkloadKind.DAEMON_SET,
}
_OWNERS = {
    "ds-gone": OwnerRef("DaemonSet", "gone-ds"),
    "mirror": OwnerRef("Node", ""),
}


def _add_group(cluster: FakeCluster, case: Case, group: Group) -> None:
    labels = {"app": group.name}
    if group.kind in _KINDS:
        kind = _KINDS[group.kind]
        cluster.add_workload(
            Workload(
                kind,
                case.namespace,
                group.name,
                LabelSelector(labels),
                PodTemplate(labels, spec=_spec(case, group)),
                replicas=None if kind is WorkloadKind.DAEMON_SET else group.count,
            ),
            startup_seconds=5.0,
            run_seconds=NEVER if kind is WorkloadKind.JOB else None,
            starts=not group.never_starts,
        )
        return
    owner = _OWNERS.get(group.kind)
    if owner is not None and group.kind == "mirror":
        owner = OwnerRef("Node", case.node)
    for i in range(group.count):
        name = group.name if group.count == 1 else f"{group.name}-{i}"
        cluster.add_pod(
            Pod(
                case.namespace,
                name,
                "",
                labels=labels,
                annotations={MIRROR_POD_ANNOTATION: "static"} if group.kind == "mirror" else {},
                owner=owner,
                node_name=case.node,
                spec=_spec(case, group),
            ),
            startup_seconds=5.0,
        )


def _add_budgets(cluster: FakeCluster, case: Case) -> None:
    for budget in case.budgets:
        if budget.selector == NULL:
            selector = MATCH_NOTHING
        elif budget.selector == "":
            selector = LabelSelector({"app": case.groups[0].name})
        else:
            assert isinstance(budget.selector, dict)
            selector = LabelSelector(dict(budget.selector))
        cluster.add_pdb(
            PodDisruptionBudget(
                budget.namespace or case.namespace,
                budget.name if not budget.namespace else f"{budget.name}-{case.id}",
                selector,
                min_available=budget.min_available,
                max_unavailable=budget.max_unavailable,
                unhealthy_pod_eviction_policy=budget.policy,
            )
        )


def build_world() -> World:
    clock = VirtualClock()
    cluster = FakeCluster(clock)
    world = World(clock, cluster)
    for case in CASES:
        # The case's pods land on its node, the only schedulable one while they start.
        _node(cluster, case.node, {NODEGROUP_LABEL: "blue", "case": case.id})
        for group in case.groups:
            _add_group(cluster, case, group)
        _add_budgets(cluster, case)
        cluster.settle(60.0)
        cluster.set_unschedulable(case.node, True)
    for i in range(SPARES):
        _node(cluster, f"spare-{i}", {NODEGROUP_LABEL: "green"})
    cluster.settle(60.0)
    for case in CASES:
        for group in case.groups:
            pods = sorted(
                (
                    p
                    for p in cluster.list_pods(namespace=case.namespace)
                    if p.labels.get("app") == group.name and p.node_name == case.node
                ),
                key=lambda p: p.name,
            )
            assert len(pods) == group.count, (case.id, group.name, [p.name for p in pods])
            for pod in pods[: group.not_ready]:
                cluster.set_pod_ready(pod.namespace, pod.name, False)
            for pod in pods:
                if group.finished:
                    cluster.finish_pod(pod.namespace, pod.name, PodPhase(group.finished))
                if group.terminating:
                    cluster.delete_pod(pod.namespace, pod.name, grace_period_seconds=int(NEVER))
            world.pods[f"{case.id}/{group.name}"] = pods
    return world


# -- what the table expects ---------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Seen:
    final: str  # goes / stays / refused
    why: str = ""


def by_group(case: Case, world: World, seen: dict[str, Seen]) -> dict[str, list[Seen]]:
    """Outcomes per group, sorted: when one of two pods may go, which one is a race (kubectl
    evicts a node's pods concurrently), so the table fixes how many, not which."""
    return {
        group.name: sorted(seen[p.key] for p in world.pods[f"{case.id}/{group.name}"])
        for group in case.groups
    }


def expected(case: Case, world: World) -> dict[str, Seen]:
    found: dict[str, Seen] = {}
    for group in case.groups:
        for i, pod in enumerate(world.pods[f"{case.id}/{group.name}"]):
            final = group.final
            why = group.why
            if final is None:
                verdict = group.api[i]
                final = "goes" if verdict == "ok" else "stays"
                why = "" if verdict == "ok" else ("two-pdbs" if verdict == "500" else "budget")
            found[pod.key] = Seen(final, why if final != "goes" else "")
    return found


def _where(world: World, case: Case) -> dict[str, str]:
    """Each recorded pod: still on its node ("stays") or gone/terminating ("goes")."""
    there = {p.key for p in world.cluster.list_pods(node_name=case.node) if not p.is_terminating}
    return {
        pod.key: "stays" if pod.key in there else "goes"
        for group in case.groups
        for pod in world.pods[f"{case.id}/{group.name}"]
    }


def test_the_table_is_large_and_cited() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    for case in CASES:
        assert ".go" in case.cite or "kubernetes.io/docs" in case.cite, case.id


# -- way 1: the fake's Eviction API, in process -------------------------------------------------


@pytest.fixture(scope="module")
def api_world() -> World:
    return build_world()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_eviction_api_answers_as_the_table_says(case: Case, api_world: World) -> None:
    cluster = api_world.cluster
    for group in case.groups:
        if not group.api:
            continue
        answers = []
        for pod in api_world.pods[f"{case.id}/{group.name}"]:
            try:
                cluster.evict_pod(pod.namespace, pod.name)
                answers.append("ok")
            except EvictionBlockedError:
                answers.append("429")
            except MultiplePdbsError:
                answers.append("500")
        assert tuple(answers) == group.api, (case.id, case.cite)


# -- way 2: eksup's drain ------------------------------------------------------------------------


def _options(case: Case) -> tuple[DrainOptions, bool]:
    return (
        DrainOptions(
            delete_emptydir_data="--delete-emptydir-data" in case.flags,
            force="--force" in case.flags,
        ),
        "--disable-eviction" in case.flags,
    )


def eksup_outcome(world: World, case: Case) -> dict[str, Seen]:
    cluster = world.cluster
    options, disable = _options(case)
    refused: dict[str, str] = {}
    held: dict[str, str] = {}
    skips = {
        d.pod.key: d.reason
        for d in decide_all(
            cluster.list_pods(node_name=case.node), options, existing_daemonsets(cluster)
        )
        if d.verdict is Verdict.SKIP
    }
    drain = Drain(
        cluster,
        world.clock,
        lambda: [cluster.get_node(case.node)],
        DrainSettings(timeout_seconds=120.0, options=options, disable_eviction=disable),
    )
    node_refused = False
    try:
        drain.run()
    except DrainRefusedError as error:
        node_refused = True
        refused = {d.pod.key: d.reason for d in error.decisions}
    except DrainTimeoutError as error:
        held = {s.pod: "budget" for s in error.report.stuck if s.pdb}
    except PermanentError as error:  # the Eviction API's one-PDB rule, named up front
        held = dict.fromkeys(re.findall(r"evict (\S+): it matches", str(error)), "two-pdbs")
    where = _where(world, case)
    seen: dict[str, Seen] = {}
    for key, place in where.items():
        if key in refused:
            seen[key] = Seen("refused", _refusal_class(refused[key]))
        elif place == "goes":
            seen[key] = Seen("goes")
        elif key in skips:
            seen[key] = Seen("stays", "daemonset" if "DaemonSet" in skips[key] else "mirror")
        elif node_refused:
            seen[key] = Seen("stays", "node-refused")
        else:
            seen[key] = Seen("stays", held.get(key, "?"))
    return seen


def _refusal_class(reason: str) -> str:
    if "emptyDir" in reason or "local storage" in reason:
        return "emptydir"
    if "no longer exists" in reason or "not found" in reason:
        return "ds-gone"
    return "bare"


@pytest.fixture(scope="module")
def eksup_world() -> World:
    return build_world()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_eksup_drains_as_the_table_says(case: Case, eksup_world: World) -> None:
    seen = eksup_outcome(eksup_world, case)
    want = expected(case, eksup_world)
    assert by_group(case, eksup_world, seen) == by_group(case, eksup_world, want), case.cite


# -- way 3: kubectl drain against the served sandbox ---------------------------------------------

_EVICT_ERROR = re.compile(r'error when evicting pods/"([^"]+)" -n "([^"]+)"[^:]*: (.*)')
_CANNOT = re.compile(r"cannot delete ([^:]+): ((?:[\w.-]+/[\w.-]+(?:, )?)+)")
_IGNORED_DS = re.compile(r"ignoring DaemonSet-managed Pods: ((?:[\w.-]+/[\w.-]+(?:, )?)+)")


def kubectl_outcome(world: World, case: Case, output: str) -> dict[str, Seen]:
    refused: dict[str, str] = {}
    for message, listed in _CANNOT.findall(output):
        for key in (k.strip() for k in listed.split(",")):
            if key:
                refused[key] = _refusal_class(message)
    held: dict[str, str] = {}
    for name, namespace, message in _EVICT_ERROR.findall(output):
        held[f"{namespace}/{name}"] = (
            "two-pdbs" if "more than one PodDisruptionBudget" in message else "budget"
        )
    daemons = {k.strip() for found in _IGNORED_DS.findall(output) for k in found.split(",")}
    seen: dict[str, Seen] = {}
    for key, place in _where(world, case).items():
        if key in refused:
            seen[key] = Seen("refused", refused[key])
        elif place == "goes":
            seen[key] = Seen("goes")
        elif key in daemons:
            seen[key] = Seen("stays", "daemonset")
        elif key in held:
            seen[key] = Seen("stays", held[key])
        elif refused:
            seen[key] = Seen("stays", "node-refused")
        else:
            seen[key] = Seen("stays", "mirror")  # kubectl skips mirror pods silently
    return seen


def _blocks(case: Case) -> bool:
    """Whether kubectl will wait on this case until its timeout (a 429, a terminating pod)."""
    return any(g.terminating or any(v != "ok" for v in g.api) for g in case.groups) and not any(
        g.final == "refused" for g in case.groups
    )


@pytest.fixture(scope="module")
def kubectl_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[World, dict[str, str]]]:
    if KUBECTL is None:
        pytest.skip("no kubectl binary")
    world = build_world()
    tmp = tmp_path_factory.mktemp("kubectl")
    outputs: dict[str, str] = {}
    with KubeServer(world.cluster, world.clock) as server:
        server.start_ticker(TICKER_RATE)
        kubeconfig = server.write_kubeconfig(tmp / "kubeconfig")

        def drain(case: Case) -> tuple[str, str]:
            assert KUBECTL is not None
            # A case kubectl can only wait on ends at a short timeout; the others finish.
            timeout = "4s" if _blocks(case) or case.id == "15" else "60s"
            if case.id == "15":
                timeout = "30s"  # one retry after kubectl's 5 s back-off
            done = subprocess.run(
                [
                    KUBECTL,
                    "--kubeconfig",
                    str(kubeconfig),
                    "--cache-dir",
                    str(tmp / f"cache-{case.id}"),
                    "drain",
                    case.node,
                    "--ignore-daemonsets",
                    f"--timeout={timeout}",
                    *case.flags,
                ],
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
            return case.id, done.stdout + done.stderr

        with ThreadPoolExecutor(max_workers=8) as pool:
            outputs = dict(pool.map(drain, [c for c in CASES if c.kubectl]))
    return world, outputs


@pytest.mark.parametrize("case", [c for c in CASES if c.kubectl], ids=lambda c: c.id)
def test_kubectl_drains_as_the_table_says(
    case: Case, kubectl_results: tuple[World, dict[str, str]]
) -> None:
    world, outputs = kubectl_results
    output = outputs[case.id]
    seen = kubectl_outcome(world, case, output)
    want = expected(case, world)
    assert by_group(case, world, seen) == by_group(case, world, want), (case.cite, output)


def test_the_sandbox_serves_pdb_status_kubectl_reads(
    kubectl_results: tuple[World, dict[str, str]], tmp_path: Path
) -> None:
    """`kubectl get pdb` shows the disruption controller's status (disruption.go
    getExpectedPodCount): expectedPods is the controllers' scale, desiredHealthy rounds up."""
    assert KUBECTL is not None
    world, _ = kubectl_results
    with KubeServer(world.cluster, world.clock) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        done = subprocess.run(
            [
                KUBECTL,
                "--kubeconfig",
                str(kubeconfig),
                "--cache-dir",
                str(tmp_path / "c"),
                "get",
                "pdb",
                "-A",
                "-o",
                "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}="
                "{.status.desiredHealthy}/{.status.expectedPods}{'\\n'}{end}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    status = dict(line.split("=", 1) for line in done.stdout.split())
    assert status["c06/pdb"] == "1/3", done.stderr  # maxUnavailable 50% of 3: 2 may go
    assert status["c09/pdb"] == "2/2"  # minAvailable 51% of 2 rounds up to 2
