"""Shadow on a Gateway API HTTPRoute, end to end on the FakeCluster: a RequestMirror filter on
during the bake, always off at the end. And HTTPRoute weights as a canary."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from strategies.gates.kinds import GateResult, Verdict
from strategies.loop import StepLoop, build_runner, end_route
from strategies.run.report import RolloutStatus
from strategies.spec import RolloutSpec
from strategies.traffic.factory import route_for, router_for
from strategies.traffic.gateway import GatewayWeightsProvider
from strategies.traffic.router import ServiceRouter
from upgrader.adapters.kubernetes.gateway import http_route, rules_to_k8s
from upgrader.core.errors import ConflictError, UserError
from upgrader.core.kube import BackendRef, HTTPRoute, HTTPRouteRule, RequestMirror, Service
from upgrader.execute.dry_run import DryRunCluster, Recorder
from upgrader.execute.reporter import NullReporter
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

NS = "shop"
STABLE = BackendRef("web-stable", 80)
CANDIDATE = BackendRef("web-candidate", 80)
API_MATCH = {"path": {"type": "PathPrefix", "value": "/api"}}


def spec(strategy: dict[str, Any] | None = None, **traffic: Any) -> RolloutSpec:
    return RolloutSpec.model_validate(
        {
            "app": {"name": "web", "namespace": NS},
            "strategy": strategy or {"kind": "shadow", "mirror_percent": 50, "pause_seconds": 120},
            "traffic": {
                "provider": "gateway-api",
                "route": "web",
                "stable_backend": {"service": "web-stable", "port": 80},
                "candidate_backend": {"service": "web-candidate", "port": 80},
                **traffic,
            },
        }
    )


@pytest.fixture
def kube(clock: VirtualClock) -> FakeCluster:
    return gateway_cluster(clock)


def gateway_cluster(clock: VirtualClock) -> FakeCluster:
    """Services for both sides and an HTTPRoute: /api forwards to web-stable (with a header
    filter eksup must keep), everything else to a `docs` Service eksup must not touch."""
    cluster = FakeCluster(clock)
    for name in ("web-stable", "web-candidate", "docs"):
        cluster.add_service(Service(NS, name, {"app": name}))
    cluster.add_http_route(
        HTTPRoute(
            NS,
            "web",
            rules=(
                HTTPRouteRule(
                    backend_refs=(STABLE,),
                    matches=(API_MATCH,),
                    other_filters=(
                        {
                            "type": "RequestHeaderModifier",
                            "requestHeaderModifier": {"add": [{"name": "x-via", "value": "gw"}]},
                        },
                    ),
                    extra={"timeouts": {"request": "10s"}},
                ),
                HTTPRouteRule(backend_refs=(BackendRef("docs", 8080),)),
            ),
        )
    )
    return cluster


class Probe:
    """A gate that looks at the route when it is evaluated, and fails from `fail_from` on."""

    name = "probe"
    failure_limit = 1
    interval_seconds = 30.0

    def __init__(self, kube: FakeCluster, fail_from: int | None = None) -> None:
        self.kube = kube
        self.fail_from = fail_from
        self.seen: list[tuple[RequestMirror, ...]] = []

    def evaluate(self) -> GateResult:
        self.seen.append(self.kube.get_http_route(NS, "web").rules[0].mirrors)
        if self.fail_from is not None and len(self.seen) >= self.fail_from:
            return GateResult(self.name, Verdict.FAIL, "candidate 5xx in the mirror", ("web",))
        return GateResult(self.name, Verdict.PASS)


def runner(the_spec: RolloutSpec, kube: Any, clock: VirtualClock, probe: Probe) -> StepLoop:
    router = router_for(the_spec, load_balancers=None, dns=None, clock=clock, cluster=kube)  # type: ignore[arg-type]
    return StepLoop(the_spec, router=router, gates=[probe], clock=clock, cluster=kube)


def test_shadow_mirrors_during_the_bake_and_always_removes_the_mirror(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    probe = Probe(kube)
    start = clock.now()

    report = runner(spec(), kube, clock, probe).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    # Before the mirror: none; after the bake, when the gates decide: 50% to the candidate.
    assert probe.seen == [(), (RequestMirror(CANDIDATE, 50),)]
    assert [e.change for e in report.history] == ["found", "on", "off"]
    assert not report.route_on
    assert clock.now() - start == pytest.approx(120)
    route = kube.get_http_route(NS, "web")
    assert route.rules[0].mirrors == ()
    # Everything eksup does not model came back unchanged, the other rule untouched.
    assert route.rules[0].matches == (API_MATCH,)
    assert route.rules[0].other_filters[0]["type"] == "RequestHeaderModifier"
    assert route.rules[0].extra == {"timeouts": {"request": "10s"}}
    assert route.rules[1] == HTTPRouteRule(backend_refs=(BackendRef("docs", 8080),))
    # Two writes: mirror on, mirror off; each accepted by the Gateway.
    assert route.generation == 3
    assert all(p.observed_generation == 3 for p in route.parents)


def test_a_failed_gate_turns_the_mirror_off(kube: FakeCluster, clock: VirtualClock) -> None:
    probe = Probe(kube, fail_from=2)

    report = runner(spec(), kube, clock, probe).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert report.failed_gate == "probe"
    assert "candidate 5xx in the mirror" in report.reason
    assert probe.seen[-1] == (RequestMirror(CANDIDATE, 50),)
    assert kube.get_http_route(NS, "web").rules[0].mirrors == ()


def test_a_missing_candidate_service_never_counts_as_mirroring(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    the_spec = spec(candidate_backend={"service": "web-typo", "port": 80})
    probe = Probe(kube)

    report = runner(the_spec, kube, clock, probe).run()

    # The Gateway reports ResolvedRefs False: eksup stops and removes its mirror.
    assert report.status is RolloutStatus.ROLLED_BACK
    assert "turned the route on but it reads" in report.reason
    assert "web-typo not found" in report.reason
    assert kube.get_http_route(NS, "web").rules[0].mirrors == ()


def test_a_conflicting_write_is_retried_on_the_new_version(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    conflicts = [ConflictError("the object has been modified")]

    def once(*_: object) -> None:
        if conflicts:
            raise conflicts.pop()

    kube.add_reactor("update", "httproutes", once)

    report = runner(spec(), kube, clock, Probe(kube)).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert conflicts == []


def test_abort_removes_a_mirror_left_on(kube: FakeCluster, clock: VirtualClock) -> None:
    the_spec = spec()
    route = route_for(the_spec, load_balancers=None, cluster=kube)  # type: ignore[arg-type]
    route.turn_on()
    assert route.read().on

    message = end_route(the_spec, load_balancers=None, cluster=kube, clock=clock)  # type: ignore[arg-type]

    assert "route off" in message
    assert kube.get_http_route(NS, "web").rules[0].mirrors == ()


def test_no_rule_forwarding_to_stable_is_a_user_error(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    the_spec = spec(stable_backend={"service": "web-old", "port": 80})

    with pytest.raises(UserError, match="no rule forwarding to web-old:80"):
        runner(the_spec, kube, clock, Probe(kube)).run()


def test_dry_run_records_the_replace_and_changes_nothing(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    recorder = Recorder(NullReporter())
    dry = DryRunCluster(kube, recorder)

    report = runner(spec(), dry, clock, Probe(kube)).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert [c.action for c in recorder.calls] == [
        "replace-httproute-rules",
        "replace-httproute-rules",
    ]
    assert kube.get_http_route(NS, "web").generation == 1


def test_mirror_json_omits_percent_at_100_and_reads_back() -> None:
    rule = HTTPRouteRule(
        backend_refs=(STABLE,),
        mirrors=(RequestMirror(CANDIDATE, 100), RequestMirror(BackendRef("x", 81), 10)),
    )

    document = rules_to_k8s([rule])[0]

    assert document["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"name": "web-candidate", "port": 80}},
        },
        {
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"name": "x", "port": 81}, "percent": 10},
        },
    ]
    assert document["backendRefs"] == [{"name": "web-stable", "port": 80, "weight": 1}]
    read = http_route({"metadata": {"name": "web", "namespace": NS}, "spec": {"rules": [document]}})
    assert read.rules == (rule,)


# weights on an HTTPRoute ----------------------------------------------------------------------


def test_a_canary_on_httproute_backend_weights(kube: FakeCluster, clock: VirtualClock) -> None:
    the_spec = spec({"kind": "canary", "steps": [10, 50, 100], "pause_seconds": 60})
    provider = GatewayWeightsProvider(kube, clock, the_spec.traffic, NS)  # type: ignore[arg-type]

    router = ServiceRouter("gateway-api", weights=provider)
    report = StepLoop(the_spec, router=router, gates=[], clock=clock).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert [c.weights.candidate for c in report.history] == [0, 10, 50, 100]
    rule = kube.get_http_route(NS, "web").rules[0]
    assert rule.backend_refs == (
        BackendRef("web-stable", 80, weight=0),
        BackendRef("web-candidate", 80, weight=100),
    )
    assert provider.describe_change(report.history[1].weights) == (
        "kubectl replace HTTPRoute shop/web: backendRefs web-stable:80=90 web-candidate:80=10"
    )


def test_build_runner_wires_httproute_weights_with_the_cluster(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    the_spec = spec({"kind": "blue-green", "pause_seconds": 30})

    built = build_runner(
        the_spec,
        load_balancers=None,
        dns=None,
        metrics=None,
        clock=clock,
        cluster=kube,  # type: ignore[arg-type]
    )
    report = built.run()

    assert isinstance(built, StepLoop)
    assert report.status is RolloutStatus.SUCCEEDED
    assert kube.get_http_route(NS, "web").rules[0].backend_refs[1].weight == 100


class LaggingGateway:
    """The cluster, with a Gateway controller that takes `lag` seconds to see each write."""

    def __init__(self, kube: FakeCluster, clock: VirtualClock, lag: float) -> None:
        self.kube, self.clock, self.lag = kube, clock, lag
        self.written_at = -1e18

    def get_http_route(self, namespace: str, name: str) -> HTTPRoute:
        route = self.kube.get_http_route(namespace, name)
        if self.clock.now() < self.written_at + self.lag:
            stale = tuple(
                dataclasses.replace(p, observed_generation=route.generation - 1)
                for p in route.parents
            )
            return dataclasses.replace(route, parents=stale)
        return route

    def replace_http_route_rules(self, *args: Any) -> HTTPRoute:
        self.written_at = self.clock.now()
        return self.kube.replace_http_route_rules(*args)


def test_the_mirror_counts_only_once_the_gateway_has_seen_it(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    lagging = LaggingGateway(kube, clock, lag=12)
    start = clock.now()

    report = runner(spec(), lagging, clock, Probe(kube)).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    on, off = report.history[1], report.history[2]
    assert on.at - start >= 12
    assert "accepted" in on.detail
    assert off.at - (start + 120) >= 12  # removal waited for the Gateway too


def test_a_gateway_that_never_catches_up_stops_the_shadow(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    lagging = LaggingGateway(kube, clock, lag=1e9)

    report = runner(spec(), lagging, clock, Probe(kube)).run()

    assert report.status is RolloutStatus.FAILED
    assert "has not seen generation 2" in report.reason
    assert any("route NOT confirmed off" in note for note in report.notes)
    # The mirror is out of the route's spec all the same; the Gateway just has not said so.
    assert kube.get_http_route(NS, "web").rules[0].mirrors == ()
