"""The karpenter-drift step, end to end: a planner plan from 1.29 to 1.30 on a cluster whose
nodes all belong to a Karpenter NodePool. eksup patches the EC2NodeClass and watches; the fake
Karpenter replaces the nodes within the pool's budget and every PDB."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.execute.worlds import (
    CLUSTER,
    Crash,
    CrashingReporter,
    Delegate,
    Runner,
    _app,
    hand_plan,
    step,
)
from upgrader.core.kube import (
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    DisruptionBudget,
    NodeClass,
    NodePool,
    PodDisruptionBudget,
    WorkloadKind,
)
from upgrader.core.run.journal import Phase, parse_records
from upgrader.execute.engine import RunStatus, StepOutcome, Timeouts
from upgrader.plan.discovery import discover
from upgrader.plan.document import Plan, StepKind
from upgrader.plan.planner import make_plan
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.cluster.karpenter import FakeKarpenter, install_karpenter, public_image_minors
from upgrader.sandbox.world import Sandbox
from upgrader.versions import default_catalog

POOL = "general"
NODES = 4
STEP = f"karpenter-{POOL}-1.30"


def _ami(version: str) -> tuple[str, str]:
    parameter = default_catalog().ami_parameter(version, "AL2023_x86_64_STANDARD")
    assert parameter is not None
    return version, parameter


@dataclass
class KarpenterWorld:
    world: Sandbox
    karpenter: FakeKarpenter
    images: dict[str, str]  # minor -> AMI id

    @property
    def kube(self) -> Any:
        return self.world.kube(CLUSTER)

    def minors(self) -> list[str]:
        nodes = self.kube.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}={POOL}")
        return sorted(n.minor_version for n in nodes)

    def plan(self) -> Plan:
        world = self.world
        snapshot = discover(
            CLUSTER, world.aws, world.aws, self.kube, world.clock, target_version="1.30"
        )
        plan = make_plan(snapshot, "1.30", region="us-east-1")
        # The runbook's approval gate is tested on its own (test_approval.py); here it would
        # only stop every run before the Karpenter step.
        steps = [s for s in plan.steps if s.kind is not StepKind.APPROVAL and not s.approval]
        return plan.model_copy(update={"steps": steps})


def _build(world: Sandbox, terms: AmiSelectorTerm | None = None) -> KarpenterWorld:
    world.create_cluster(CLUSTER, "1.29", world.create_network())
    world.install_addons(CLUSTER, "1.29", ("vpc-cni", "coredns", "kube-proxy"))
    kube = world.kube(CLUSTER)
    minors = public_image_minors(world.aws, dict([_ami("1.29"), _ami("1.30")]))
    images = {minor: ami for ami, minor in minors.items()}
    karpenter = install_karpenter(kube, world.clock, images=minors)
    karpenter.add_node_class(
        NodeClass("default", (terms or AmiSelectorTerm(id=images["1.29"]),), "AL2023")
    )
    karpenter.add_node_pool(
        NodePool(POOL, "default", (DisruptionBudget(nodes="25%"),)), nodes=NODES
    )
    apps = [
        (_app(WorkloadKind.DAEMON_SET, "kube-system", "aws-node", None, cpu=25), None),
        (_app(WorkloadKind.DEPLOYMENT, "kube-system", "coredns", 2), {"max_unavailable": 1}),
        (_app(WorkloadKind.DEPLOYMENT, "shop", "web", 6), {"min_available": "80%"}),
        (_app(WorkloadKind.DEPLOYMENT, "shop", "api", 4, cpu=500), {"max_unavailable": 1}),
        (_app(WorkloadKind.STATEFUL_SET, "payments", "ledger", 3), {"max_unavailable": 1}),
    ]
    for workload, pdb in apps:
        kube.add_workload(workload, startup_seconds=20)
        if pdb is not None:
            kube.add_pdb(
                PodDisruptionBudget(
                    namespace=workload.namespace,
                    name=f"{workload.name}-pdb",
                    selector=workload.selector,
                    **pdb,
                )
            )
    world.settle(300)
    return KarpenterWorld(world, karpenter, images)


@pytest.fixture
def kw() -> Iterator[KarpenterWorld]:
    with Sandbox() as world:
        yield _build(world)


class CountingCluster(Delegate):
    """Counts what eksup itself asks of Kubernetes: patches of node classes, evictions."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.calls: Counter[str] = Counter()

    def patch_node_class_ami_selector(self, name: str, terms: Any) -> Any:
        self.calls["patch"] += 1
        return self.inner.patch_node_class_ami_selector(name, terms)

    def evict_pod(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["evict"] += 1
        return self.inner.evict_pod(*args, **kwargs)


def _assert_moved(kw: KarpenterWorld) -> None:
    assert kw.minors() == ["1.30"] * NODES
    assert kw.kube.stats.lost_pods == ()
    assert kw.kube.stats.pdb_violations == ()
    assert kw.karpenter.max_disrupting[POOL] == 1  # 25% of 4 nodes
    assert kw.kube.get_node_class("default").ami_selector_terms == (
        AmiSelectorTerm(id=kw.images["1.30"]),
    )
    for w in kw.kube.list_workloads():
        if w.kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET):
            assert w.ready_replicas == w.replicas, w.name


def test_the_plan_lets_karpenter_replace_the_pool_after_the_control_plane(
    kw: KarpenterWorld,
) -> None:
    plan = kw.plan()
    ids = [s.id for s in plan.steps]
    assert STEP in ids
    assert ids.index(STEP) > ids.index("control-plane-1.30")
    step = plan.step(STEP)
    assert step.kind is StepKind.KARPENTER_DRIFT
    assert step.params.node_class == "default"
    commands = "\n".join(step.commands)
    assert "kubectl patch ec2nodeclass default --type merge -p" in commands
    assert '"amiSelectorTerms":[{"id":"<AMI id for 1.30>"}]' in commands
    assert "kubectl patch ec2nodeclass default" in "\n".join(step.rollback)


def test_execute_moves_every_karpenter_node_within_the_budget_and_every_pdb(
    kw: KarpenterWorld, tmp_path: Path
) -> None:
    runner = Runner(kw.world, tmp_path)
    cluster = CountingCluster(kw.kube)
    result = runner.run(kw.plan(), ports=runner.ports(cluster=cluster))
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_moved(kw)
    assert cluster.calls == Counter(patch=1)  # Karpenter evicted, not eksup
    records = parse_records(runner.journal_path.read_text(), "journal")
    key = f"{STEP}/previous_ami_selector_terms"
    (previous,) = [r for r in records if r.phase is Phase.MEMO and r.data.get("key") == key]
    assert json.loads(previous.data["value"]) == [{"id": kw.images["1.29"]}]


def test_a_crash_while_watching_then_resume_does_not_patch_again(
    kw: KarpenterWorld, tmp_path: Path
) -> None:
    runner = Runner(kw.world, tmp_path)
    cluster = CountingCluster(kw.kube)
    ports = runner.ports(cluster=cluster)
    listings = []

    def crash_on_the_third(action: Action) -> None:
        listings.append(action)
        if len(listings) == 3:
            raise Crash("killed while Karpenter replaces nodes")

    kw.kube.add_reactor("list", "nodeclaims", crash_on_the_third)
    plan = kw.plan()
    with pytest.raises(Crash):
        runner.run(plan, ports=ports)
    kw.kube.remove_reactors()
    assert cluster.calls["patch"] == 1

    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_moved(kw)
    assert cluster.calls == Counter(patch=1)
    records = parse_records(runner.journal_path.read_text(), "journal")
    starts = Counter(r.step for r in records if r.phase is Phase.STARTED)
    assert starts[STEP] == 2
    assert "not patched again" in runner.out.getvalue()


def test_a_crash_after_journaling_the_patch_patches_on_resume(
    kw: KarpenterWorld, tmp_path: Path
) -> None:
    runner = Runner(kw.world, tmp_path)
    cluster = CountingCluster(kw.kube)
    ports = runner.ports(cluster=cluster)
    plan = kw.plan()
    crash = CrashingReporter(runner, ("action", "patch EC2NodeClass default"))
    with pytest.raises(Crash):
        runner.run(plan, ports=ports, reporter=crash)
    assert cluster.calls["patch"] == 0

    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_moved(kw)
    assert cluster.calls == Counter(patch=1)


def test_a_dry_run_patches_nothing(kw: KarpenterWorld, tmp_path: Path) -> None:
    runner = Runner(kw.world, tmp_path)
    kw.kube.clear_actions()
    result = runner.run(kw.plan(), dry_run=True)
    assert not [a for a in kw.kube.actions if a.verb == "patch"]
    assert kw.kube.get_node_class("default").ami_selector_terms == (
        AmiSelectorTerm(id=kw.images["1.29"]),
    )
    assert kw.minors() == ["1.29"] * NODES
    patches = [c for c in result.intended_calls if c.action == "patch-ec2nodeclass"]
    assert [dict(c.params)["ec2nodeclass"] for c in patches] == ["default"]
    assert kw.images["1.30"] in str(patches[0])


def test_an_alias_is_left_alone_and_follows_the_control_plane(tmp_path: Path) -> None:
    with Sandbox() as world:
        kw = _build(world, AmiSelectorTerm(alias="al2023@v20241011"))
        runner = Runner(world, tmp_path)
        cluster = CountingCluster(kw.kube)
        result = runner.run(kw.plan(), ports=runner.ports(cluster=cluster))
        assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
        assert kw.minors() == ["1.30"] * NODES
        assert cluster.calls == Counter()
        assert kw.kube.stats.lost_pods == ()
        assert kw.kube.stats.pdb_violations == ()
        assert "alias al2023@v20241011" in runner.out.getvalue()


def test_a_drift_held_up_by_a_pdb_fails_naming_the_claims_pods_and_pdbs(
    kw: KarpenterWorld, tmp_path: Path
) -> None:
    solo = _app(WorkloadKind.DEPLOYMENT, "shop", "solo", 1)
    kw.kube.add_workload(solo, startup_seconds=5)
    kw.kube.add_pdb(
        PodDisruptionBudget(
            namespace="shop", name="solo-pdb", selector=solo.selector, min_available=1
        )
    )
    kw.world.settle(60)
    runner = Runner(kw.world, tmp_path)
    result = runner.run(kw.plan(), timeouts=Timeouts(nodegroup_update=1800.0))
    assert result.status is RunStatus.FAILED
    error = result.error or ""
    assert STEP in error
    assert "stuck NodeClaims: general-" in error
    assert "shop/solo-" in error
    assert "PDBs allowing no disruption: shop/solo-pdb" in error
    assert result.resume_from == STEP
    assert kw.kube.stats.pdb_violations == ()


def _hand(pool: str = POOL) -> Plan:
    return hand_plan(
        [step(StepKind.KARPENTER_DRIFT, STEP, "1.30", nodegroup=pool, version="1.30")],
        current="1.29",
    )


def test_a_missing_node_pool_is_refused_with_nothing_changed(
    kw: KarpenterWorld, tmp_path: Path
) -> None:
    result = Runner(kw.world, tmp_path).run(_hand("spot"))
    assert result.status is RunStatus.REFUSED
    assert "NodePool spot not found (karpenter.sh/v1)" in (result.error or "")


def test_a_pinned_ami_of_an_unknown_family_is_refused(tmp_path: Path) -> None:
    with Sandbox() as world:
        kw = _build(world)
        kw.karpenter.add_node_class(
            NodeClass("default", (AmiSelectorTerm(id=kw.images["1.29"]),), "Custom")
        )
        cluster = CountingCluster(kw.kube)
        runner = Runner(world, tmp_path)
        result = runner.run(_hand(), ports=runner.ports(cluster=cluster))
        assert result.status is RunStatus.REFUSED
        assert "amiFamily Custom" in (result.error or "")
        assert cluster.calls == Counter()
        assert kw.minors() == ["1.29"] * NODES


def test_a_pool_already_at_the_version_is_already_done(kw: KarpenterWorld, tmp_path: Path) -> None:
    kw.kube.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=kw.images["1.30"])])
    kw.world.settle(3600)
    assert kw.minors() == ["1.30"] * NODES
    result = Runner(kw.world, tmp_path).run(_hand())
    assert result.status is RunStatus.SUCCEEDED
    assert result.steps[0].outcome is StepOutcome.ALREADY_DONE
