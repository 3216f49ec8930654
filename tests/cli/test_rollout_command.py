"""`eksup rollout plan|run|status|promote|abort|rollback` through the CLI: the real boto3 adapter
on moto, the sandbox's FakeCluster for the state ConfigMap, the Lease and the Deployments, all
on the sandbox's virtual clock (handed to the commands through the context object)."""

from __future__ import annotations

import itertools
import json
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strategies.ports import RolloutPorts
from strategies.run.journal import Actor, RolloutJournal, weights_text
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.cli import app
from upgrader.core.aws import ForwardRule, TargetHealth
from upgrader.core.kube import LabelSelector, Lease, PodTemplate, Workload, WorkloadKind
from upgrader.sandbox.aws_world import target_group, weighted_rule
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.demo_world import DEMO_CLUSTER
from upgrader.sandbox.weighted_alb import ALARM, shop_alb
from upgrader.sandbox.world import Sandbox

NAMESPACE = "shop"


class RecordingLoadBalancers:
    """ELBv2 that records every weight write, and stops the process (Ctrl-C) on the write of
    a given candidate weight."""

    def __init__(self, inner: Boto3Aws, interrupt_at_candidate: int | None = None) -> None:
        self.inner = inner
        self.interrupt_at = interrupt_at_candidate
        self.writes: list[dict[str, int]] = []

    def describe_forward_rules(self, listener_arn: str) -> list[ForwardRule]:
        return self.inner.describe_forward_rules(listener_arn)

    def set_forward_weights(self, rule_arn: str, weights: Mapping[str, int]) -> ForwardRule:
        if self.interrupt_at is not None and self.interrupt_at in weights.values():
            raise KeyboardInterrupt
        self.writes.append(dict(weights))
        return self.inner.set_forward_weights(rule_arn, weights)

    def target_health(self, target_group_arn: str) -> list[TargetHealth]:
        return self.inner.target_health(target_group_arn)


@dataclass
class World:
    sandbox: Sandbox
    kube: FakeCluster
    spec: Path
    rule: str
    stable: str
    candidate: str

    def ports(self, lbs: RecordingLoadBalancers | None = None) -> RolloutPorts:
        aws = self.sandbox.aws
        return RolloutPorts(lbs or aws, aws, aws, self.sandbox.clock, self.kube)

    def run(self, *args: str, ports: RolloutPorts | None = None) -> tuple[int, str, str]:
        result = CliRunner().invoke(
            app,
            ["rollout", *args, str(self.spec)],
            env={"COLUMNS": "200"},
            obj=ports or self.ports(),
        )
        return result.exit_code, result.stdout, result.stderr

    def weights(self) -> tuple[int, int]:
        elbv2 = self.sandbox.boto3_client("elbv2")
        (found,) = elbv2.describe_rules(RuleArns=[self.rule])["Rules"]
        groups = found["Actions"][0]["ForwardConfig"]["TargetGroups"]
        by_arn = {g["TargetGroupArn"]: g["Weight"] for g in groups}
        return by_arn[self.stable], by_arn[self.candidate]

    def replicas(self, name: str) -> tuple[int | None, int]:
        workload = self.kube.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, name)
        return workload.replicas, workload.ready_replicas

    def state(self) -> dict[str, str]:
        """The rollout as its journal tells it, in the words of the old state ConfigMap."""
        journal = RolloutJournal(self.kube, self.sandbox.clock, NAMESPACE, "web", run_id="q-t")
        found = journal.read()
        if found is None:
            return {}
        out = {"status": found.phase.value, "step": str(found.step), "reason": found.reason}
        if found.weights is not None:
            out["weights"] = weights_text(found.weights)
        if found.stable_replicas is not None:
            out["stable-replicas"] = str(found.stable_replicas)
        if found.request is not None:
            out["request"] = found.request.value
        out.update({f"{action}-by": actor.who for action, actor in found.actions.items()})
        return out

    def has_state(self) -> bool:
        return any(a.resource == "configmaps" and a.verb != "get" for a in self.kube.actions)


def _deployment(name: str) -> Workload:
    labels = {"app": name}
    return Workload(
        WorkloadKind.DEPLOYMENT,
        NAMESPACE,
        name,
        LabelSelector(labels),
        PodTemplate(labels=labels),
        replicas=3,
    )


@dataclass
class Shared:
    """One moto world per module (starting it costs seconds); each test gets its own listener
    rule, target groups and FakeCluster on it."""

    sandbox: Sandbox
    lb: str
    vpc: str
    serial: Iterator[int]


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    with Sandbox() as sandbox:
        sandbox.create_cluster(DEMO_CLUSTER, "1.30", sandbox.create_network())
        shop_alb(sandbox)  # the load balancer and the alarm
        elbv2 = sandbox.boto3_client("elbv2")
        lb = elbv2.describe_load_balancers(Names=["shop"])["LoadBalancers"][0]
        yield Shared(sandbox, lb["LoadBalancerArn"], lb["VpcId"], itertools.count(1))


def _rule(shared: Shared) -> tuple[str, str, str]:
    elbv2 = shared.sandbox.boto3_client("elbv2")
    serial = next(shared.serial)
    stable, candidate = (
        target_group(elbv2, shared.vpc, f"{side}-{serial}", ()) for side in ("stable", "candidate")
    )
    split = weighted_rule(elbv2, shared.lb, stable, candidate, port=8000 + serial)
    return split.rule, stable, candidate


def _world(shared: Shared, tmp_path: Path, strategy: str) -> World:
    sandbox = shared.sandbox
    rule, stable, candidate = _rule(shared)
    kube = FakeCluster(sandbox.clock)
    kube.scale_node_group("apps", 2)
    for name in ("web-stable", "web-candidate"):
        kube.add_workload(_deployment(name))
    sandbox.settle(120)
    spec = tmp_path / "rollout.yaml"
    spec.write_text(
        f"app: {{name: web, namespace: {NAMESPACE}, stable: {{deployment: web-stable}},"
        " candidate: {deployment: web-candidate}}\n"
        f"strategy: {strategy}\n"
        f"traffic: {{provider: alb-elbv2, rule_arn: '{rule}',"
        f" stable_target_group: '{stable}', candidate_target_group: '{candidate}'}}\n"
        f"gates: [{{kind: cloudwatch-alarm, alarms: [{ALARM}], interval_seconds: 10}}]\n"
    )
    sandbox.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="OK", StateReason="quiet"
    )
    kube.clear_actions()
    return World(sandbox, kube, spec, rule, stable, candidate)


@pytest.fixture
def canary(shared: Shared, tmp_path: Path) -> World:
    return _world(
        shared,
        tmp_path,
        "{kind: canary, steps: [10, 50, 100], pause_seconds: 60, scale_down_delay_seconds: 300}",
    )


@pytest.fixture
def blue_green(shared: Shared, tmp_path: Path) -> World:
    return _world(
        shared, tmp_path, "{kind: blue-green, pause_seconds: 60, scale_down_delay_seconds: 300}"
    )


# ------------------------------------------------------------------------- plan and run


def test_plan_shows_the_steps(canary: World) -> None:
    code, stdout, _ = canary.run("plan")
    assert code == 0
    assert "alb-elbv2" in stdout
    assert "cloudwatch-alarm" in stdout


def test_run_moves_all_traffic_to_the_candidate_and_records_it(canary: World) -> None:
    code, stdout, stderr = canary.run("run", "--yes")
    assert code == 0, stderr
    assert "succeeded" in stdout
    assert canary.weights() == (0, 100)
    state = canary.state()
    assert (state["status"], state["step"], state["weights"]) == ("succeeded", "3", "0/100")
    assert state["stable-replicas"] == "3"  # recorded before stable went to 0
    assert canary.replicas("web-stable")[0] == 0
    assert "started-by" in state
    # Every change was logged before it was made.
    assert "set weights stable 90 / candidate 10: elbv2 modify-rule" in stderr
    assert "scale stable Deployment shop/web-stable from 3 to 0" in stderr
    # The lease is released at the end.
    assert [a.verb for a in canary.kube.actions if a.resource == "leases"][-1] == "delete"


def test_a_firing_alarm_rolls_back_and_exits_1(canary: World) -> None:
    canary.sandbox.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="ALARM", StateReason="5xx"
    )
    code, stdout, _ = canary.run("run", "--yes")
    assert code == 1
    assert "rolled-back" in stdout
    assert ALARM in stdout
    assert canary.weights() == (100, 0)
    assert canary.state()["status"] == "rolled-back"


def test_without_yes_and_no_terminal_nothing_changes(canary: World) -> None:
    code, _, stderr = canary.run("run")
    assert code == 3
    assert "--yes" in stderr
    assert "nothing was changed" in stderr
    assert canary.weights() == (100, 0)
    assert not canary.has_state()


def test_dry_run_prints_each_change_and_changes_nothing(canary: World) -> None:
    before = canary.weights()
    code, stdout, stderr = canary.run("run", "--dry-run")
    assert code == 0, stderr
    assert canary.weights() == before == (100, 0)
    assert not canary.has_state()
    assert not [a for a in canary.kube.actions if a.verb not in ("get", "list")]
    for stable, candidate in ((90, 10), (50, 50), (0, 100)):
        assert (
            f"elbv2 modify-rule --rule-arn {canary.rule}: forward "
            f"{canary.stable}={stable} {canary.candidate}={candidate}"
        ) in stdout
    assert f"gate cloudwatch-alarm {ALARM} now: pass" in stdout
    assert "scale stable Deployment shop/web-stable from 3 to 0" in stdout


def test_dry_run_with_a_failing_gate_exits_2_and_changes_nothing(canary: World) -> None:
    canary.sandbox.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="ALARM", StateReason="5xx"
    )
    code, stdout, _ = canary.run("run", "--dry-run")
    # The real run moves 10 % and rolls back at once (test_a_firing_alarm_rolls_back...).
    assert code == 2
    assert f"a run would roll back: gate cloudwatch-alarm {ALARM} fails now" in stdout
    assert canary.weights() == (100, 0)
    assert not canary.has_state()
    assert not [a for a in canary.kube.actions if a.verb not in ("get", "list")]


# ------------------------------------------------------------------------- the lock


def _hold(kube: FakeCluster, holder: str, renewed_at: float) -> None:
    kube.create_lease(Lease(NAMESPACE, "eksup-rollout-web", holder, renewed_at, renewed_at, 120))


def test_a_second_run_of_the_app_is_refused_naming_the_holder(canary: World) -> None:
    _hold(canary.kube, "bob@ci-runner pid 7", canary.sandbox.clock.now())
    code, _, stderr = canary.run("run", "--yes")
    assert code == 3
    assert "bob@ci-runner pid 7" in stderr
    assert "rollout of shop/web is locked" in stderr
    assert canary.weights() == (100, 0)


def test_a_stale_lock_needs_take_over(canary: World) -> None:
    _hold(canary.kube, "bob@laptop pid 9", canary.sandbox.clock.now() - 3600)
    code, _, stderr = canary.run("run", "--yes")
    assert code == 3
    assert "--take-over-lock" in stderr
    code, _, stderr = canary.run("run", "--yes", "--take-over-lock")
    assert code == 0, stderr
    assert canary.weights() == (0, 100)


# ------------------------------------------------------------------------- kill and resume


def test_an_interrupted_run_resumes_after_its_last_completed_step(canary: World) -> None:
    dying = RecordingLoadBalancers(canary.sandbox.aws, interrupt_at_candidate=50)
    code, _, stderr = canary.run("run", "--yes", ports=canary.ports(dying))
    assert code == 4
    assert "interrupted" in stderr
    assert canary.weights() == (90, 10)
    state = canary.state()
    assert (state["status"], state["step"], state["weights"]) == ("paused", "1", "90/10")
    assert canary.run("status")[1].startswith("shop/web: paused, step 1 of 3")

    recording = RecordingLoadBalancers(canary.sandbox.aws)
    code, stdout, stderr = canary.run("run", "--yes", ports=canary.ports(recording))

    assert code == 0, stderr
    assert "resumed after step 1" in stdout
    # The first weights written on resume are step 2's, never step 1's again.
    assert [(w[canary.stable], w[canary.candidate]) for w in recording.writes] == [
        (50, 50),
        (0, 100),
    ]
    assert canary.state()["status"] == "succeeded"


# ------------------------------------------------------------------------- status


def test_status_json_after_a_run(canary: World) -> None:
    assert canary.run("run", "--yes")[0] == 0
    code, stdout, _ = canary.run("status", "--format", "json")
    assert code == 0
    document = json.loads(stdout)
    assert document["state"]["status"] == "succeeded"
    assert document["state"]["stable_replicas"] == 3
    assert document["live_weights"] == {"stable": 0, "candidate": 100}
    assert document["lock"] is None


def _running(world: World) -> RolloutJournal:
    clock = world.sandbox.clock
    journal = RolloutJournal(world.kube, clock, NAMESPACE, "web", run_id="r-alice", who="alice")
    journal.start(3, Actor("alice@laptop pid 1", world.sandbox.clock.now()))
    journal.record(1, "running", None, world.sandbox.clock.now())
    return journal


@pytest.mark.parametrize(("outcome", "code"), [("succeeded", 0), ("rolled-back", 1)])
def test_status_watch_waits_for_the_end_in_virtual_time(
    canary: World, outcome: str, code: int
) -> None:
    journal = _running(canary)
    clock = canary.sandbox.clock
    start = clock.now()
    clock.call_later(300, lambda: journal.record(3, outcome, None, clock.now()))

    exit_code, stdout, _ = canary.run("status", "--watch", "--timeout", "900")

    assert exit_code == code
    assert "running, step 1 of 3" in stdout
    assert f"{outcome}, step 3 of 3" in stdout
    assert clock.now() - start == pytest.approx(300)


def test_status_watch_json_is_one_document_of_the_final_state(canary: World) -> None:
    journal = _running(canary)
    clock = canary.sandbox.clock
    clock.call_later(300, lambda: journal.record(3, "failed", None, clock.now(), reason="x"))

    code, stdout, _ = canary.run("status", "--watch", "--timeout", "900", "--format", "json")

    assert code == 1
    document = json.loads(stdout)
    assert (document["state"]["status"], document["state"]["reason"]) == ("failed", "x")
    assert document["state"]["actions"]["started"]["by"] == "alice@laptop pid 1"


def test_status_watch_exits_4_at_the_timeout(canary: World) -> None:
    _running(canary)
    clock = canary.sandbox.clock
    start = clock.now()
    code, _, stderr = canary.run("status", "--watch", "--timeout", "45")
    assert code == 4
    assert "still running after 45s" in stderr
    assert clock.now() - start == pytest.approx(45)


def test_status_watch_shows_the_state_at_least_every_30_seconds(canary: World) -> None:
    _running(canary)
    code, stdout, _ = canary.run("status", "--watch", "--timeout", "100")
    assert code == 4
    # Nothing changed for 100 s, yet the log says so at 0, 30, 60 and 90 s: never silent.
    assert stdout.count("running, step 1 of 3") >= 4


def test_status_with_nothing_recorded(canary: World) -> None:
    code, stdout, _ = canary.run("status")
    assert code == 0
    assert "no rollout recorded" in stdout
    assert "live weights: stable 100 / candidate 0" in stdout


# ------------------------------------------------------------------------- promote


def test_promote_skips_the_remaining_steps(canary: World) -> None:
    dying = RecordingLoadBalancers(canary.sandbox.aws, interrupt_at_candidate=50)
    assert canary.run("run", "--yes", ports=canary.ports(dying))[0] == 4
    recording = RecordingLoadBalancers(canary.sandbox.aws)

    code, stdout, stderr = canary.run("promote", "--yes", ports=canary.ports(recording))

    assert code == 0, stderr
    assert "promoted by" in stdout
    assert [(w[canary.stable], w[canary.candidate]) for w in recording.writes] == [(0, 100)]
    assert canary.weights() == (0, 100)
    state = canary.state()
    assert state["status"] == "succeeded"
    assert "promoted-by" in state
    assert canary.replicas("web-stable")[0] == 0  # retired after its delay


def test_promote_without_a_rollout_in_progress_is_one_line(canary: World) -> None:
    code, _, stderr = canary.run("promote", "--yes")
    assert code == 1
    assert "no rollout of shop/web in progress to promote" in stderr
    assert stderr.strip().count("\n") == 0
    assert canary.weights() == (100, 0)


def test_promote_while_a_run_holds_the_lock_is_handed_to_it(canary: World) -> None:
    _running(canary)
    _hold(canary.kube, "alice@laptop pid 1", canary.sandbox.clock.now())
    code, stdout, _ = canary.run("promote", "--yes")
    assert code == 0
    assert "promote requested" in stdout
    assert canary.state()["request"] == "promote"
    assert canary.weights() == (100, 0)  # the run moves it, not us


# ------------------------------------------------------------------------- abort


def test_abort_sends_everything_back_to_stable_and_records_who(canary: World) -> None:
    dying = RecordingLoadBalancers(canary.sandbox.aws, interrupt_at_candidate=50)
    assert canary.run("run", "--yes", ports=canary.ports(dying))[0] == 4
    code, stdout, _ = canary.run("abort")  # no --yes: the safety action never asks
    assert code == 0
    assert "all traffic on stable" in stdout
    assert canary.weights() == (100, 0)
    state = canary.state()
    assert state["status"] == "rolled-back"
    assert "aborted-by" in state


def test_abort_while_a_live_run_holds_the_lock_moves_traffic_and_hands_it_the_rest(
    canary: World,
) -> None:
    journal = _running(canary)
    clock = canary.sandbox.clock
    canary.sandbox.aws.set_forward_weights(canary.rule, {canary.stable: 90, canary.candidate: 10})
    _hold(canary.kube, "alice@laptop pid 1", clock.now())
    # The live run sees the request at its next check (within 10 s) and takes it.
    clock.call_later(5, lambda: [journal.answer(r, "aborted") for r in journal.pending()])
    code, stdout, _ = canary.run("abort")
    assert code == 0, stdout
    assert canary.weights() == (100, 0)
    assert "alice@laptop pid 1 took the abort" in stdout
    assert canary.state()["status"] == "running"  # the live run records its own end


def test_abort_finishes_itself_when_the_run_holding_the_app_stops_renewing(
    canary: World,
) -> None:
    # A run killed on another machine: its lease is fresh, then never renewed again.
    _running(canary)
    clock = canary.sandbox.clock
    canary.sandbox.aws.set_forward_weights(canary.rule, {canary.stable: 90, canary.candidate: 10})
    _hold(canary.kube, "alice@laptop pid 1", clock.now())
    start = clock.now()
    code, _stdout, stderr = canary.run("abort")
    assert code == 0, stderr
    assert canary.weights() == (100, 0)
    assert "did not take the abort and is gone" in stderr
    state = canary.state()
    assert state["status"] == "rolled-back"
    assert "request" not in state
    assert canary.replicas("web-candidate")[0] == 0  # what the dead run was to do
    assert clock.now() - start < 120 + 60 + 60  # its lease, two checks, the drain delay
    code, _, _ = canary.run("status")
    assert code == 1  # rolled back: the release did not happen


def test_abort_finishes_at_once_when_the_holder_process_is_gone_on_this_machine(
    canary: World,
) -> None:
    _running(canary)
    clock = canary.sandbox.clock
    canary.sandbox.aws.set_forward_weights(canary.rule, {canary.stable: 50, canary.candidate: 50})
    dead = f"me@{socket.gethostname()} pid {_dead_pid()}"
    _hold(canary.kube, dead, clock.now())
    code, stdout, stderr = canary.run("abort")
    assert code == 0, stderr
    assert f"the run of {dead} is gone" in stderr
    assert "asked" not in stdout
    assert canary.weights() == (100, 0)
    assert canary.state()["status"] == "rolled-back"
    assert canary.replicas("web-candidate")[0] == 0


def test_promote_finishes_the_work_of_a_dead_run(canary: World) -> None:
    _running(canary)
    dead = f"me@{socket.gethostname()} pid {_dead_pid()}"
    _hold(canary.kube, dead, canary.sandbox.clock.now())
    code, stdout, stderr = canary.run("promote", "--yes")
    assert code == 0, stderr
    assert "promote requested" not in stdout
    assert canary.weights() == (0, 100)
    assert canary.state()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("status", "code"),
    [("running", 4), ("paused", 4), ("succeeded", 0), ("rolled-back", 1), ("failed", 1)],
)
def test_status_exits_non_zero_while_a_rollout_is_unfinished_or_failed(
    canary: World, status: str, code: int
) -> None:
    journal = _running(canary)
    journal.record(1, status, None, canary.sandbox.clock.now())
    exit_code, stdout, stderr = canary.run("status")
    assert exit_code == code, stdout + stderr


def _dead_pid() -> int:
    """A pid no process has: the highest possible one, checked."""
    pid = 4_194_303
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_abort_refuses_to_send_traffic_to_a_scaled_down_stable(canary: World) -> None:
    assert canary.run("run", "--yes")[0] == 0
    code, _, stderr = canary.run("abort")
    assert code == 3
    assert "rollout rollback" in stderr
    assert canary.weights() == (0, 100)


# ------------------------------------------------------------------------- rollback


def test_blue_green_rollback_restores_the_previous_target_in_one_call(
    blue_green: World,
) -> None:
    world = blue_green
    assert world.run("run", "--yes")[0] == 0
    assert world.weights() == (0, 100)
    assert world.replicas("web-stable") == (0, 0)
    recording = RecordingLoadBalancers(world.sandbox.aws)

    code, stdout, stderr = world.run("rollback", "--yes", ports=world.ports(recording))

    assert code == 0, stderr
    assert "rolled-back" in stdout
    assert world.replicas("web-stable") == (3, 3)  # back to its recorded count, Ready
    assert recording.writes == [{world.stable: 100, world.candidate: 0}]  # one call
    assert world.weights() == (100, 0)
    state = world.state()
    assert state["status"] == "rolled-back"
    assert "rolled-back-by" in state
    assert world.replicas("web-candidate")[0] == 0  # retired after the drain delay

    code, _, stderr = world.run("rollback", "--yes")
    assert code == 1
    assert "nothing to roll back" in stderr


def test_rollback_before_any_rollout_says_so(blue_green: World) -> None:
    code, _, stderr = blue_green.run("rollback", "--yes")
    assert code == 1
    assert "nothing to roll back: no rollout of shop/web is recorded" in stderr
    assert blue_green.weights() == (100, 0)


def test_rollback_without_yes_changes_nothing(blue_green: World) -> None:
    assert blue_green.run("run", "--yes")[0] == 0
    code, _, stderr = blue_green.run("rollback")
    assert code == 3
    assert blue_green.weights() == (0, 100)
    assert blue_green.replicas("web-stable") == (0, 0)
    assert "nothing was changed" in stderr


def test_a_bad_spec_names_file_line_and_field(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("app: {name: web}\nstrategy: {kind: canary, steps: [5, 100], pace: 3}\n")
    result = CliRunner().invoke(app, ["rollout", "plan", str(spec)])
    assert result.exit_code == 1
    assert f"{spec}:2:" in result.stderr
    assert "pace" in result.stderr
