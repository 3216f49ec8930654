"""Every strategy/provider pair that cannot work is refused, with the reason and what to use."""

from __future__ import annotations

import re
from typing import Any

import pytest

from strategies.spec import RolloutSpec
from strategies.traffic.factory import provider_for, refusal, route_for
from upgrader.core.errors import UserError
from upgrader.sandbox.clock import VirtualClock

TG = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/{}/1"
TRAFFIC: dict[str, dict[str, Any]] = {
    "alb": {
        "provider": "alb-elbv2",
        "rule_arn": "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/lb/1/2/3",
        "stable_target_group": TG.format("a"),
        "candidate_target_group": TG.format("b"),
    },
    "route53": {
        "provider": "route53",
        "zone_id": "Z1",
        "record_name": "web.example.com",
        "stable_set_identifier": "blue",
        "candidate_set_identifier": "green",
    },
    "gateway": {
        "provider": "gateway-api",
        "route": "web",
        "stable_backend": {"service": "web-v1", "port": 80},
        "candidate_backend": {"service": "web-v2", "port": 80},
    },
}
STRATEGY: dict[str, dict[str, Any]] = {
    "shadow": {"kind": "shadow"},
    "ab": {"kind": "ab", "header": "x-beta", "values": ["1"]},
    "canary": {"kind": "canary", "steps": [10, 100]},
    "blue-green": {"kind": "blue-green"},
}


def spec(strategy: str, traffic: str) -> RolloutSpec:
    return RolloutSpec.model_validate(
        {"app": {"name": "web"}, "strategy": STRATEGY[strategy], "traffic": TRAFFIC[traffic]}
    )


@pytest.mark.parametrize(
    ("strategy", "traffic", "reason"),
    [
        (
            "shadow",
            "alb",
            "ALB cannot mirror traffic; use a Gateway API HTTPRoute with a RequestMirror filter",
        ),
        (
            "shadow",
            "route53",
            "Route 53 answers each DNS query with one record, so it cannot copy a request to "
            "two sides; use a Gateway API HTTPRoute with a RequestMirror filter",
        ),
        (
            "ab",
            "route53",
            "Route 53 never sees HTTP headers or cookies, so it cannot route by them; "
            "use alb-elbv2 traffic (an http-header rule condition) or gateway-api (an "
            "HTTPRoute header match)",
        ),
    ],
)
def test_impossible_pairs_say_why(strategy: str, traffic: str, reason: str) -> None:
    the_spec = spec(strategy, traffic)

    assert refusal(the_spec) == reason
    with pytest.raises(UserError, match=f"{strategy} on .*: {re.escape(reason)}"):
        route_for(the_spec, load_balancers=None, cluster=None)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=re.escape(reason)):
        provider_for(the_spec, load_balancers=None, dns=None, clock=VirtualClock())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("strategy", "traffic"),
    [
        ("shadow", "gateway"),
        ("ab", "alb"),
        ("ab", "gateway"),
        ("canary", "gateway"),
        ("blue-green", "gateway"),
        ("canary", "alb"),
        ("blue-green", "route53"),
    ],
)
def test_possible_pairs_are_not_refused(strategy: str, traffic: str) -> None:
    assert refusal(spec(strategy, traffic)) is None


def test_weights_on_an_httproute_need_the_cluster() -> None:
    with pytest.raises(UserError, match="needs a cluster"):
        provider_for(spec("canary", "gateway"), load_balancers=None, dns=None, clock=VirtualClock())  # type: ignore[arg-type]


def test_shadow_needs_the_cluster() -> None:
    with pytest.raises(UserError, match="needs a cluster"):
        route_for(spec("shadow", "gateway"), load_balancers=None, cluster=None)  # type: ignore[arg-type]
