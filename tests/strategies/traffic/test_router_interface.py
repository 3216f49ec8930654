"""One `TrafficRouter` interface for every service, and the no-op router for pod-only
strategies: what each router does, and what it refuses, once, with the reason."""

from __future__ import annotations

import pytest

from strategies.spec import RolloutSpec
from strategies.steps import ALL_CANDIDATE, ALL_STABLE, Weights
from strategies.traffic.base import TrafficRouter, verified
from strategies.traffic.factory import no_switch, router_for
from strategies.traffic.nop import NopRouter
from tests.strategies.world import Alb, alb_spec, route53_spec
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.errors import UserError
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

COOKIE = {"kind": "ab", "header": "Cookie", "values": ["*variant=b*"], "pause_seconds": 60}


def router(spec: RolloutSpec, aws: Boto3Aws, clock: VirtualClock) -> TrafficRouter:
    return router_for(spec, load_balancers=aws, dns=aws, clock=clock)


def test_alb_router_moves_weights_and_reads_them_back(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    the_router = router(alb_spec(alb), aws, clock)

    the_router.set_weights(Weights(70, 30))

    assert the_router.name == "alb-elbv2"
    assert the_router.read_weights() == Weights(70, 30)
    assert "forward" in the_router.describe_weights(Weights(70, 30))
    # A canary spec routes no header; the ALB itself can never mirror.
    with pytest.raises(UserError, match="alb-elbv2 cannot route by header: the canary spec"):
        the_router.set_header_route(True)
    with pytest.raises(UserError, match="alb-elbv2 cannot mirror requests: ALB cannot mirror"):
        the_router.set_mirror_route(True)


def test_alb_router_of_an_ab_spec_turns_the_header_route_on_and_off(
    aws: Boto3Aws, alb: Alb, clock: VirtualClock
) -> None:
    the_router = router(alb_spec(alb, strategy=COOKIE), aws, clock)
    assert the_router.read_route("header").off

    the_router.set_header_route(True)
    assert the_router.read_route("header").on
    the_router.set_header_route(False)

    assert the_router.read_route("header").off
    assert "Cookie" in the_router.describe_route("header", True)
    with pytest.raises(UserError, match="routes or mirrors requests rather than moving weights"):
        the_router.set_weights(ALL_CANDIDATE)


def test_route53_router_says_once_why_it_cannot_route_by_header(
    aws: Boto3Aws, zone: str, clock: VirtualClock
) -> None:
    the_router = router(route53_spec(zone), aws, clock)

    the_router.set_weights(Weights(90, 10))

    assert the_router.read_weights() == Weights(90, 10)
    with pytest.raises(UserError, match="route53 cannot route by header: Route 53 never sees"):
        the_router.read_route("header")
    with pytest.raises(UserError, match="route53 cannot mirror requests: Route 53 answers"):
        the_router.describe_route("mirror", True)


def test_rolling_and_recreate_get_the_no_op_router(clock: VirtualClock) -> None:
    spec = RolloutSpec.model_validate(
        {
            "app": {
                "name": "web",
                "namespace": "shop",
                "stable": {"deployment": "web-blue"},
                "candidate": {"deployment": "web-green"},
            },
            "strategy": {"kind": "rolling"},
        }
    )
    the_router = router_for(
        spec,
        load_balancers=None,  # type: ignore[arg-type]
        dns=None,  # type: ignore[arg-type]
        clock=clock,
        cluster=FakeCluster(clock),
    )

    assert isinstance(the_router, NopRouter)
    assert the_router.read_weights() == ALL_STABLE
    the_router.set_weights(Weights(3, 1))  # the split the pods make; nothing is written
    assert the_router.read_weights() == Weights(3, 1)
    assert "traffic follows the Ready pods" in the_router.describe_weights(Weights(3, 1))
    for call in (
        lambda: the_router.set_header_route(True),
        lambda: the_router.set_mirror_route(False),
        lambda: the_router.read_route("mirror"),
    ):
        with pytest.raises(UserError, match="rolling has no traffic switch"):
            call()
    assert the_router.why == no_switch(spec)


@pytest.mark.parametrize(
    ("target", "live", "ok"),
    [
        (ALL_STABLE, Weights(1, 0), True),  # all on stable, whatever the scale
        (ALL_STABLE, Weights(99, 1), False),
        (ALL_CANDIDATE, Weights(0, 255), True),
        (Weights(90, 10), Weights(90, 10), True),
        (Weights(90, 10), Weights(180, 20), False),  # a split must read back as written
    ],
)
def test_verified_reads_a_split_back_exactly_and_one_side_at_any_scale(
    target: Weights, live: Weights, ok: bool
) -> None:
    assert verified(target, live) is ok
