"""An ALB listener rule that splits traffic by weight between two target groups, built in moto.

The one builder of that world for the demo's canary (`upgrader.demo.canary`) and the
rollout tests (`tests/strategies/world.py`): what a team has before its first canary, a rule
forwarding everything to `stable` (weight 100) with `candidate` at weight 0, each group with
healthy targets. (Ingress-managed ALBs are the fake Load Balancer Controller's:
`upgrader.sandbox.alb_controller`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from upgrader.sandbox.demo_world import DEMO_CLUSTER

if TYPE_CHECKING:
    from upgrader.sandbox.world import Sandbox

TARGET_PORT = 8080
RULE_PRIORITY = 10


@dataclass(frozen=True)
class WeightedRule:
    listener: str
    rule: str
    stable: str
    candidate: str


def target_group(elbv2: Any, vpc: str, name: str, instances: Sequence[str]) -> str:
    """An HTTP target group in `vpc` with `instances` registered (healthy in moto)."""
    group: str = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    register(elbv2, group, instances)
    return group


def register(elbv2: Any, group: str, instances: Sequence[str]) -> None:
    if instances:
        elbv2.register_targets(
            TargetGroupArn=group, Targets=[{"Id": i, "Port": TARGET_PORT} for i in instances]
        )


def weighted_rule(
    elbv2: Any, load_balancer: str, stable: str, candidate: str, *, port: int = 80
) -> WeightedRule:
    """A listener on `port` whose default action and path rule (`/*`, priority 10) forward
    everything to `stable`, with `candidate` in the rule at weight 0."""
    listener: str = elbv2.create_listener(
        LoadBalancerArn=load_balancer,
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": stable}],
    )["Listeners"][0]["ListenerArn"]
    rule: str = elbv2.create_rule(
        ListenerArn=listener,
        Priority=RULE_PRIORITY,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": stable, "Weight": 100},
                        {"TargetGroupArn": candidate, "Weight": 0},
                    ]
                },
            }
        ],
    )["Rules"][0]["RuleArn"]
    return WeightedRule(listener, rule, stable, candidate)


ALARM = "shop-web-5xx"


def shop_alb(world: Sandbox) -> tuple[str, str, str]:
    """The demo shop's ALB `shop` with its weighted rule (rule, stable and candidate target
    groups) and the alarm `shop-web-5xx` the canary's gate reads."""
    ec2: Any = world.boto3_client("ec2")
    elbv2: Any = world.boto3_client("elbv2")
    subnets = world.aws.describe_cluster(DEMO_CLUSTER).subnet_ids
    vpc = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["VpcId"]
    lb = elbv2.create_load_balancer(Name="shop", Subnets=list(subnets[:2]))["LoadBalancers"][0]
    # In this order: moto's seeded ids (`upgrader.sandbox.rollout_world`) depend on it.
    stable = target_group(elbv2, vpc, "web-stable", ())
    candidate = target_group(elbv2, vpc, "web-candidate", ())
    instances = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=4, MaxCount=4)["Instances"]
    ]
    register(elbv2, stable, instances[:2])
    register(elbv2, candidate, instances[2:])
    split = weighted_rule(elbv2, lb["LoadBalancerArn"], stable, candidate)
    world.boto3_client("cloudwatch").put_metric_alarm(
        AlarmName=ALARM,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )
    return split.rule, split.stable, split.candidate
