"""`Boto3LoadBalancers`, `Boto3Dns` and `Boto3Metrics` against moto."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.aws import MetricQuery, TargetWeight, WeightedRecord
from upgrader.core.errors import NotFoundError, UserError
from upgrader.sandbox.aws_world import (
    TARGET_PORT,
    instances,
    load_balancer,
    network,
    register,
    target_group,
)


@dataclass(frozen=True)
class Alb:
    listener: str
    rule: str
    groups: tuple[str, ...]
    instances: tuple[str, ...]


@pytest.fixture
def alb(aws: Boto3Aws) -> Alb:
    ec2, elbv2 = aws.clients.ec2, aws.clients.elbv2
    net = network(ec2, "us-east-1", subnets=2)
    lb = load_balancer(elbv2, "web", net.subnets)
    groups = tuple(target_group(elbv2, net.vpc, f"web-{i}", ()) for i in range(6))
    listener = elbv2.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[0]}],
    )["Listeners"][0]["ListenerArn"]
    rule = elbv2.create_rule(
        ListenerArn=listener,
        Priority=10,
        Conditions=[
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "x-canary", "Values": ["1"]},
            }
        ],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups[0], "Weight": 90},
                        {"TargetGroupArn": groups[1], "Weight": 10},
                    ]
                },
            }
        ],
    )["Rules"][0]["RuleArn"]
    targets = tuple(instances(ec2, 2))
    register(elbv2, groups[0], targets)
    return Alb(listener, rule, groups, targets)


def test_describe_forward_rules(aws: Boto3Aws, alb: Alb) -> None:
    default, rule = aws.describe_forward_rules(alb.listener)

    assert default.arn == alb.listener
    assert default.priority == "default"
    assert default.targets == (TargetWeight(alb.groups[0], 1),)
    assert rule.arn == alb.rule
    assert rule.priority == "10"
    assert rule.targets == (TargetWeight(alb.groups[0], 90), TargetWeight(alb.groups[1], 10))
    assert rule.conditions[0]["Field"] == "http-header"


def test_set_weights_on_a_listener(aws: Boto3Aws, alb: Alb) -> None:
    weights = {alb.groups[0]: 80, alb.groups[1]: 20}

    written = aws.set_forward_weights(alb.listener, weights)

    expected = (TargetWeight(alb.groups[0], 80), TargetWeight(alb.groups[1], 20))
    assert written.targets == expected
    assert written.priority == "default"
    assert aws.describe_forward_rules(alb.listener)[0].targets == expected


def test_set_weights_on_a_rule(aws: Boto3Aws, alb: Alb) -> None:
    written = aws.set_forward_weights(alb.rule, {alb.groups[0]: 0, alb.groups[1]: 999})

    assert written.arn == alb.rule
    assert written.targets == (TargetWeight(alb.groups[0], 0), TargetWeight(alb.groups[1], 999))
    assert written.conditions[0]["Field"] == "http-header"  # conditions untouched
    assert aws.describe_forward_rules(alb.listener)[1] == written


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"a": 1000}, "0-999"),
        ({"a": -1}, "0-999"),
        ({"a": 0, "b": 0}, "positive"),
        ({}, "at least one"),
    ],
)
def test_bad_weights_are_refused_before_any_call(
    aws: Boto3Aws, alb: Alb, weights: dict[str, int], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        aws.set_forward_weights(alb.rule, weights)
    assert aws.describe_forward_rules(alb.listener)[1].targets[0].weight == 90


def test_more_than_five_target_groups_are_refused(aws: Boto3Aws, alb: Alb) -> None:
    with pytest.raises(UserError, match="at most 5"):
        aws.set_forward_weights(alb.listener, dict.fromkeys(alb.groups, 1))


def test_not_a_listener_or_rule(aws: Boto3Aws, alb: Alb) -> None:
    with pytest.raises(UserError, match="not an ELBv2 listener or rule"):
        aws.set_forward_weights(alb.groups[0], {alb.groups[0]: 1})


def test_missing_rule(aws: Boto3Aws, alb: Alb) -> None:
    missing = alb.rule[:-4] + "0000"
    with pytest.raises(NotFoundError):
        aws.set_forward_weights(missing, {alb.groups[0]: 1})


def test_target_health(aws: Boto3Aws, alb: Alb) -> None:
    targets = aws.target_health(alb.groups[0])

    assert sorted(t.target_id for t in targets) == sorted(alb.instances)
    assert {t.port for t in targets} == {TARGET_PORT}
    assert {t.state for t in targets} == {"healthy"}
    assert aws.target_health(alb.groups[2]) == []


# Route 53 -------------------------------------------------------------------------------------


@pytest.fixture
def zone(aws: Boto3Aws) -> str:
    zone_id = aws.clients.route53.create_hosted_zone(Name="example.com", CallerReference="t")[
        "HostedZone"
    ]["Id"]
    aws.clients.route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "other.example.net"}],
                    },
                }
                for name in ("a.example.com", "z.example.com")
            ]
        },
    )
    return zone_id


def test_weighted_records_round_trip(aws: Boto3Aws, zone: str) -> None:
    blue = WeightedRecord("app.example.com", "CNAME", "blue", 100, 60, ("blue.example.net",))
    green = WeightedRecord("app.example.com", "CNAME", "green", 0, 60, ("green.example.net",))

    change = aws.upsert_weighted_records(zone, [blue, green])

    assert aws.change_status(change) in ("PENDING", "INSYNC")
    records = {r.set_identifier: r for r in aws.weighted_records(zone, "app.example.com", "CNAME")}
    assert set(records) == {"blue", "green"}
    assert records["blue"].weight == 100
    assert records["blue"].values == ("blue.example.net",)
    assert records["blue"].ttl == 60
    assert records["green"].weight == 0
    assert records["blue"].name.rstrip(".") == "app.example.com"
    assert aws.weighted_records(zone, "app.example.com", "A") == []


def test_upsert_of_a_weight_alone_keeps_the_values(aws: Boto3Aws, zone: str) -> None:
    aws.upsert_weighted_records(
        zone, [WeightedRecord("app.example.com", "CNAME", "blue", 100, 60, ("blue.example.net",))]
    )

    aws.upsert_weighted_records(zone, [WeightedRecord("app.example.com.", "CNAME", "blue", 30)])

    (record,) = aws.weighted_records(zone, "app.example.com", "CNAME")
    assert record.weight == 30
    assert record.values == ("blue.example.net",)
    assert record.ttl == 60


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (WeightedRecord("app.example.com", "CNAME", "blue", 256, 60, ("b",)), "0-255"),
        (WeightedRecord("app.example.com", "CNAME", "blue", -1, 60, ("b",)), "0-255"),
        (WeightedRecord("app.example.com", "CNAME", "", 1, 60, ("b",)), "set identifier"),
        (WeightedRecord("app.example.com", "CNAME", "new", 1), "values or an alias"),
        (WeightedRecord("app.example.com", "CNAME", "new", 1, None, ("b",)), "TTL"),
    ],
)
def test_bad_records_are_refused(
    aws: Boto3Aws, zone: str, record: WeightedRecord, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        aws.upsert_weighted_records(zone, [record])
    assert aws.weighted_records(zone, "app.example.com", "CNAME") == []


def test_missing_zone(aws: Boto3Aws, zone: str) -> None:
    with pytest.raises(NotFoundError, match="route53:ListResourceRecordSets"):
        aws.weighted_records("/hostedzone/ZNOTTHERE", "app.example.com", "CNAME")


# CloudWatch -----------------------------------------------------------------------------------


def test_describe_alarms(aws: Boto3Aws) -> None:
    cloudwatch = aws.clients.cloudwatch
    for name in ("web-5xx", "web-latency"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx spike")

    alarms = aws.describe_alarms(["web-latency", "web-5xx", "missing"])

    assert [a.name for a in alarms] == ["web-latency", "web-5xx"]
    assert alarms[1].state == "ALARM"
    assert alarms[1].reason == "5xx spike"
    assert aws.describe_alarms([]) == []


def test_metric_values(aws: Boto3Aws) -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()
    dimensions = [{"Name": "TargetGroup", "Value": "targetgroup/web-1/abc"}]
    for minute, value in ((2, 3.0), (0, 1.0), (1, 2.0)):
        aws.clients.cloudwatch.put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Dimensions": dimensions,
                    "Timestamp": datetime.fromtimestamp(start + 60 * minute + 5, tz=UTC),
                    "Value": value,
                }
            ],
        )
    query = MetricQuery(
        namespace="AWS/ApplicationELB",
        metric_name="HTTPCode_Target_5XX_Count",
        dimensions={"TargetGroup": "targetgroup/web-1/abc"},
        statistic="Sum",
        period_seconds=60,
    )

    assert aws.metric_values(query, start, start + 180) == [1.0, 2.0, 3.0]
    assert aws.metric_values(query, start + 3600, start + 7200) == []
