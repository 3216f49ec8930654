"""A/B on a Gateway API HTTPRoute, end to end on the FakeCluster: a header-match rule to B."""

from __future__ import annotations

from typing import Any

import pytest

from strategies.loop import StepLoop, end_route
from strategies.run.report import RolloutStatus
from strategies.spec import RolloutSpec
from strategies.traffic.factory import route_for, router_for
from strategies.traffic.gateway_header import header_match
from tests.strategies.test_shadow import (
    API_MATCH,
    CANDIDATE,
    NS,
    STABLE,
    Probe,
    gateway_cluster,
    spec,
)
from upgrader.core.errors import UserError
from upgrader.core.kube import BackendRef, HTTPRouteRule
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


@pytest.fixture
def kube(clock: VirtualClock) -> FakeCluster:
    return gateway_cluster(clock)


COOKIE: dict[str, Any] = {
    "kind": "ab",
    "header": "Cookie",
    "values": ["*variant=b*", "beta"],
    "pause_seconds": 60,
}


def runner(the_spec: RolloutSpec, kube: FakeCluster, clock: VirtualClock, probe: Probe) -> StepLoop:
    router = router_for(the_spec, load_balancers=None, dns=None, clock=clock, cluster=kube)  # type: ignore[arg-type]
    return StepLoop(the_spec, router=router, gates=[probe], clock=clock, cluster=kube)


def ab_rule() -> HTTPRouteRule:
    return HTTPRouteRule(
        backend_refs=(CANDIDATE,),
        matches=(
            {
                **API_MATCH,
                "headers": [
                    {"type": "RegularExpression", "name": "Cookie", "value": ".*variant=b.*"}
                ],
            },
            {**API_MATCH, "headers": [{"type": "Exact", "name": "Cookie", "value": "beta"}]},
        ),
    )


def test_ab_adds_a_header_match_rule_after_the_stable_rule_and_keeps_it(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    the_spec = spec(COOKIE)

    report = runner(the_spec, kube, clock, Probe(kube)).run()

    assert report.status is RolloutStatus.SUCCEEDED, report.summary()
    assert report.route_on
    rules = kube.get_http_route(NS, "web").rules
    assert len(rules) == 3
    assert rules[0].backend_refs == (STABLE,)  # A is untouched
    assert rules[1] == ab_rule()
    assert rules[2].backend_refs == (BackendRef("docs", 8080),)
    assert any("rollout abort" in note for note in report.notes)

    end_route(the_spec, load_balancers=None, cluster=kube, clock=clock)  # type: ignore[arg-type]

    assert len(kube.get_http_route(NS, "web").rules) == 2


def test_a_failed_gate_removes_the_ab_rule(kube: FakeCluster, clock: VirtualClock) -> None:
    report = runner(spec(COOKIE), kube, clock, Probe(kube, fail_from=2)).run()

    assert report.status is RolloutStatus.ROLLED_BACK
    assert [e.change for e in report.history] == ["found", "on", "off"]
    assert ab_rule() not in kube.get_http_route(NS, "web").rules


def test_an_alb_priority_is_refused_on_an_httproute(kube: FakeCluster) -> None:
    with pytest.raises(UserError, match="ALB rule priority"):
        route_for(spec({**COOKIE, "priority": 3}), load_balancers=None, cluster=kube)  # type: ignore[arg-type]


def test_alb_wildcards_become_a_regular_expression() -> None:
    assert header_match("Cookie", "*v=b.1?*") == {
        "type": "RegularExpression",
        "name": "Cookie",
        "value": r".*v=b\.1..*",
    }
    assert header_match("x-beta", "on") == {"type": "Exact", "name": "x-beta", "value": "on"}
