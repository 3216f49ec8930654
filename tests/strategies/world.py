"""A small AWS (moto: ALB, Route 53, CloudWatch) and a fake cluster for rollout tests.

The AWS resources are the sandbox's own (`upgrader.sandbox.aws_world`, the builder the demo
and the examples' world use); this module only shares them between a module's tests.

Everything waits through one VirtualClock: the AWS back-off, Route 53 INSYNC polling, the
rollout's pauses and the cluster's pods, so a 20-minute canary takes milliseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from strategies.spec import RolloutSpec
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.adapters.aws.retry import RetryPolicy
from upgrader.core.kube import LabelSelector, PodTemplate, Workload, WorkloadKind
from upgrader.sandbox.aws_world import (
    RECORD,
    WeightedRule,
    error_alarm,
    instances,
    load_balancer,
    network,
    target_group,
    weighted_rule,
    weighted_zone,
)
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

REGION = "us-east-1"
NAMESPACE = "shop"


# The weighted rule a test's rollout moves: the sandbox's shape, under the tests' name.
Alb = WeightedRule


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


class Shared:
    """One moto world per test module: building EC2 and an ALB costs ~1 s, a rule ~5 ms."""

    def __init__(self, aws: Boto3Aws) -> None:
        self.aws = aws
        self.clock = VirtualClock()  # the running test's clock, swapped in by `aws`
        ec2, elbv2 = aws.clients.ec2, aws.clients.elbv2
        net = network(ec2, REGION, subnets=2)
        self.vpc = net.vpc
        self.lb = load_balancer(elbv2, "web", net.subnets)
        self.instances = instances(ec2, 2)
        self.serial = itertools.count(1)

    def target_group(self, prefix: str, targets: int = 2) -> str:
        return target_group(
            self.aws.clients.elbv2,
            self.vpc,
            f"{prefix}-{next(self.serial)}",
            self.instances[:targets],
        )


@pytest.fixture(scope="module")
def _shared() -> Iterator[Shared]:
    with mock_aws():
        session = boto3.Session(
            aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION
        )
        holder: list[Shared] = []

        def sleep(seconds: float) -> None:
            # Back-off waits in the running test's virtual time.
            holder[0].clock.sleep(seconds)

        holder.append(Shared(Boto3Aws(session=session, retry=RetryPolicy(sleep=sleep))))
        yield holder[0]


@pytest.fixture
def shared(_shared: Shared, clock: VirtualClock) -> Shared:
    _shared.clock = clock
    return _shared


@pytest.fixture
def aws(shared: Shared) -> Boto3Aws:
    return shared.aws


@pytest.fixture
def alb(shared: Shared) -> Alb:
    """A fresh listener on the shared ALB: its default action and a rule forward everything to
    `stable`; `stable` and `candidate` have two healthy targets each."""
    stable, candidate = shared.target_group("stable"), shared.target_group("candidate")
    return weighted_rule(
        shared.aws.clients.elbv2, shared.lb, stable, candidate, port=8000 + next(shared.serial)
    )


@pytest.fixture
def zone(shared: Shared) -> str:
    """A fresh hosted zone with web.example.com weighted: blue 100 (stable), green 0."""
    return weighted_zone(shared.aws.clients.route53, f"eksup-{next(shared.serial)}")


def put_alarm(aws: Boto3Aws, name: str, state: str = "OK") -> None:
    error_alarm(aws.clients.cloudwatch, name, threshold=5)
    aws.clients.cloudwatch.set_alarm_state(
        AlarmName=name, StateValue=state, StateReason=f"test: {state}"
    )


def set_alarm(aws: Boto3Aws, name: str, state: str) -> None:
    aws.clients.cloudwatch.set_alarm_state(
        AlarmName=name, StateValue=state, StateReason="5xx above 5 for 1 datapoint"
    )


def deployment(name: str, replicas: int) -> Workload:
    labels = {"app": name}
    return Workload(
        kind=WorkloadKind.DEPLOYMENT,
        namespace=NAMESPACE,
        name=name,
        selector=LabelSelector(labels),
        template=PodTemplate(labels=labels),
        replicas=replicas,
        labels=labels,
    )


@pytest.fixture
def cluster(clock: VirtualClock) -> FakeCluster:
    kube = FakeCluster(clock)
    kube.add_workload(deployment("web-stable", 3))
    kube.add_workload(deployment("web-candidate", 3))
    return kube


def replicas(kube: FakeCluster, name: str) -> int | None:
    return kube.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, name).replicas


def alb_spec(alb: Alb, **overrides: Any) -> RolloutSpec:
    """A canary 5/25/50/100 with 60 s pauses on the ALB rule, alarm `web-5xx` as its gate."""
    document: dict[str, Any] = {
        "app": {
            "name": "web",
            "namespace": NAMESPACE,
            "stable": {"deployment": "web-stable"},
            "candidate": {"deployment": "web-candidate"},
        },
        "strategy": {"kind": "canary", "steps": [5, 25, 50, 100], "pause_seconds": 60},
        "traffic": {
            "provider": "alb-elbv2",
            "rule_arn": alb.rule,
            "stable_target_group": alb.stable,
            "candidate_target_group": alb.candidate,
            "stickiness_seconds": 120,
        },
        "gates": [{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"]}],
    }
    document.update(overrides)
    return RolloutSpec.model_validate(document)


def route53_spec(zone_id: str, **overrides: Any) -> RolloutSpec:
    document: dict[str, Any] = {
        "app": {
            "name": "web",
            "namespace": NAMESPACE,
            "stable": {"deployment": "web-stable"},
            "candidate": {"deployment": "web-candidate"},
        },
        "strategy": {"kind": "blue-green", "pause_seconds": 120, "scale_down_delay_seconds": 300},
        "traffic": {
            "provider": "route53",
            "zone_id": zone_id,
            "record_name": RECORD,
            "stable_set_identifier": "blue",
            "candidate_set_identifier": "green",
            "ttl_seconds": 60,
        },
        "gates": [{"kind": "cloudwatch-alarm", "alarms": ["web-5xx"]}],
    }
    document.update(overrides)
    return RolloutSpec.model_validate(document)
