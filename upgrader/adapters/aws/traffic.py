"""The traffic ports through boto3: ELBv2 weighted forwarding, Route 53 weights, CloudWatch.

Rollout strategies move traffic by rewriting weights and read the result back; these adapters
validate weights before calling AWS (moto accepts any weight, AWS refuses them late) and leave
alone every part of a rule or record eksup does not model: the other actions of a listener,
target-group stickiness, a record's health check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from upgrader.adapters.aws.clients import AwsClients
from upgrader.core.aws import (
    Alarm,
    ForwardRule,
    MetricQuery,
    TargetHealth,
    TargetWeight,
    WeightedRecord,
)
from upgrader.core.errors import AwsApiError, ConflictError, NotFoundError, UserError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef
    from mypy_boto3_elbv2.type_defs import (
        ActionOutputTypeDef,
        ActionTypeDef,
        ActionUnionTypeDef,
        ForwardActionConfigTypeDef,
        RuleConditionTypeDef,
        RuleTypeDef,
        TargetHealthDescriptionTypeDef,
    )
    from mypy_boto3_route53.literals import RRTypeType
    from mypy_boto3_route53.type_defs import (
        ResourceRecordSetOutputTypeDef,
        ResourceRecordSetTypeDef,
    )

# ALB limits: a forward action spreads over at most 5 target groups, weights 0-999 each.
MAX_FORWARD_TARGET_GROUPS = 5
MAX_FORWARD_WEIGHT = 999
# An ALB rule matches on at most 5 condition values in all (each wildcard value counts once).
MAX_RULE_CONDITION_VALUES = 5
# Route 53 weighted routing: 0-255.
MAX_DNS_WEIGHT = 255
# describe_alarms takes at most 100 names per call.
_ALARM_NAMES_PER_CALL = 100


# ELBv2 ----------------------------------------------------------------------------------------


def validate_forward_weights(weights: Mapping[str, int]) -> None:
    if not weights:
        raise UserError("a forward action needs at least one target group")
    if len(weights) > MAX_FORWARD_TARGET_GROUPS:
        raise UserError(
            f"an ALB forward action takes at most {MAX_FORWARD_TARGET_GROUPS} target groups, "
            f"got {len(weights)}"
        )
    for arn, weight in weights.items():
        if not 0 <= weight <= MAX_FORWARD_WEIGHT:
            raise UserError(f"ALB weight for {arn} must be 0-{MAX_FORWARD_WEIGHT}, got {weight}")
    if not any(weights.values()):
        raise UserError("at least one target group must have a positive weight")


def forward_targets(actions: Sequence[ActionOutputTypeDef]) -> tuple[TargetWeight, ...]:
    """The weights of the forward action among `actions`; () when nothing forwards.

    A forward given as a bare TargetGroupArn sends everything to that group: weight 1 of 1.
    """
    for action in actions:
        if action["Type"] != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if groups:
            return tuple(
                TargetWeight(g["TargetGroupArn"], g.get("Weight", 1))
                for g in groups
                if "TargetGroupArn" in g
            )
        if "TargetGroupArn" in action:
            return (TargetWeight(action["TargetGroupArn"], 1),)
    return ()


def rule_from_elbv2(rule: RuleTypeDef) -> ForwardRule:
    return ForwardRule(
        arn=rule.get("RuleArn", ""),
        priority=rule.get("Priority", ""),
        targets=forward_targets(rule.get("Actions", [])),
        conditions=tuple(dict(c) for c in rule.get("Conditions", ())),
    )


def with_forward_weights(
    actions: Sequence[ActionOutputTypeDef], weights: Mapping[str, int], where: str
) -> list[ActionUnionTypeDef]:
    """`actions` with the forward action's target groups replaced by `weights`.

    Other actions (authentication before the forward, for one) and the stickiness setting stay.
    """
    for index, action in enumerate(actions):
        if action["Type"] != "forward":
            continue
        config: ForwardActionConfigTypeDef = {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": w} for arn, w in weights.items()]
        }
        stickiness = action.get("ForwardConfig", {}).get("TargetGroupStickinessConfig")
        if stickiness is not None:
            config["TargetGroupStickinessConfig"] = stickiness
        # TargetGroupArn is left out: AWS refuses it next to a ForwardConfig of several groups.
        forward: ActionTypeDef = {"Type": "forward", "ForwardConfig": config}
        if "Order" in action:
            forward["Order"] = action["Order"]
        return [*actions[:index], forward, *actions[index + 1 :]]
    raise UserError(f"{where} has no forward action to set weights on")


# The condition fields whose values live in a <Name>Config block; `Values` is their legacy form.
_CONDITION_CONFIGS = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}


def condition_input(condition: Mapping[str, object]) -> RuleConditionTypeDef:
    """A condition as describe_rules returns it, made fit for create_rule.

    describe_rules repeats host-header and path-pattern values in the legacy `Values` next to
    their Config block, and AWS refuses a condition that carries both.
    """
    field = str(condition.get("Field", ""))
    config = _CONDITION_CONFIGS.get(field)
    if config is None:
        raise UserError(f"unknown ALB rule condition field {field!r}")
    document = {"Field": field}
    if config in condition:
        document[config] = condition[config]  # type: ignore[assignment]
    elif "Values" in condition:
        document["Values"] = condition["Values"]  # type: ignore[assignment]
    return cast("RuleConditionTypeDef", document)


def condition_values(condition: Mapping[str, object]) -> int:
    """How many values a condition matches on, as ALB counts them against its limit."""
    config = condition.get(_CONDITION_CONFIGS.get(str(condition.get("Field", "")), ""))
    values = config.get("Values") if isinstance(config, Mapping) else condition.get("Values")
    return len(values) if isinstance(values, list | tuple) else 0


def header_condition(header: str, values: Sequence[str]) -> RuleConditionTypeDef:
    return {
        "Field": "http-header",
        "HttpHeaderConfig": {"HttpHeaderName": header, "Values": list(values)},
    }


def _elbv2_resource_kind(arn: str) -> str:
    """ "listener" or "listener-rule" from an ELBv2 ARN."""
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    kind = resource.split("/", 1)[0]
    if parts[0] != "arn" or kind not in ("listener", "listener-rule"):
        raise UserError(f"not an ELBv2 listener or rule ARN: {arn}")
    return kind


def target_health_from_elbv2(description: TargetHealthDescriptionTypeDef) -> TargetHealth:
    target = description.get("Target")
    health = description.get("TargetHealth", {})
    return TargetHealth(
        target_id=target["Id"] if target else "",
        port=target.get("Port") if target else None,
        state=health.get("State", "unavailable"),
        reason=health.get("Reason", ""),
    )


class Boto3LoadBalancers:
    """`LoadBalancers` on ELBv2. Build it from an `AwsClients`."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def describe_forward_rules(self, listener_arn: str) -> list[ForwardRule]:
        elbv2 = self.clients.elbv2

        def rules() -> list[RuleTypeDef]:
            pages = elbv2.get_paginator("describe_rules").paginate(ListenerArn=listener_arn)
            return [rule for page in pages for rule in page.get("Rules", ())]

        default = self._default_rule(listener_arn)
        # describe_rules repeats the default action as an IsDefault rule: it is `default` above.
        numbered = [
            rule_from_elbv2(r) for r in self.clients.call_elbv2(rules) if not r.get("IsDefault")
        ]
        numbered.sort(key=lambda r: int(r.priority) if r.priority.isdigit() else 0)
        return [default, *numbered]

    def set_forward_weights(self, rule_arn: str, weights: Mapping[str, int]) -> ForwardRule:
        validate_forward_weights(weights)
        elbv2 = self.clients.elbv2
        if _elbv2_resource_kind(rule_arn) == "listener":
            actions = with_forward_weights(self._default_actions(rule_arn), weights, rule_arn)
            self.clients.call_elbv2(
                lambda: elbv2.modify_listener(ListenerArn=rule_arn, DefaultActions=actions)
            )
            return self._default_rule(rule_arn)
        rule = self._rule(rule_arn)
        rule_actions = with_forward_weights(rule.get("Actions", []), weights, rule_arn)
        self.clients.call_elbv2(lambda: elbv2.modify_rule(RuleArn=rule_arn, Actions=rule_actions))
        return rule_from_elbv2(self._rule(rule_arn))

    def target_health(self, target_group_arn: str) -> list[TargetHealth]:
        elbv2 = self.clients.elbv2
        response = self.clients.call_elbv2(
            lambda: elbv2.describe_target_health(TargetGroupArn=target_group_arn)
        )
        return [target_health_from_elbv2(d) for d in response.get("TargetHealthDescriptions", ())]

    def put_header_rule(
        self,
        listener_arn: str,
        priority: int,
        header: str,
        values: Sequence[str],
        *,
        target_group_arn: str,
        conditions: Sequence[Mapping[str, object]] = (),
    ) -> ForwardRule:
        if not 1 <= priority <= 50000:
            raise UserError(f"an ALB rule priority must be 1-50000, got {priority}")
        if not values:
            raise UserError(f"an http-header condition on {header} needs at least one value")
        documents = [*(condition_input(c) for c in conditions), header_condition(header, values)]
        total = sum(condition_values(cast("Mapping[str, object]", d)) for d in documents)
        if total > MAX_RULE_CONDITION_VALUES:
            # moto accepts more; AWS refuses the rule.
            raise UserError(
                f"an ALB rule matches on at most {MAX_RULE_CONDITION_VALUES} condition values, "
                f"this one would need {total}"
            )
        elbv2 = self.clients.elbv2
        try:
            response = self.clients.call_elbv2(
                lambda: elbv2.create_rule(
                    ListenerArn=listener_arn,
                    Priority=priority,
                    Conditions=documents,
                    Actions=[
                        {
                            "Type": "forward",
                            "ForwardConfig": {
                                "TargetGroups": [{"TargetGroupArn": target_group_arn, "Weight": 1}]
                            },
                        }
                    ],
                )
            )
        except AwsApiError as error:
            if error.code == "PriorityInUse":
                raise ConflictError(
                    f"priority {priority} is taken on listener {listener_arn}"
                ) from error
            raise
        created = response.get("Rules", [])
        if not created:
            raise NotFoundError(f"create_rule on {listener_arn} returned no rule")
        return rule_from_elbv2(self._rule(created[0].get("RuleArn", "")))

    def delete_rule(self, rule_arn: str) -> None:
        elbv2 = self.clients.elbv2
        self.clients.call_elbv2(lambda: elbv2.delete_rule(RuleArn=rule_arn))

    def _default_actions(self, listener_arn: str) -> list[ActionOutputTypeDef]:
        elbv2 = self.clients.elbv2
        response = self.clients.call_elbv2(
            lambda: elbv2.describe_listeners(ListenerArns=[listener_arn])
        )
        listeners = response.get("Listeners", [])
        if not listeners:
            raise NotFoundError(f"listener {listener_arn} not found")
        return listeners[0].get("DefaultActions", [])

    def _default_rule(self, listener_arn: str) -> ForwardRule:
        actions = self._default_actions(listener_arn)
        return ForwardRule(arn=listener_arn, priority="default", targets=forward_targets(actions))

    def _rule(self, rule_arn: str) -> RuleTypeDef:
        elbv2 = self.clients.elbv2
        response = self.clients.call_elbv2(lambda: elbv2.describe_rules(RuleArns=[rule_arn]))
        rules = response.get("Rules", [])
        if not rules:
            raise NotFoundError(f"listener rule {rule_arn} not found")
        return rules[0]


# Route 53 -------------------------------------------------------------------------------------


def _dns_name(name: str) -> str:
    """Route 53 answers lower-case, dot-terminated, with `*` escaped as \\052."""
    return name.replace("\\052", "*").rstrip(".").lower()


def record_from_route53(record: ResourceRecordSetOutputTypeDef) -> WeightedRecord:
    alias = record.get("AliasTarget")
    return WeightedRecord(
        name=record["Name"],
        type=record["Type"],
        set_identifier=record.get("SetIdentifier", ""),
        weight=record.get("Weight", 0),
        ttl=record.get("TTL"),
        values=tuple(r["Value"] for r in record.get("ResourceRecords", ())),
        alias_target=dict(alias) if alias is not None else None,
    )


def validate_weighted_record(record: WeightedRecord) -> None:
    if not 0 <= record.weight <= MAX_DNS_WEIGHT:
        raise UserError(
            f"Route 53 weight for {record.name} ({record.set_identifier}) must be "
            f"0-{MAX_DNS_WEIGHT}, got {record.weight}"
        )
    if not record.set_identifier:
        raise UserError(f"weighted record {record.name} needs a set identifier")
    if record.alias_target is not None and record.values:
        raise UserError(f"record {record.name} has both values and an alias target")


def upsert_record_set(
    record: WeightedRecord, existing: ResourceRecordSetOutputTypeDef | None
) -> ResourceRecordSetTypeDef:
    """The record set to UPSERT: the existing one (health check and all) with eksup's changes.

    UPSERT replaces the whole record set, so starting from what is there keeps the fields eksup
    does not model. A record with neither values nor alias target only changes the weight.
    """
    result: ResourceRecordSetTypeDef = (
        {**existing}
        if existing is not None
        else {
            "Name": record.name,
            "Type": cast("RRTypeType", record.type),
            "SetIdentifier": record.set_identifier,
        }
    )
    result["Weight"] = record.weight
    if record.alias_target is not None:
        alias = record.alias_target
        result["AliasTarget"] = {
            "HostedZoneId": str(alias["HostedZoneId"]),
            "DNSName": str(alias["DNSName"]),
            "EvaluateTargetHealth": bool(alias.get("EvaluateTargetHealth", False)),
        }
        result.pop("TTL", None)
        result.pop("ResourceRecords", None)
    elif record.values:
        ttl = record.ttl if record.ttl is not None else result.get("TTL")
        if ttl is None:
            raise UserError(f"record {record.name} ({record.set_identifier}) needs a TTL")
        result["TTL"] = ttl
        result["ResourceRecords"] = [{"Value": v} for v in record.values]
        result.pop("AliasTarget", None)
    elif existing is None:
        raise UserError(
            f"new record {record.name} ({record.set_identifier}) needs values or an alias target"
        )
    return result


class Boto3Dns:
    """`Dns` on Route 53. Build it from an `AwsClients`."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def weighted_records(self, zone_id: str, name: str, record_type: str) -> list[WeightedRecord]:
        return [record_from_route53(r) for r in self._record_sets(zone_id, name, record_type)]

    def upsert_weighted_records(self, zone_id: str, records: Sequence[WeightedRecord]) -> str:
        if not records:
            raise UserError("no weighted records to change")
        for record in records:
            validate_weighted_record(record)
        existing: dict[tuple[str, str, str], ResourceRecordSetOutputTypeDef] = {}
        for name, record_type in {(_dns_name(r.name), r.type) for r in records}:
            for found in self._record_sets(zone_id, name, record_type):
                key = (_dns_name(found["Name"]), found["Type"], found.get("SetIdentifier", ""))
                existing[key] = found
        changes = [
            upsert_record_set(r, existing.get((_dns_name(r.name), r.type, r.set_identifier)))
            for r in records
        ]
        route53 = self.clients.route53
        response = self.clients.call_route53(
            lambda: route53.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Comment": "eksup: weighted routing",
                    # UPSERT only: a CREATE of an existing identifier fails, and DELETE by set
                    # identifier is too blunt to leave to a rollout.
                    "Changes": [{"Action": "UPSERT", "ResourceRecordSet": c} for c in changes],
                },
            )
        )
        return response["ChangeInfo"]["Id"]

    def change_status(self, change_id: str) -> str:
        route53 = self.clients.route53
        response = self.clients.call_route53(lambda: route53.get_change(Id=change_id))
        return response["ChangeInfo"]["Status"]

    def _record_sets(
        self, zone_id: str, name: str, record_type: str
    ) -> list[ResourceRecordSetOutputTypeDef]:
        """The weighted record sets of one name and type, read from where they start."""
        route53 = self.clients.route53
        wanted = _dns_name(name)

        def request() -> list[ResourceRecordSetOutputTypeDef]:
            # The paginator cannot start at a name, so follow the Next* markers by hand.
            found: list[ResourceRecordSetOutputTypeDef] = []
            response = route53.list_resource_record_sets(
                HostedZoneId=zone_id,
                StartRecordName=name,
                StartRecordType=cast("RRTypeType", record_type),
            )
            while True:
                for record in response.get("ResourceRecordSets", ()):
                    if _dns_name(record["Name"]) == wanted and record["Type"] == record_type:
                        if "SetIdentifier" in record and "Weight" in record:
                            found.append(record)
                    else:
                        # The listing is sorted and starts at (name, type): past it, all is seen.
                        return found
                if not response.get("IsTruncated") or "NextRecordName" not in response:
                    return found
                response = route53.list_resource_record_sets(
                    HostedZoneId=zone_id,
                    StartRecordName=response["NextRecordName"],
                    StartRecordType=response.get("NextRecordType", "A"),
                    StartRecordIdentifier=response.get("NextRecordIdentifier", ""),
                )

        return self.clients.call_route53(request)


# CloudWatch -----------------------------------------------------------------------------------


def metric_data_query(query: MetricQuery) -> MetricDataQueryTypeDef:
    return {
        "Id": "m0",
        "MetricStat": {
            "Metric": {
                "Namespace": query.namespace,
                "MetricName": query.metric_name,
                "Dimensions": [
                    {"Name": name, "Value": value} for name, value in query.dimensions.items()
                ],
            },
            "Period": query.period_seconds,
            "Stat": query.statistic,
        },
        "ReturnData": True,
    }


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class Boto3Metrics:
    """`Metrics` on CloudWatch. Build it from an `AwsClients`."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def describe_alarms(self, names: Sequence[str]) -> list[Alarm]:
        """The named alarms that exist, metric and composite, in the order asked for."""
        alarms: dict[str, Alarm] = {}
        unique = list(dict.fromkeys(names))
        for start in range(0, len(unique), _ALARM_NAMES_PER_CALL):
            for alarm in self._alarms(unique[start : start + _ALARM_NAMES_PER_CALL]):
                alarms[alarm.name] = alarm
        return [alarms[name] for name in unique if name in alarms]

    def _alarms(self, names: list[str]) -> list[Alarm]:
        cloudwatch = self.clients.cloudwatch

        def request() -> list[Alarm]:
            pages = cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
            found = []
            for page in pages:
                for alarm in [*page.get("MetricAlarms", ()), *page.get("CompositeAlarms", ())]:
                    found.append(
                        Alarm(
                            name=alarm.get("AlarmName", ""),
                            state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
                            reason=alarm.get("StateReason", ""),
                        )
                    )
            return found

        return self.clients.call_cloudwatch(request)

    def metric_values(self, query: MetricQuery, start: float, end: float) -> list[float]:
        cloudwatch = self.clients.cloudwatch
        queries = [metric_data_query(query)]

        def request() -> list[tuple[datetime, float]]:
            pages = cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries,
                StartTime=_utc(start),
                EndTime=_utc(end),
                ScanBy="TimestampAscending",
            )
            return [
                point
                for page in pages
                for result in page.get("MetricDataResults", ())
                for point in zip(
                    result.get("Timestamps", ()), result.get("Values", ()), strict=False
                )
            ]

        points = self.clients.call_cloudwatch(request)
        return [value for _, value in sorted(points, key=lambda p: p[0])]
