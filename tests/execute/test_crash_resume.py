"""Killed at any moment, resumed with --resume: the same end state, nothing destructive twice.

A crash is an injected `Crash` (a BaseException, so the engine cannot journal it: like a
SIGKILL, the journal just stops). Ctrl-C is a KeyboardInterrupt, which the engine does handle.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.execute.worlds import (
    CLUSTER,
    CountingControlPlane,
    Crash,
    CrashingReporter,
    Runner,
    full_plan,
    ready_workloads,
)
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import WorkloadKind
from upgrader.core.run.journal import Phase, parse_records
from upgrader.execute.engine import RunStatus, StepOutcome
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.world import Sandbox

# What one clean run of `full_plan()` sends to EKS: the baseline for "nothing twice".
CLEAN_RUN_CALLS = {
    "update_cluster_version": 2,
    "create_nodegroup": 4,
    "delete_nodegroup": 4,
    "update_addon": 5,
}


def _assert_clean_end(world: Sandbox, before: set[str], counting: CountingControlPlane) -> None:
    kube = world.kube(CLUSTER)
    assert {n.minor_version for n in kube.list_nodes()} == {"1.30"}
    assert sorted(world.aws.list_nodegroups(CLUSTER)) == ["batch-1-30", "general-1-30"]
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()
    assert ready_workloads(world) == before
    assert len(world.aws.list_updates(CLUSTER)) == 2
    assert dict(counting.calls) == CLEAN_RUN_CALLS
    autoscaler = kube.get_workload(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler")
    assert autoscaler.replicas == 1


def test_the_clean_run_baseline(world: Sandbox, runner: Runner) -> None:
    counting = CountingControlPlane(world.aws)
    before = ready_workloads(world)
    result = runner.run(full_plan(), ports=runner.ports(control_plane=counting))
    assert result.status is RunStatus.SUCCEEDED
    _assert_clean_end(world, before, counting)


def test_a_crash_at_every_step_boundary_then_resume(world: Sandbox, runner: Runner) -> None:
    """One run per boundary: it crashes just before a step starts (nothing journaled for it)
    or just after it finished (journaled), and the next run resumes."""
    plan = full_plan()
    counting = CountingControlPlane(world.aws)
    ports = runner.ports(control_plane=counting)
    before = ready_workloads(world)
    boundaries = [(event, s.id) for s in plan.steps for event in ("started", "finished")]
    for number, boundary in enumerate(boundaries):
        with pytest.raises(Crash):
            runner.run(
                plan, ports=ports, resume=number > 0, reporter=CrashingReporter(runner, boundary)
            )
    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert {s.outcome for s in result.steps} == {StepOutcome.SKIPPED}
    _assert_clean_end(world, before, counting)


@pytest.mark.parametrize(
    "change",
    [
        "eks:UpdateClusterVersion cluster=prod version=1.29",
        "eks:UpdateAddon cluster=prod addon=vpc-cni",
        "eks:CreateNodegroup cluster=prod nodegroup=general-1-29",
        "taint eksup.io/upgrade=blue:NoSchedule and cordon 3 nodes of general",
        "drain 3 nodes of general",
        "eks:DeleteNodegroup cluster=prod nodegroup=batch-1-29",
        "scale deployment kube-system/cluster-autoscaler to 0",
    ],
)
def test_a_crash_between_journaling_a_change_and_making_it(
    world: Sandbox, runner: Runner, change: str
) -> None:
    plan = full_plan()
    counting = CountingControlPlane(world.aws)
    ports = runner.ports(control_plane=counting)
    before = ready_workloads(world)
    with pytest.raises(Crash):
        runner.run(plan, ports=ports, reporter=CrashingReporter(runner, ("action", change)))

    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    _assert_clean_end(world, before, counting)


@pytest.mark.parametrize(
    "method", ["update_cluster_version", "create_nodegroup", "delete_nodegroup", "update_addon"]
)
def test_a_crash_right_after_aws_accepted_a_change(
    world: Sandbox, runner: Runner, method: str
) -> None:
    """The worst moment: AWS did it, the journal never heard. The resumed step finds the
    update in flight (or the green group, or blue DELETING) and waits on it."""
    plan = full_plan()
    counting = CountingControlPlane(world.aws)
    counting.crash_after[method] = 1
    ports = runner.ports(control_plane=counting)
    before = ready_workloads(world)
    with pytest.raises(Crash):
        runner.run(plan, ports=ports)
    counting.crash_after.clear()

    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    _assert_clean_end(world, before, counting)
    assert "not re-issued" in runner.out.getvalue() or method != "update_cluster_version"


def test_a_crash_in_the_middle_of_a_drain(world: Sandbox, runner: Runner) -> None:
    kube = world.kube(CLUSTER)
    evictions = []

    def crash_on_the_fifth(action: Action) -> None:
        evictions.append(action.name)
        if len(evictions) == 5:
            raise Crash("killed mid-drain")

    kube.add_reactor("create", "pods/eviction", crash_on_the_fifth)
    plan = full_plan()
    counting = CountingControlPlane(world.aws)
    ports = runner.ports(control_plane=counting)
    before = ready_workloads(world)
    with pytest.raises(Crash):
        runner.run(plan, ports=ports)
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"
    kube.remove_reactors()

    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    _assert_clean_end(world, before, counting)
    records = parse_records(runner.journal_path.read_text(), "journal")
    starts = Counter(r.step for r in records if r.phase is Phase.STARTED)
    assert [s for s, n in starts.items() if n == 2] == ["nodegroup-general-1.29"]


def test_ctrl_c_during_a_drain_stops_cleanly_and_resume_finishes(
    world: Sandbox, runner: Runner
) -> None:
    kube = world.kube(CLUSTER)
    count = []

    def interrupt(action: Action) -> None:
        count.append(action)
        if len(count) == 3:
            raise KeyboardInterrupt

    kube.add_reactor("create", "pods/eviction", interrupt)
    plan = full_plan()
    before = ready_workloads(world)

    stopped = runner.run(plan)

    assert stopped.status is RunStatus.STOPPED
    assert stopped.exit_code is ExitCode.STOPPED
    assert stopped.resume_from == "nodegroup-batch-1.29"
    assert "--resume" in stopped.summary()
    records = parse_records(runner.journal_path.read_text(), "journal")
    assert records[-2].phase is Phase.STOPPED
    assert records[-2].step == "nodegroup-batch-1.29"
    assert kube.stats.lost_pods == ()
    kube.remove_reactors()

    result = runner.run(plan, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert ready_workloads(world) == before
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()


def test_a_stop_request_stops_between_steps(world: Sandbox, runner: Runner) -> None:
    plan = full_plan()
    asked = []

    def after_the_first_hop() -> bool:
        asked.append(world.aws.describe_cluster(CLUSTER).version)
        return asked[-1] == "1.29"

    stopped = runner.run(plan, should_stop=after_the_first_hop)

    assert stopped.status is RunStatus.STOPPED
    assert stopped.resume_from == "addons-1.29"
    outcomes = {s.step_id: s.outcome for s in stopped.steps}
    assert outcomes["control-plane-1.29"] is StepOutcome.DONE
    assert outcomes["addons-1.29"] is StepOutcome.STOPPED
    assert outcomes["verify"] is StepOutcome.NOT_RUN

    result = runner.run(plan, resume=True)
    assert result.status is RunStatus.SUCCEEDED
    assert len(world.aws.list_updates(CLUSTER)) == 2


def test_resume_from_another_machine_reads_the_configmap(world: Sandbox, runner: Runner) -> None:
    plan = full_plan()
    counting = CountingControlPlane(world.aws)
    ports = runner.ports(control_plane=counting)
    with pytest.raises(Crash):
        runner.run(
            plan,
            ports=ports,
            reporter=CrashingReporter(runner, ("finished", "nodegroup-general-1.29")),
        )
    runner.journal_path.unlink()  # the first machine is gone

    result = runner.run(plan, ports=ports, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    skipped = [s.step_id for s in result.steps if s.outcome is StepOutcome.SKIPPED]
    assert "control-plane-1.29" in skipped
    assert dict(counting.calls) == CLEAN_RUN_CALLS
