"""`eksup execute --surge` on the sandbox: PDB-bound Deployments raised before a blue/green
drain, put back after it, and put back by `--resume` after a crash mid-surge."""

from __future__ import annotations

import pytest

from tests.execute.worlds import CLUSTER, Crash, Runner, full_plan, ready_workloads
from upgrader.core.kube import HorizontalPodAutoscaler, WorkloadKind
from upgrader.core.run.journal import Phase, parse_records
from upgrader.execute.engine import RunStatus
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.world import Sandbox

WEB = "surge/Deployment/shop/web"


def _replicas(world: Sandbox) -> dict[str, int | None]:
    kube = world.kube(CLUSTER)
    return {
        f"{w.namespace}/{w.name}": w.replicas for w in kube.list_workloads(WorkloadKind.DEPLOYMENT)
    }


def _memos(runner: Runner) -> list[tuple[str, str]]:
    records = parse_records(runner.journal_path.read_text(), "journal")
    return [(r.data["key"], r.data["value"]) for r in records if r.phase is Phase.MEMO]


def test_a_surged_blue_green_upgrade_restores_every_deployment(
    world: Sandbox, runner: Runner
) -> None:
    original = _replicas(world)
    before = ready_workloads(world)
    kube = world.kube(CLUSTER)

    result = runner.run(full_plan(), surge=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert _replicas(world) == original
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()
    assert ready_workloads(world) == before
    # shop/web (minAvailable 80%) was surged: its original is journaled, then marked restored.
    scaled = [a for a in kube.actions if a.verb == "patch" and a.resource == "deployments/scale"]
    assert any(a.name == "web" for a in scaled)
    memos = _memos(runner)
    assert (WEB, str(original["shop/web"])) in memos
    assert [v for k, v in memos if k == WEB][-1] == "restored"
    # Absolute maxUnavailable budgets gain nothing from surge: never recorded.
    assert not any(k.startswith("surge/Deployment/shop/api") for k, _ in memos)


def test_without_surge_nothing_is_scaled(world: Sandbox, runner: Runner) -> None:
    result = runner.run(full_plan())

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert not any(k.startswith("surge/") for k, _ in _memos(runner))


def test_a_crash_mid_surge_is_restored_on_resume(world: Sandbox, runner: Runner) -> None:
    original = _replicas(world)
    before = ready_workloads(world)
    kube = world.kube(CLUSTER)
    crashed: list[str] = []

    def crash_on_eviction(action: Action) -> None:
        web = _replicas(world)["shop/web"]
        if web is not None and web > (original["shop/web"] or 0):
            crashed.append(action.name)
            raise Crash("killed mid-surge")

    def no_scale_after_the_crash(action: Action) -> None:
        if crashed:  # like SIGKILL: the drain's own restore never runs
            raise Crash("dead")

    kube.add_reactor("create", "pods/eviction", crash_on_eviction)
    kube.add_reactor("patch", "deployments/scale", no_scale_after_the_crash)
    plan = full_plan()
    with pytest.raises(Crash):
        runner.run(plan, surge=True)
    assert crashed
    assert _replicas(world)["shop/web"] == 2 * (original["shop/web"] or 0)  # left raised
    assert (WEB, str(original["shop/web"])) in _memos(runner)
    kube.remove_reactors()

    result = runner.run(plan, surge=True, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert _replicas(world) == original
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()
    assert ready_workloads(world) == before
    records = parse_records(runner.journal_path.read_text(), "journal")
    resumed = records[-1].run
    restores = [
        r
        for r in records
        if r.run == resumed
        and r.phase is Phase.ACTION
        and "restore Deployment shop/web" in r.detail
    ]
    # The resumed run restored the crashed run's surge before any step ran.
    assert restores
    assert restores[0].step is None


def test_an_hpa_scaled_deployment_is_surged_through_its_hpa_and_put_back_after_a_crash(
    world: Sandbox, runner: Runner
) -> None:
    kube = world.kube(CLUSTER)
    web = kube.get_workload(WorkloadKind.DEPLOYMENT, "shop", "web").replicas or 0
    kube.add_hpa(HorizontalPodAutoscaler("shop", "web", "Deployment", "web", 2, 4 * web))
    world.settle(30)
    crashed: list[str] = []

    def crash_on_eviction(action: Action) -> None:
        (hpa,) = kube.list_hpas("shop")
        if hpa.min_replicas > 2:
            crashed.append(action.name)
            raise Crash("killed mid-surge")

    def nothing_after_the_crash(action: Action) -> None:
        if crashed:
            raise Crash("dead")

    kube.add_reactor("create", "pods/eviction", crash_on_eviction)
    kube.add_reactor("patch", "horizontalpodautoscalers", nothing_after_the_crash)
    plan = full_plan()
    with pytest.raises(Crash):
        runner.run(plan, surge=True)
    assert crashed
    (hpa,) = kube.list_hpas("shop")
    assert hpa.min_replicas > 2  # left raised by the crash
    assert ("surge/HorizontalPodAutoscaler/shop/web", "2") in _memos(runner)
    assert not any(k == WEB for k, _ in _memos(runner))  # the Deployment itself was not scaled
    kube.remove_reactors()

    result = runner.run(plan, surge=True, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    (hpa,) = kube.list_hpas("shop")
    assert hpa.min_replicas == 2
    world.settle(60)
    assert kube.get_workload(WorkloadKind.DEPLOYMENT, "shop", "web").replicas == web
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()
