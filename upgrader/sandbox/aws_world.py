"""The AWS side of the sandbox's worlds, built in moto: a VPC with subnets (what a cluster
stands in), and what a rollout stands on: an ALB with healthy targets, target groups, a listener
rule splitting traffic by weight, a hosted zone with weighted records, the alarm a gate reads.

The one builder of that world for the sandbox (`Sandbox.create_network`), the demo's canary and
the examples' world (`weighted_alb`, `rollout_world`) and the tests (`tests/strategies/world.py`,
the CLI and adapter tests): each takes boto3 clients, so it builds the same world inside a
`Sandbox` or a bare `mock_aws`. The fake Load Balancer Controller (`alb_controller`) makes
its Ingress ALBs and target groups with it too; their listener and rules are its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TARGET_PORT = 8080
RULE_PRIORITY = 10
# moto's EC2 needs an image id to launch an instance, any will do: its targets are all healthy.
INSTANCE_IMAGE = "ami-12c6146b"
_ZONES = ("a", "b", "c")
ZONE_NAME = "example.com"
RECORD = "web.example.com"
# (set identifier, weight, address): blue serves everything, green is ready at weight 0.
WEIGHTED_RECORDS = (("blue", 100, "10.0.0.1"), ("green", 0, "10.0.0.2"))


@dataclass(frozen=True)
class Network:
    vpc: str
    subnets: list[str]


@dataclass(frozen=True)
class WeightedRule:
    listener: str
    rule: str
    stable: str
    candidate: str


def network(ec2: Any, region: str, subnets: int = 3) -> Network:
    """A VPC 10.0.0.0/16 with one /19 subnet per zone (a, b, c, then again)."""
    vpc: str = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return Network(
        vpc,
        [
            ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=f"10.0.{index * 32}.0/19",
                AvailabilityZone=f"{region}{_ZONES[index % 3]}",
            )["Subnet"]["SubnetId"]
            for index in range(subnets)
        ],
    )


def load_balancer(elbv2: Any, name: str, subnets: Sequence[str]) -> str:
    """An application load balancer in `subnets` (an ALB needs two zones): its ARN."""
    arn: str = elbv2.create_load_balancer(Name=name, Subnets=list(subnets))["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    return arn


def instances(ec2: Any, count: int) -> list[str]:
    """`count` running EC2 instances to register as targets: their ids."""
    launched = ec2.run_instances(ImageId=INSTANCE_IMAGE, MinCount=count, MaxCount=count)
    return [i["InstanceId"] for i in launched["Instances"]]


def target_group(elbv2: Any, vpc: str, name: str, targets: Sequence[str]) -> str:
    """An HTTP target group in `vpc` with `targets` (instance ids) registered (healthy in moto)."""
    group: str = elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    register(elbv2, group, targets)
    return group


def register(elbv2: Any, group: str, targets: Sequence[str]) -> None:
    if targets:
        elbv2.register_targets(
            TargetGroupArn=group, Targets=[{"Id": i, "Port": TARGET_PORT} for i in targets]
        )


def weighted_rule(
    elbv2: Any, load_balancer: str, stable: str, candidate: str, *, port: int = 80
) -> WeightedRule:
    """A listener on `port` whose default action and path rule (`/*`, priority 10) forward
    everything to `stable`, with `candidate` in the rule at weight 0: what a team has before
    its first canary."""
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


def weighted_zone(route53: Any, caller_reference: str) -> str:
    """A hosted zone `example.com` with `web.example.com` weighted (A, TTL 60): blue 100
    (stable), green 0 (candidate). Its id, without the `/hostedzone/` prefix. Records are
    UPSERTed: moto duplicates a weighted record CREATEd twice."""
    zone_id: str = route53.create_hosted_zone(Name=ZONE_NAME, CallerReference=caller_reference)[
        "HostedZone"
    ]["Id"].split("/")[-1]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": RECORD,
                        "Type": "A",
                        "SetIdentifier": ident,
                        "Weight": weight,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": address}],
                    },
                }
                for ident, weight, address in WEIGHTED_RECORDS
            ]
        },
    )
    return zone_id


def error_alarm(cloudwatch: Any, name: str, *, threshold: int) -> None:
    """An alarm on the ALB's target 5xx count (Sum over 60 s above `threshold`), the kind a
    rollout's gate reads. moto never evaluates it: it stays OK until its state is set."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
    )
