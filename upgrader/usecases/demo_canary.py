"""The demo's canary: the shop's web app behind an ALB in the sandbox, released 5 -> 25 -> 50 ->
100 with an alarm gate, the weights read back from ELBv2 after every step.

The load balancer, target groups and alarm are made in moto; the candidate Deployment in the
FakeCluster; the rollout itself is `strategies.loop`, exactly as `eksup rollout` will run it.
"""

from __future__ import annotations

from typing import Any

from strategies.loop import build_runner
from strategies.run.report import RolloutReport
from strategies.spec import RolloutSpec
from upgrader.core.kube import (
    LabelSelector,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.demo_world import DEMO_CLUSTER
from upgrader.sandbox.world import Sandbox

ALARM = "shop-web-5xx"


def _alb(world: Sandbox) -> tuple[str, str, str]:
    """A listener rule forwarding all to `stable`, with an empty-weighted `candidate`."""
    ec2: Any = world.boto3_client("ec2")
    elbv2: Any = world.boto3_client("elbv2")
    subnets = world.aws.describe_cluster(DEMO_CLUSTER).subnet_ids
    vpc = ec2.describe_subnets(SubnetIds=[subnets[0]])["Subnets"][0]["VpcId"]
    lb = elbv2.create_load_balancer(Name="shop", Subnets=list(subnets[:2]))["LoadBalancers"][0]
    groups = [
        elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][
            0
        ]["TargetGroupArn"]
        for name in ("web-stable", "web-candidate")
    ]
    instances = ec2.run_instances(ImageId="ami-12c6146b", MinCount=4, MaxCount=4)["Instances"]
    for index, group in enumerate(groups):
        pair = instances[index * 2 : index * 2 + 2]
        elbv2.register_targets(
            TargetGroupArn=group, Targets=[{"Id": i["InstanceId"], "Port": 8080} for i in pair]
        )
    listener = elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]}],
    )["Listeners"][0]["ListenerArn"]
    rule = elbv2.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups[0], "Weight": 100},
                        {"TargetGroupArn": groups[1], "Weight": 0},
                    ]
                },
            }
        ],
    )["Rules"][0]["RuleArn"]
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
    return rule, groups[0], groups[1]


def run_demo_canary(world: Sandbox) -> RolloutReport:
    rule, stable, candidate = _alb(world)
    kube = world.kube(DEMO_CLUSTER)
    labels = {"app": "web", "track": "candidate"}
    kube.add_workload(
        Workload(
            WorkloadKind.DEPLOYMENT,
            "shop",
            "web-candidate",
            LabelSelector(labels),
            PodTemplate(labels=labels, spec=PodSpec(Resources(250, 256 * 2**20, 1))),
            replicas=3,
        ),
        startup_seconds=15,
    )
    world.settle(120)
    spec = RolloutSpec.model_validate(
        {
            "app": {
                "name": "web",
                "namespace": "shop",
                "stable": {"deployment": "web"},
                "candidate": {"deployment": "web-candidate"},
            },
            "strategy": {"kind": "canary", "steps": [5, 25, 50, 100], "pause_seconds": 300},
            "traffic": {
                "provider": "alb-elbv2",
                "rule_arn": rule,
                "stable_target_group": stable,
                "candidate_target_group": candidate,
            },
            "gates": [
                {"kind": "cloudwatch-alarm", "alarms": [ALARM]},
                {"kind": "alb-target-health"},
            ],
        }
    )
    runner = build_runner(
        spec,
        load_balancers=world.aws,
        dns=world.aws,
        metrics=world.aws,
        clock=world.clock,
        cluster=kube,
    )
    report = runner.run()
    assert isinstance(report, RolloutReport)  # a canary moves weights
    return report
