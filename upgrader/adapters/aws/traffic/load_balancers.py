"""The `LoadBalancers` port on ELBv2: a listener rule's weighted forward action, read back and
rewritten within the ALB's limits, and the header rules of A/B routes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from upgrader.adapters.aws.clients import AwsClients
from upgrader.core.aws import ForwardRule, TargetHealth, TargetWeight
from upgrader.core.errors import AwsApiError, ConflictError, NotFoundError, UserError

if TYPE_CHECKING:
    from mypy_boto3_elbv2.type_defs import (
        ActionOutputTypeDef,
        ActionTypeDef,
        ActionUnionTypeDef,
        ForwardActionConfigTypeDef,
        RuleConditionTypeDef,
        RuleTypeDef,
        TargetHealthDescriptionTypeDef,
    )


# ALB limits: a forward action spreads over at most 5 target groups, weights 0-999 each.
MAX_FORWARD_TARGET_GROUPS = 5
MAX_FORWARD_WEIGHT = 999
# An ALB rule matches on at most 5 condition values in all (each wildcard value counts once).
MAX_RULE_CONDITION_VALUES = 5


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
