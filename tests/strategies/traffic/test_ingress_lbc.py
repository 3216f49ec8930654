"""alb-ingress end to end: the annotation on the FakeCluster Ingress, a fake AWS Load Balancer
Controller copying it onto the moto ALB rule, and the runner reading ELBv2 back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest

from strategies.gates.kinds import GateResult, Verdict, gates_for
from strategies.loop import StepLoop
from strategies.run.report import RolloutStatus
from strategies.spec import RolloutSpec
from strategies.steps import Weights
from strategies.traffic.factory import provider_for, refusal
from strategies.traffic.ingress_lbc import AlbIngressProvider, pending
from strategies.traffic.router import ServiceRouter
from tests.strategies.k8s_world import (
    ACTION,
    ANNOTATION,
    INGRESS,
    IngressWorld,
    forward,
    ingress_spec,
    ingress_world,
)
from tests.strategies.world import NAMESPACE, Alb, Shared, put_alarm, replicas, set_alarm
from upgrader.core.errors import UserError
from upgrader.core.kube import Ingress, IngressBackend
from upgrader.execute.dry_run import DryRunCluster, Recorder
from upgrader.execute.reporter import Reporter
from upgrader.sandbox.clock import VirtualClock

__all__ = ["ingress_world"]


@dataclass
class Probe:
    """A gate that passes, after noting what ELBv2 and the Ingress hold at the end of each
    step's pause: the traffic state read back from the mocked services, step by step."""

    world: IngressWorld
    shared: Shared
    seen: list[tuple[dict[str, int], dict[str, int]]] = field(default_factory=list)
    name: str = "probe"
    failure_limit: int = 1
    interval_seconds: float = 30.0

    def evaluate(self) -> GateResult:
        self.seen.append((self.world.alb_weights(self.shared), self.world.annotated_weights()))
        return GateResult(self.name, Verdict.PASS)


def _runner(
    spec: RolloutSpec, world: IngressWorld, shared: Shared, clock: VirtualClock, probe: Probe
) -> StepLoop:
    provider = provider_for(
        spec, load_balancers=shared.aws, dns=shared.aws, clock=clock, cluster=world.kube
    )
    gates = [*gates_for(spec, metrics=shared.aws, load_balancers=shared.aws), probe]
    return StepLoop(
        spec,
        router=ServiceRouter(spec.traffic.provider, weights=provider),
        gates=gates,
        clock=clock,
        cluster=world.kube,
    )


def test_canary_through_the_ingress_reads_every_step_back_from_elbv2(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    probe = Probe(ingress_world, shared)
    start = clock.now()

    report = _runner(ingress_spec(alb), ingress_world, shared, clock, probe).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert [(c.step, c.weights) for c in report.history] == [
        (0, Weights(100, 0)),
        (1, Weights(95, 5)),
        (2, Weights(75, 25)),
        (3, Weights(50, 50)),
        (4, Weights(0, 100)),
    ]
    # Before the first shift and at the end of every pause, ELBv2 carries what the Ingress asks.
    assert probe.seen == [
        ({alb.stable: s, alb.candidate: c}, {"web-stable": s, "web-candidate": c})
        for s, c in ((100, 0), (95, 5), (75, 25), (50, 50), (0, 100))
    ]
    assert ingress_world.controller.reconciles == 4
    assert ingress_world.controller.errors == []
    # Each shift waits one poll for the controller's 5 s reconcile; then 60 s pauses, then the
    # stable side is kept for the 600 s scale-down delay.
    assert clock.now() - start == pytest.approx(4 * (5 + 60) + 600)
    assert replicas(ingress_world.kube, "web-stable") == 0
    assert replicas(ingress_world.kube, "web-candidate") == 3


def test_blue_green_through_the_ingress(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    probe = Probe(ingress_world, shared)
    spec = ingress_spec(alb, strategy={"kind": "blue-green", "pause_seconds": 120})

    report = _runner(spec, ingress_world, shared, clock, probe).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert [c.weights for c in report.history] == [Weights(100, 0), Weights(0, 100)]
    assert probe.seen[-1] == (
        {alb.stable: 0, alb.candidate: 100},
        {"web-stable": 0, "web-candidate": 100},
    )


def test_a_controller_that_never_reconciles_rolls_back_with_nothing_moved(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    ingress_world.controller.stop()
    probe = Probe(ingress_world, shared)

    report = _runner(ingress_spec(alb), ingress_world, shared, clock, probe).run()

    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert report.steps_done == 0
    assert "has not applied Ingress shop/web" in report.reason
    assert "still forwards stable 100 / candidate 0" in report.reason
    # The rollback also rewrote the annotation, so a controller coming back moves nothing.
    assert ingress_world.annotated_weights() == {"web-stable": 100, "web-candidate": 0}
    assert ingress_world.alb_weights(shared) == {alb.stable: 100, alb.candidate: 0}
    ingress_world.controller.start()
    clock.sleep(60)
    assert ingress_world.alb_weights(shared) == {alb.stable: 100, alb.candidate: 0}
    assert replicas(ingress_world.kube, "web-candidate") == 0


def test_a_controller_that_dies_mid_rollout_leaves_the_candidate_running(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    """At 5% the controller stops and the alarm fires: the rollback is written to the Ingress
    but never reaches the ALB, so traffic is not confirmed on stable and nothing is scaled."""
    put_alarm(shared.aws, "web-5xx")

    def break_down() -> None:
        ingress_world.controller.stop()
        set_alarm(shared.aws, "web-5xx", "ALARM")

    clock.call_later(30, break_down)  # during step 1's pause
    probe = Probe(ingress_world, shared)

    report = _runner(ingress_spec(alb), ingress_world, shared, clock, probe).run()

    assert report.status is RolloutStatus.FAILED, report.summary()
    assert any("NOT confirmed back on stable" in note for note in report.notes)
    assert ingress_world.alb_weights(shared) == {alb.stable: 95, alb.candidate: 5}
    assert ingress_world.annotated_weights() == {"web-stable": 100, "web-candidate": 0}
    assert replicas(ingress_world.kube, "web-candidate") == 3
    assert report.scaled_down == ()


def test_a_failed_gate_puts_traffic_back_on_stable_through_the_controller(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    put_alarm(shared.aws, "web-5xx")
    # Step 1 ends at t+65 (5 s reconcile, 60 s pause); step 2 is at 25% from t+70.
    clock.call_later(100, lambda: set_alarm(shared.aws, "web-5xx", "ALARM"))
    probe = Probe(ingress_world, shared)

    report = _runner(ingress_spec(alb), ingress_world, shared, clock, probe).run()

    assert report.status is RolloutStatus.ROLLED_BACK, report.summary()
    assert report.steps_done == 1
    assert report.culprits == ("web-5xx",)
    assert [c.weights for c in report.history][-2:] == [Weights(75, 25), Weights(100, 0)]
    assert ingress_world.alb_weights(shared) == {alb.stable: 100, alb.candidate: 0}
    assert ingress_world.annotated_weights() == {"web-stable": 100, "web-candidate": 0}
    assert [s.deployment for s in report.scaled_down] == ["web-candidate"]
    assert replicas(ingress_world.kube, "web-candidate") == 0
    assert replicas(ingress_world.kube, "web-stable") == 3


# the provider on its own ----------------------------------------------------------------------


def _provider(world: IngressWorld, shared: Shared, spec: RolloutSpec) -> AlbIngressProvider:
    provider = provider_for(
        spec, load_balancers=shared.aws, dns=shared.aws, clock=shared.clock, cluster=world.kube
    )
    assert isinstance(provider, AlbIngressProvider)
    return provider


def test_the_annotation_is_the_lbc_forward_action_with_stickiness(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    spec = ingress_spec(
        alb,
        traffic={
            **ingress_spec(alb).traffic.model_dump(),
            "stickiness_seconds": 120,
        },
    )
    provider = _provider(ingress_world, shared, spec)

    ingress_world.controller.reconcile_seconds = 12
    start = clock.now()
    provider.apply(Weights(90, 10))

    assert clock.now() - start == 15  # apply waits (5 s polls) for the controller
    assert ingress_world.annotation() == {
        "type": "forward",
        "forwardConfig": {
            "targetGroups": [
                {"serviceName": "web-stable", "servicePort": 80, "weight": 90},
                {"serviceName": "web-candidate", "servicePort": 80, "weight": 10},
            ],
            "targetGroupStickinessConfig": {"enabled": True, "durationSeconds": 120},
        },
    }
    assert provider.read() == Weights(90, 10)
    assert provider.drain_seconds == 120
    # Written but not applied yet (eksup killed between the two): read as pending, not done.
    ingress_world.kube.patch_ingress_annotations(NAMESPACE, INGRESS, {ANNOTATION: forward(50, 50)})
    assert provider.read() == Weights(90, 50)
    clock.sleep(12)
    assert provider.read() == Weights(50, 50)
    change = provider.describe_change(Weights(90, 10))
    assert f"kubectl annotate ingress -n {NAMESPACE} {INGRESS}" in change
    assert ANNOTATION in change
    assert alb.rule in change


def test_an_annotation_naming_another_service_is_refused_before_anything_changes(
    ingress_world: IngressWorld, shared: Shared, alb: Alb
) -> None:
    annotation = forward(90, 10).replace("web-candidate", "web-legacy")
    ingress_world.kube.patch_ingress_annotations(NAMESPACE, INGRESS, {ANNOTATION: annotation})
    provider = _provider(ingress_world, shared, ingress_spec(alb))

    with pytest.raises(UserError, match="also forwards to web-legacy"):
        provider.apply(Weights(50, 50))
    assert ingress_world.kube.get_ingress(NAMESPACE, INGRESS).annotations[ANNOTATION] == annotation


def test_an_action_no_rule_uses_is_refused(
    shared: Shared, alb: Alb, ingress_world: IngressWorld
) -> None:
    ingress_world.kube.add_ingress(
        Ingress(
            NAMESPACE,
            "other",
            {ANNOTATION: forward(100, 0)},
            backends=(IngressBackend("web-stable", "80", path="/*"),),
        )
    )
    traffic = {**ingress_spec(alb).traffic.model_dump(), "ingress": "other"}
    provider = _provider(ingress_world, shared, ingress_spec(alb, traffic=traffic))

    with pytest.raises(UserError, match=f"no backend with service {ACTION} and port name"):
        provider.read()


def test_pending_changes_never_read_as_a_step_or_as_all_stable() -> None:
    assert pending(Weights(95, 5), Weights(100, 0)) == Weights(100, 5)
    assert pending(Weights(100, 0), Weights(75, 25)) == Weights(100, 25)
    # A hand-made 95/0 on the ALB is all stable: 95/5 asked is still pending.
    assert pending(Weights(95, 5), Weights(95, 0)) == Weights(100, 5)
    assert pending(Weights(750, 249), Weights(95, 5)).total > 100


def test_shadow_and_ab_without_its_path_on_alb_ingress_are_refused(alb: Alb) -> None:
    shadow = ingress_spec(alb, strategy={"kind": "shadow"})
    ab = ingress_spec(alb, strategy={"kind": "ab", "header": "x-beta", "values": ["1"]})

    assert "RequestMirror" in (refusal(shadow) or "")
    # A/B runs on a second Ingress path (tests/strategies/test_ab_ingress.py) the spec names.
    assert "A/B needs traffic.ab_action and traffic.ab_rule_arn" in (refusal(ab) or "")


def test_alb_ingress_needs_a_cluster(alb: Alb, shared: Shared, clock: VirtualClock) -> None:
    with pytest.raises(UserError, match="needs a cluster"):
        provider_for(ingress_spec(alb), load_balancers=shared.aws, dns=shared.aws, clock=clock)


class Actions:
    """The part of a Reporter the dry-run Recorder prints to."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def action(self, description: str, *, dry_run: bool) -> None:
        self.lines.append(f"{'(dry run) ' if dry_run else ''}{description}")


def test_a_dry_run_records_the_annotation_and_changes_nothing(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    printed = Actions()
    dry = DryRunCluster(ingress_world.kube, Recorder(cast(Reporter, printed)))

    seen = dry.patch_ingress_annotations(
        NAMESPACE, INGRESS, {ANNOTATION: forward(90, 10), "eksup/x": None}
    )
    clock.sleep(30)

    (line,) = printed.lines
    assert line.startswith(f"(dry run) call kubernetes:annotate-ingress ingress={NAMESPACE}/web")
    assert '"weight": 10' in line
    assert "eksup/x-" in line  # kubectl's spelling of a removal
    assert seen.annotations[ANNOTATION] == forward(90, 10)  # what the change would leave
    assert ingress_world.annotated_weights() == {"web-stable": 100, "web-candidate": 0}
    assert ingress_world.alb_weights(shared) == {alb.stable: 100, alb.candidate: 0}
    assert ingress_world.controller.reconciles == 0


def test_a_service_port_other_than_the_specs_is_refused(
    ingress_world: IngressWorld, shared: Shared, alb: Alb
) -> None:
    annotation = forward(100, 0).replace('"servicePort": 80', '"servicePort": "http"')
    ingress_world.kube.patch_ingress_annotations(NAMESPACE, INGRESS, {ANNOTATION: annotation})

    with pytest.raises(UserError, match="servicePort http, the spec says service_port 80"):
        _provider(ingress_world, shared, ingress_spec(alb)).read()


def test_the_controller_reports_an_action_it_cannot_build_and_leaves_the_alb(
    ingress_world: IngressWorld, shared: Shared, alb: Alb, clock: VirtualClock
) -> None:
    unbound = forward(50, 50).replace("web-candidate", "web-unbound")
    ingress_world.kube.patch_ingress_annotations(NAMESPACE, INGRESS, {ANNOTATION: unbound})
    clock.sleep(10)

    (error,) = ingress_world.controller.errors
    assert "no target group for service web-unbound:80" in error
    assert ingress_world.alb_weights(shared) == {alb.stable: 100, alb.candidate: 0}
