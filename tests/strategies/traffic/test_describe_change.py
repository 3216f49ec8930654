"""`describe_change`: the exact call `apply` would make, for `rollout run --dry-run`; and it
changes nothing."""

from __future__ import annotations

from strategies.spec import AlbTraffic, Route53Traffic
from strategies.steps import Weights
from strategies.traffic.alb import AlbProvider
from strategies.traffic.route53 import Route53Provider
from tests.strategies.world import RECORD, Alb, alb_spec, route53_spec
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.sandbox.clock import VirtualClock


def test_alb_rule(aws: Boto3Aws, alb: Alb) -> None:
    traffic = alb_spec(alb).traffic
    assert isinstance(traffic, AlbTraffic)
    provider = AlbProvider(aws, traffic)

    text = provider.describe_change(Weights(90, 10))

    assert text == (
        f"elbv2 modify-rule --rule-arn {alb.rule}: forward {alb.stable}=90 {alb.candidate}=10"
    )
    assert provider.read() == Weights(100, 0)


def test_alb_listener_default_action(aws: Boto3Aws, alb: Alb) -> None:
    traffic = AlbTraffic(
        provider="alb-elbv2",
        rule_arn=alb.listener,
        stable_target_group=alb.stable,
        candidate_target_group=alb.candidate,
    )
    text = AlbProvider(aws, traffic).describe_change(Weights(0, 100))
    assert text.startswith(f"elbv2 modify-listener --listener-arn {alb.listener}: forward")


def test_route53(aws: Boto3Aws, zone: str, clock: VirtualClock) -> None:
    traffic = route53_spec(zone).traffic
    assert isinstance(traffic, Route53Traffic)
    provider = Route53Provider(aws, clock, traffic)

    text = provider.describe_change(Weights(0, 100))

    assert text == (
        f"route53 change-resource-record-sets --hosted-zone-id {zone}: UPSERT {RECORD} A "
        "blue weight=0, green weight=100 (one batch, then wait INSYNC)"
    )
    assert provider.read() == Weights(100, 0)
