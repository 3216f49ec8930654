"""`eksup rollout run --dry-run` for A/B, shadow, rolling and recreate, through the CLI: the real
boto3 adapter on moto, the sandbox's FakeCluster, the sandbox's virtual clock. Each test reads
the ALB rules, the HTTPRoute or the Deployments before and after, and checks the FakeCluster
saw no write."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strategies.ports import RolloutPorts
from tests.strategies.compute_world import with_room
from tests.strategies.test_shadow import gateway_cluster
from tests.strategies.world import NAMESPACE, deployment
from upgrader.cli import app
from upgrader.core.kube import HTTPRoute, Lease, WorkloadKind
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.demo_world import DEMO_CLUSTER
from upgrader.sandbox.weighted_alb import ALARM, shop_alb
from upgrader.sandbox.world import Sandbox

WRITES = {"create", "update", "patch", "delete"}
GATEWAY_TRAFFIC = (
    "traffic: {provider: gateway-api, route: web, stable_backend: {service: web-stable, port: 80},"
    " candidate_backend: {service: web-candidate, port: 80}}\n"
)


@dataclass
class World:
    sandbox: Sandbox
    kube: FakeCluster
    spec: Path

    def run(self, *args: str) -> tuple[int, str, str]:
        aws = self.sandbox.aws
        result = CliRunner().invoke(
            app,
            ["rollout", "run", str(self.spec), *args],
            env={"COLUMNS": "200"},
            obj=RolloutPorts(aws, aws, aws, self.sandbox.clock, self.kube),
        )
        return result.exit_code, result.stdout, result.stderr

    def writes(self) -> list[tuple[str, str]]:
        return [(a.verb, a.resource) for a in self.kube.actions if a.verb in WRITES]

    def hold(self, holder: str) -> None:
        now = self.sandbox.clock.now()
        self.kube.create_lease(Lease(NAMESPACE, "eksup-rollout-web", holder, now, now, 120))
        self.kube.clear_actions()

    def route(self) -> HTTPRoute:
        return self.kube.get_http_route(NAMESPACE, "web")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as world:
        world.create_cluster(DEMO_CLUSTER, "1.30", world.create_network())
        yield world


# A/B on an ALB ------------------------------------------------------------------------------


@pytest.fixture
def alb_ab(sandbox: Sandbox, tmp_path: Path) -> tuple[World, str]:
    rule, stable, candidate = shop_alb(sandbox)
    spec = tmp_path / "ab.yaml"
    spec.write_text(
        f"app: {{name: web, namespace: {NAMESPACE}}}\n"
        "strategy: {kind: ab, header: Cookie, values: ['*variant=b*'], pause_seconds: 30}\n"
        f"traffic: {{provider: alb-elbv2, rule_arn: '{rule}',"
        f" stable_target_group: '{stable}', candidate_target_group: '{candidate}'}}\n"
        f"gates: [{{kind: cloudwatch-alarm, alarms: [{ALARM}], interval_seconds: 0.01}}]\n"
    )
    return World(sandbox, FakeCluster(sandbox.clock), spec), rule


def listener_rules(world: World, rule: str) -> list[dict[str, Any]]:
    elbv2: Any = world.sandbox.boto3_client("elbv2")
    listener = rule.replace(":listener-rule/", ":listener/").rsplit("/", 1)[0]
    rules: list[dict[str, Any]] = elbv2.describe_rules(ListenerArn=listener)["Rules"]
    return rules


def test_ab_on_an_alb_prints_the_rule_it_would_create_and_changes_nothing(
    alb_ab: tuple[World, str],
) -> None:
    world, rule = alb_ab
    before = listener_rules(world, rule)

    code, stdout, stderr = world.run("--dry-run")

    assert code == 0, stderr
    assert "shop/web: ab on alb-elbv2; route now: no A/B rule on the rule" in stdout
    assert "lock: free" in stdout
    assert "at +0s: turn the header route on: elbv2 create-rule --listener-arn" in stdout
    assert "if Cookie ~ *variant=b* forward" in stdout
    # The rule the run would create, with the priority it would take (the spec rule's is 10).
    (created,) = [line for line in stdout.splitlines() if "would call elbv2:CreateRule" in line]
    assert f"listener={rule.replace(':listener-rule/', ':listener/').rsplit('/', 1)[0]}" in created
    assert " priority=9 header=Cookie=*variant=b* forward=" in created
    assert "step 1 of 1 (at +0s): header route on, pause 30s, gates: cloudwatch-alarm" in stdout
    assert "the A/B route stays on (" in stdout  # gates passed: no call to end it
    assert "`eksup rollout abort SPEC` removes it" in stdout
    assert "way back: elbv2 delete-rule: the rule on " in stdout
    assert f"gate cloudwatch-alarm {ALARM} now: pass (all alarms OK)" in stdout
    assert "a run would end: web: ab succeeded (gates passed)" in stdout
    assert stdout.endswith("dry run: 1 changes it would make over 30s; nothing was changed\n")
    assert listener_rules(world, rule) == before
    assert world.writes() == []


def test_ab_dry_run_after_a_run_reads_the_route_on_and_would_write_nothing(
    alb_ab: tuple[World, str],
) -> None:
    world, rule = alb_ab
    code, _, stderr = world.run("--yes")
    assert code == 0, stderr
    before = listener_rules(world, rule)
    world.kube.clear_actions()

    code, stdout, stderr = world.run("--dry-run")

    assert code == 0, stderr
    assert "route now: A/B rule" in stdout
    assert "(priority 9): Cookie ~ *variant=b*" in stdout
    # It reads on already: no call, only the read-back.
    assert "turn the header route on" not in stdout
    assert "would call" not in stdout
    assert "dry run: 0 changes it would make" in stdout
    assert listener_rules(world, rule) == before
    assert world.writes() == []


def test_ab_dry_run_under_a_held_lock_names_the_holder_and_exits_2(
    alb_ab: tuple[World, str],
) -> None:
    world, rule = alb_ab
    world.hold("bob@ci-runner pid 7")
    before = listener_rules(world, rule)

    code, stdout, _ = world.run("--dry-run")

    assert code == 2
    assert "lock: rollout of shop/web is locked" in stdout
    assert "bob@ci-runner pid 7" in stdout
    assert "a run would be refused: rollout of shop/web is locked" in stdout
    assert "turn the header route on: elbv2 create-rule" in stdout
    assert "would call elbv2:CreateRule" in stdout
    assert listener_rules(world, rule) == before
    assert world.writes() == []


def test_ab_dry_run_says_a_run_would_refuse_a_priority_below_the_spec_rule_and_exits_2(
    alb_ab: tuple[World, str],
) -> None:
    world, rule = alb_ab
    world.spec.write_text(world.spec.read_text().replace("pause_seconds: 30", "priority: 10"))
    before = listener_rules(world, rule)

    code, stdout, _ = world.run("--dry-run")

    assert code == 2
    assert "a run would refuse: strategy.priority 10 must be below the spec rule's 10" in stdout
    assert listener_rules(world, rule) == before
    assert world.writes() == []


def test_ab_dry_run_with_a_firing_alarm_exits_2(alb_ab: tuple[World, str]) -> None:
    world, rule = alb_ab
    world.sandbox.boto3_client("cloudwatch").set_alarm_state(
        AlarmName=ALARM, StateValue="ALARM", StateReason="5xx"
    )
    before = listener_rules(world, rule)

    code, stdout, _ = world.run("--dry-run")

    # The run would turn the route on, read the gate and take the route off at once: the dry
    # run must not say yes to that (issue 12, item 7; `execute --dry-run` exits 2 likewise).
    assert code == 2
    assert f"gate cloudwatch-alarm {ALARM} now: fail" in stdout
    assert f"a run would roll back: gate cloudwatch-alarm {ALARM} fails now" in stdout
    assert listener_rules(world, rule) == before
    assert world.writes() == []


# A/B and shadow on a Gateway API HTTPRoute ----------------------------------------------------


def _gateway(sandbox: Sandbox, tmp_path: Path, strategy: str) -> World:
    spec = tmp_path / "rollout.yaml"
    spec.write_text(
        f"app: {{name: web, namespace: {NAMESPACE}}}\nstrategy: {strategy}\n{GATEWAY_TRAFFIC}"
    )
    kube = gateway_cluster(sandbox.clock)
    kube.clear_actions()
    return World(sandbox, kube, spec)


def test_ab_on_a_gateway_prints_the_httproute_change_and_changes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    world = _gateway(
        sandbox, tmp_path, "{kind: ab, header: x-variant, values: [b], pause_seconds: 60}"
    )
    before = world.route()

    code, stdout, stderr = world.run("--dry-run")

    assert code == 0, stderr
    assert "shop/web: ab on gateway-api; route now: no A/B rule on HTTPRoute shop/web" in stdout
    assert (
        "at +0s: turn the header route on: kubectl replace HTTPRoute shop/web: a rule with the "
        "stable rules' matches and x-variant ~ b, forwarding to web-candidate:80" in stdout
    )
    assert "    would call kubernetes:replace-httproute-rules httproute=shop/web rules=" in stdout
    assert "the A/B route stays on" in stdout
    assert "way back: kubectl replace HTTPRoute shop/web: remove the rule forwarding" in stdout
    assert "step 1 of 1 (at +0s): header route on, pause 60s, gates: none" in stdout
    assert world.route() == before
    assert world.writes() == []


def test_shadow_prints_the_mirror_and_its_removal_and_changes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    world = _gateway(sandbox, tmp_path, "{kind: shadow, mirror_percent: 20, pause_seconds: 120}")
    before = world.route()

    code, stdout, stderr = world.run("--dry-run")

    assert code == 0, stderr
    assert "shop/web: shadow on gateway-api; route now: no mirror on HTTPRoute shop/web" in stdout
    assert (
        "at +0s: turn the mirror route on: kubectl replace HTTPRoute shop/web: RequestMirror 20% "
        "to web-candidate:80 on the rules forwarding to web-stable:80" in stdout
    )
    assert "mirror route on, pause 120s" in stdout
    # The mirror ends whatever the outcome: after the bake, then read back gone.
    assert (
        "at +120s: turn the mirror route off: kubectl replace HTTPRoute shop/web: remove the "
        "RequestMirror filters to web-candidate:80" in stdout
    )
    calls = [line for line in stdout.splitlines() if line.startswith("    would call ")]
    assert (
        calls
        == ["    would call kubernetes:replace-httproute-rules httproute=shop/web rules=2"] * 2
    )
    assert "route stays" not in stdout
    assert world.route() == before
    assert world.writes() == []


def test_shadow_dry_run_under_a_held_lock_exits_2(sandbox: Sandbox, tmp_path: Path) -> None:
    world = _gateway(sandbox, tmp_path, "{kind: shadow, mirror_percent: 20}")
    world.hold("carol@laptop pid 9")
    before = world.route()

    code, stdout, _ = world.run("--dry-run")

    assert code == 2
    assert "carol@laptop pid 9" in stdout
    assert world.route() == before
    assert world.writes() == []


# rolling and recreate ---------------------------------------------------------------------


def _compute(sandbox: Sandbox, tmp_path: Path, strategy: str, candidate: int = 0) -> World:
    kube = FakeCluster(sandbox.clock)
    with_room(kube)
    kube.add_workload(deployment("web-stable", 3))
    kube.add_workload(deployment("web-candidate", candidate))
    sandbox.clock.sleep(60)  # every pod Ready
    kube.clear_actions()
    spec = tmp_path / "rollout.yaml"
    spec.write_text(
        f"app: {{name: web, namespace: {NAMESPACE}, stable: {{deployment: web-stable}},"
        " candidate: {deployment: web-candidate}}\n"
        f"strategy: {strategy}\n"
        "gates: [{kind: pod-readiness, interval_seconds: 1}]\n"
    )
    return World(sandbox, kube, spec)


def _replicas(world: World) -> tuple[int | None, int | None]:
    get = world.kube.get_workload
    return (
        get(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-stable").replicas,
        get(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-candidate").replicas,
    )


def test_rolling_prints_each_batch_within_the_bounds_and_scales_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    world = _compute(
        sandbox, tmp_path, "{kind: rolling, max_surge: 1, max_unavailable: 0, pause_seconds: 30}"
    )

    code, stdout, stderr = world.run("--dry-run")

    assert code == 0, stderr
    assert (
        "shop/web: rolling; stable Deployment shop/web-stable: 3 replicas (3 Ready); "
        "candidate Deployment shop/web-candidate: 0 replicas (0 Ready)" in stdout
    )
    assert "bounds: at most 4 pods desired (max_surge 1 -> 1), at least 3 Ready" in stdout
    # The runner's own batches for 3 replicas, surge 1, unavailable 0, as it runs them.
    assert "batch 1 of 4 (at +0s): " in stdout
    assert (
        "  at +0s: batch 1: scale Deployment shop/web-candidate 0 -> 1\n"
        "    would call kubernetes:scale workload=Deployment/shop/web-candidate replicas=1\n"
        "batch 2 of 4 (at +30s): " in stdout
    )
    assert (
        "stable to 2, candidate to 2, wait until 2 candidate pods Ready, pause 30s, "
        "gates: pod-readiness shop/web-candidate" in stdout
    )
    assert (
        "  at +30s: batch 2: scale Deployment shop/web-stable 3 -> 2\n"
        "    would call kubernetes:scale workload=Deployment/shop/web-stable replicas=2\n"
        "  at +30s: batch 2: scale Deployment shop/web-candidate 1 -> 2\n"
        "    would call kubernetes:scale workload=Deployment/shop/web-candidate replicas=2\n"
        in stdout
    )
    assert "  at +90s: batch 4: scale Deployment shop/web-stable 1 -> 0\n" in stdout
    assert "batch 5" not in stdout
    # Before batch 1 the candidate has no pods: its readiness gate says nothing yet.
    assert (
        "gate pod-readiness shop/web-candidate now: fail (no pods (no_data: fail)); not "
        "counted: the candidate has no pods yet" in stdout
    )
    assert "a run would end: web: succeeded after 4/4 steps, stable 0 / candidate 3" in stdout
    assert stdout.endswith("dry run: 6 changes it would make over 120s; nothing was changed\n")
    assert _replicas(world) == (3, 0)
    assert world.writes() == []


def test_recreate_prints_its_two_moves_and_scales_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    world = _compute(sandbox, tmp_path, "{kind: recreate}")

    code, stdout, stderr = world.run("--dry-run")

    assert code == 0, stderr
    assert (
        "batch 1 of 2 (at +0s): stable to 0, wait until the stable pods are gone (no pod "
        "serves from here)\n"
        "  at +0s: batch 1: scale Deployment shop/web-stable 3 -> 0\n"
        "    would call kubernetes:scale workload=Deployment/shop/web-stable replicas=0\n"
        "batch 2 of 2 (at +0s): candidate to 3, wait until 3 candidate pods Ready, pause 0s, "
        "gates: pod-readiness shop/web-candidate\n"
        "  at +0s: batch 2: scale Deployment shop/web-candidate 0 -> 3\n"
        "    would call kubernetes:scale workload=Deployment/shop/web-candidate replicas=3\n"
        in stdout
    )
    assert "batch 3" not in stdout
    assert "bounds" not in stdout
    assert "a dry run cannot tell how long that is" in stdout  # the downtime
    assert _replicas(world) == (3, 0)
    assert world.writes() == []


def test_rolling_dry_run_with_a_failing_gate_exits_2(sandbox: Sandbox, tmp_path: Path) -> None:
    world = _compute(sandbox, tmp_path, "{kind: rolling}")
    world.spec.write_text(
        world.spec.read_text().replace(
            "gates: [", "gates: [{kind: cloudwatch-alarm, alarms: [no-such-alarm]}, "
        )
    )

    code, stdout, _ = world.run("--dry-run")

    assert code == 2
    assert (
        "a run would roll back: gate cloudwatch-alarm no-such-alarm fails now "
        "(alarm not found: no-such-alarm)" in stdout
    )
    # The candidate's readiness gate reads "no pods" before batch 1 creates them: not a reason.
    assert "gate pod-readiness shop/web-candidate fails now" not in stdout
    assert _replicas(world) == (3, 0)
    assert world.writes() == []


def test_rolling_dry_run_says_a_run_would_refuse_a_candidate_already_up(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    world = _compute(sandbox, tmp_path, "{kind: rolling}", candidate=2)

    code, stdout, _ = world.run("--dry-run")

    assert code == 2
    assert (
        "a run would refuse: candidate Deployment shop/web-candidate already has 2 replicas"
        in stdout
    )
    assert "batch 1:" not in stdout
    assert _replicas(world) == (3, 2)
    assert world.writes() == []
    # The real run refuses for the same reason, with nothing changed.
    code, _, stderr = world.run("--yes")
    assert code == 1
    assert "already has 2 replicas" in stderr
    assert _replicas(world) == (3, 2)


def test_recreate_dry_run_under_a_held_lock_exits_2(sandbox: Sandbox, tmp_path: Path) -> None:
    world = _compute(sandbox, tmp_path, "{kind: recreate}")
    world.hold("dave@ci pid 3")

    code, stdout, _ = world.run("--dry-run")

    assert code == 2
    assert "dave@ci pid 3" in stdout
    assert "a run would be refused: rollout of shop/web is locked" in stdout
    assert "would call kubernetes:scale workload=Deployment/shop/web-candidate replicas=3" in stdout
    assert _replicas(world) == (3, 0)
    assert world.writes() == []
