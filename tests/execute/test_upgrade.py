"""A whole upgrade on the sandbox: 1.28 -> 1.30, two managed node groups replaced at each hop."""

from __future__ import annotations

import json
from pathlib import Path

from tests.execute.approvals import run_through_gates
from tests.execute.worlds import (
    CLUSTER,
    CountingControlPlane,
    Runner,
    build_world,
    full_plan,
    ready_workloads,
)
from upgrader.core.errors import NotFoundError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import NODEGROUP_LABEL, ConfigMap, WorkloadKind
from upgrader.core.run.journal import JOURNAL_KEY, Phase, mirror_name, parse_records
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE
from upgrader.execute.engine import RunStatus, StepOutcome
from upgrader.plan.discovery import discover
from upgrader.plan.planner import make_plan
from upgrader.sandbox.world import Sandbox


def _assert_upgraded(world: Sandbox, before: set[str]) -> None:
    kube = world.kube(CLUSTER)
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"
    assert kube.server_version().startswith("v1.30.")
    nodes = kube.list_nodes()
    assert nodes
    assert {n.minor_version for n in nodes} == {"1.30"}
    assert sorted(world.aws.list_nodegroups(CLUSTER)) == ["batch-1-30", "general-1-30"]
    assert kube.stats.lost_pods == ()
    assert kube.stats.pdb_violations == ()
    assert ready_workloads(world) == before
    autoscaler = kube.get_workload(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler")
    assert autoscaler.replicas == 1


def test_a_full_upgrade_moves_everything_and_loses_nothing(world: Sandbox, runner: Runner) -> None:
    before = ready_workloads(world)
    counting = CountingControlPlane(world.aws)

    result = runner.run(full_plan(), ports=runner.ports(control_plane=counting))

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert result.exit_code is ExitCode.OK
    assert all(s.outcome is StepOutcome.DONE for s in result.steps)
    _assert_upgraded(world, before)
    # Exactly one control-plane update per hop, one green per group and hop.
    assert len(world.aws.list_updates(CLUSTER)) == 2
    assert counting.calls["update_cluster_version"] == 2
    assert counting.calls["create_nodegroup"] == 4
    assert counting.calls["delete_nodegroup"] == 4
    # Green is blue's clone at the hop, tagged with what it replaces.
    green = world.aws.describe_nodegroup(CLUSTER, "general-1-30")
    assert green.tags == {"team": "platform", "eksup.io/replaces": "general-1-29"}
    assert green.labels == {"workload": "general"}
    assert green.instance_types == ("m5.xlarge",)
    batch = world.aws.describe_nodegroup(CLUSTER, "batch-1-30")
    assert [(t.key, t.value, t.effect) for t in batch.taints] == [
        ("dedicated", "batch", "NO_SCHEDULE")
    ]
    # The lock is gone, the journal mirrored, and each change recorded before it was made.
    kube = world.kube(CLUSTER)
    try:
        kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
        raise AssertionError("the lease is still there")
    except NotFoundError:
        pass
    mirrored = kube.get_config_map("kube-system", mirror_name(CLUSTER)).data[JOURNAL_KEY]
    assert mirrored == runner.journal_path.read_text()
    records = parse_records(mirrored, "mirror")
    actions = [r.detail for r in records if r.phase is Phase.ACTION]
    assert "eks:UpdateClusterVersion cluster=prod version=1.29" in actions
    assert sum("eks:DeleteNodegroup" in a for a in actions) == 4
    assert records[-1].phase is Phase.RUN_FINISHED
    assert records[-1].outcome == "succeeded"


def test_blue_nodes_are_tainted_and_cordoned_before_the_drain(
    world: Sandbox, runner: Runner
) -> None:
    kube = world.kube(CLUSTER)
    blue = {n.name for n in kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general")}

    runner.run(full_plan())

    evicted_from: set[str] = set()
    patched: set[str] = set()
    for action in kube.actions:
        if action.verb == "patch" and action.resource == "nodes" and action.name in blue:
            patched.add(action.name)
        if action.resource == "pods/eviction":
            # Every eviction off a blue node came after every blue node was prepared.
            evicted_from.add(action.name)
            if patched:
                assert patched == blue
    assert patched == blue
    assert evicted_from


def test_the_planner_plan_runs_with_its_fingerprint_checked(tmp_path: Path) -> None:
    with Sandbox() as world:
        build_world(world, network=True)
        before = ready_workloads(world)
        kube = world.kube(CLUSTER)
        snapshot = discover(CLUSTER, world.aws, world.aws, kube, world.clock, target_version="1.30")
        plan = make_plan(snapshot, "1.30", region="us-east-1")
        runner = Runner(world, tmp_path)

        # The planner's plan holds the runbook's approval gate: approved, then resumed.
        result = run_through_gates(runner, plan, skip_fingerprint=False)

        assert result.status is RunStatus.SUCCEEDED, result.summary()
        _assert_upgraded(world, before)
        assert len(world.aws.list_updates(CLUSTER)) == 2


def test_resuming_a_finished_run_changes_nothing(world: Sandbox, runner: Runner) -> None:
    plan = full_plan()
    runner.run(plan)
    counting = CountingControlPlane(world.aws)
    world.kube(CLUSTER).clear_actions()

    result = runner.run(plan, resume=True, ports=runner.ports(control_plane=counting))

    assert result.status is RunStatus.SUCCEEDED
    assert {s.outcome for s in result.steps} == {StepOutcome.SKIPPED}
    assert sum(counting.calls.values()) == 0
    writes = {a.resource for a in world.kube(CLUSTER).actions if a.verb not in ("get", "list")}
    assert writes <= {"leases", "configmaps"}  # the lock and the journal mirror only


def test_a_finished_step_found_done_by_fresh_state_is_a_no_op(
    world: Sandbox, runner: Runner
) -> None:
    """Without a journal (lost, or another tool did the work), each step still checks first."""
    plan = full_plan()
    runner.run(plan)
    runner.journal_path.unlink()
    world.kube(CLUSTER).apply_config_map(ConfigMap("kube-system", mirror_name(CLUSTER), {}))
    counting = CountingControlPlane(world.aws)

    result = runner.run(plan, ports=runner.ports(control_plane=counting))

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    outcomes = {s.step_id: s.outcome for s in result.steps}
    assert outcomes["control-plane-1.29"] is StepOutcome.ALREADY_DONE
    assert outcomes["nodegroup-general-1-29-1.30"] is StepOutcome.ALREADY_DONE
    assert sum(counting.calls.values()) == 0


def test_the_journal_is_json_lines_with_run_step_phase_and_time(
    world: Sandbox, runner: Runner
) -> None:
    runner.run(full_plan())
    lines = runner.journal_path.read_text().splitlines()
    first = json.loads(lines[0])
    assert first["phase"] == "run-started"
    assert set(first) == {"v", "run", "seq", "at", "phase", "step", "outcome", "detail", "data"}
    phases = [json.loads(line)["phase"] for line in lines]
    assert phases.count("started") == phases.count("finished") == 11
    memos = [json.loads(line)["data"] for line in lines if json.loads(line)["phase"] == "memo"]
    assert {"key": "autoscaler/kube-system/cluster-autoscaler/replicas", "value": "1"} in memos
