"""The demo shop's ALB: a listener rule that splits traffic by weight between two target groups.

What the demo's canary (`upgrader.demo.canary`) and the examples' world
(`rollout_world`) start from, built with the one builder of a rollout's AWS (`aws_world`): a
rule forwarding everything to `web-stable` (weight 100) with `web-candidate` at weight 0, each
group with two healthy targets, and the alarm the canary's gate reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from upgrader.sandbox.aws_world import (
    error_alarm,
    instances,
    load_balancer,
    register,
    target_group,
    weighted_rule,
)
from upgrader.sandbox.demo_world import DEMO_CLUSTER

if TYPE_CHECKING:
    from upgrader.sandbox.world import Sandbox

ALARM = "shop-web-5xx"


def shop_alb(world: Sandbox) -> tuple[str, str, str]:
    """The demo shop's ALB `shop` with its weighted rule (rule, stable and candidate target
    groups) and the alarm `shop-web-5xx` the canary's gate reads."""
    ec2: Any = world.boto3_client("ec2")
    elbv2: Any = world.boto3_client("elbv2")
    subnets = world.aws.describe_cluster(DEMO_CLUSTER).subnet_ids
    vpc = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["VpcId"]
    lb = load_balancer(elbv2, "shop", subnets[:2])
    # In this order: moto's seeded ids (`upgrader.sandbox.rollout_world`) depend on it.
    stable = target_group(elbv2, vpc, "web-stable", ())
    candidate = target_group(elbv2, vpc, "web-candidate", ())
    targets = instances(ec2, 4)
    register(elbv2, stable, targets[:2])
    register(elbv2, candidate, targets[2:])
    split = weighted_rule(elbv2, lb, stable, candidate)
    error_alarm(world.boto3_client("cloudwatch"), ALARM, threshold=10)
    return split.rule, split.stable, split.candidate
