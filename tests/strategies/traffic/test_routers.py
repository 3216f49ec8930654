"""Traffic providers against moto: limits, Route 53 pacing and missing records."""

from __future__ import annotations

import pytest

from strategies.spec import AlbTraffic, Route53Traffic
from strategies.steps import Weights
from strategies.traffic.alb import AlbProvider
from strategies.traffic.route53 import Route53Provider
from tests.strategies.world import RECORD, Alb
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.errors import UserError
from upgrader.sandbox.clock import VirtualClock


def _route53(zone: str, stable: str = "blue") -> Route53Traffic:
    return Route53Traffic(
        provider="route53",
        zone_id=zone,
        record_name=RECORD,
        stable_set_identifier=stable,
        candidate_set_identifier="green",
    )


def test_route53_calls_are_paced_to_five_per_second(
    aws: Boto3Aws, zone: str, clock: VirtualClock
) -> None:
    provider = Route53Provider(aws, clock, _route53(zone))
    start = clock.now()

    provider.apply(Weights(50, 50))  # UPSERT, GetChange
    assert provider.read() == Weights(50, 50)  # ListResourceRecordSets

    assert clock.now() - start == pytest.approx(2 * 0.2)


def test_route53_refuses_weights_over_255(aws: Boto3Aws, zone: str, clock: VirtualClock) -> None:
    with pytest.raises(UserError, match="0-255"):
        Route53Provider(aws, clock, _route53(zone)).apply(Weights(256, 0))


def test_route53_names_a_missing_set_identifier(
    aws: Boto3Aws, zone: str, clock: VirtualClock
) -> None:
    with pytest.raises(UserError, match="no weighted record with set identifier purple"):
        Route53Provider(aws, clock, _route53(zone, stable="purple")).read()


def test_alb_reads_back_what_it_wrote(aws: Boto3Aws, alb: Alb) -> None:
    provider = AlbProvider(
        aws,
        AlbTraffic(
            provider="alb-elbv2",
            rule_arn=alb.rule,
            stable_target_group=alb.stable,
            candidate_target_group=alb.candidate,
            stickiness_seconds=30,
        ),
    )

    provider.apply(Weights(750, 249))

    assert provider.read() == Weights(750, 249)
    assert provider.drain_seconds == 30
    with pytest.raises(UserError, match="0-999"):
        provider.apply(Weights(1000, 0))
    with pytest.raises(UserError, match="positive weight"):
        provider.apply(Weights(0, 0))
