"""Weights on an ALB listener rule through ELBv2 (`alb-elbv2`)."""

from __future__ import annotations

from strategies.spec import (
    AlbTraffic,
)
from strategies.steps import Weights
from strategies.traffic.base import _check_limit
from upgrader.core.aws import ForwardRule
from upgrader.core.errors import UserError
from upgrader.core.ports import LoadBalancers

ALB_MAX_WEIGHT = 999


# ALB ------------------------------------------------------------------------------------------


def listener_of(rule_arn: str) -> str:
    """The listener ARN of a listener or listener-rule ARN.

    arn:...:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id> belongs to
    arn:...:listener/app/<lb>/<lb-id>/<listener-id>.
    """
    prefix, sep, resource = rule_arn.rpartition(":")
    kind, _, path = resource.partition("/")
    if not sep or kind not in ("listener", "listener-rule"):
        raise UserError(f"not an ELBv2 listener or rule ARN: {rule_arn}")
    if kind == "listener":
        return rule_arn
    return f"{prefix}:listener/{path.rsplit('/', 1)[0]}"


class AlbProvider:
    """A weighted forward action on an ALB rule (or a listener's default action), via ELBv2."""

    name = "alb-elbv2"
    max_weight = ALB_MAX_WEIGHT

    def __init__(self, load_balancers: LoadBalancers, traffic: AlbTraffic) -> None:
        self._lbs = load_balancers
        self._traffic = traffic
        self._listener = listener_of(traffic.rule_arn)

    @property
    def drain_seconds(self) -> float:
        return self._traffic.stickiness_seconds

    def apply(self, weights: Weights) -> None:
        _check_limit(weights, self.max_weight, "ALB")
        # One ModifyRule/ModifyListener: both groups change together, never a moment with both
        # at 0 or the action pointing elsewhere. ELBv2 applies it synchronously.
        self._lbs.set_forward_weights(
            self._traffic.rule_arn,
            {
                self._traffic.stable_target_group: weights.stable,
                self._traffic.candidate_target_group: weights.candidate,
            },
        )

    def read(self) -> Weights:
        rule = self._rule()
        return self._weights(rule)

    def describe_change(self, weights: Weights) -> str:
        t = self._traffic
        # A listener ARN means its default action: ModifyListener, not ModifyRule.
        call = (
            f"modify-listener --listener-arn {t.rule_arn}"
            if t.rule_arn == self._listener
            else f"modify-rule --rule-arn {t.rule_arn}"
        )
        return (
            f"elbv2 {call}: forward {t.stable_target_group}={weights.stable} "
            f"{t.candidate_target_group}={weights.candidate}"
        )

    def _rule(self) -> ForwardRule:
        for rule in self._lbs.describe_forward_rules(self._listener):
            if rule.arn == self._traffic.rule_arn:
                return rule
        raise UserError(f"{self._traffic.rule_arn} not found on listener {self._listener}")

    def _weights(self, rule: ForwardRule) -> Weights:
        ours = (self._traffic.stable_target_group, self._traffic.candidate_target_group)
        others = [t.target_group_arn for t in rule.targets if t.target_group_arn not in ours]
        if others:
            # Setting two weights would silently drop these groups from the action.
            raise UserError(
                f"{rule.arn} also forwards to {', '.join(others)}, which the spec does not "
                "name; eksup only moves traffic between the stable and candidate groups"
            )
        if not rule.targets:
            raise UserError(f"{rule.arn} has no forward action")
        found = {t.target_group_arn: t.weight for t in rule.targets}
        return Weights(stable=found.get(ours[0], 0), candidate=found.get(ours[1], 0))
