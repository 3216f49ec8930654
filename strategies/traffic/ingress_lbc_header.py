"""A/B through an Ingress and the AWS Load Balancer Controller (LBC): a header's matches to B.

The LBC owns the ALB, so eksup cannot add a listener rule as it does on alb-elbv2 (the next
reconcile would delete it). The chart adds a second path instead, with the same host and path
as the main one and listed before it, whose backend is Service `<ab_action>` port
`use-annotation`; its actions annotation forwards to stable, so it changes nothing. eksup then
writes, in one patch:

    alb.ingress.kubernetes.io/conditions.<ab_action>:
        [{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"Cookie","values":["*b*"]}}]
    alb.ingress.kubernetes.io/actions.<ab_action>: forward to the candidate Service

and counts the route on only once ELBv2 shows the rule of that path (`ab_rule_arn`) with the
header condition, forwarding only to the candidate group. Off is the action forwarding to
stable again, the header condition kept: the rule stays valid for the LBC, sends the segment to
A, and leaves every other request to the main rule (without a condition the A/B path would take
all of them, and a canary on the main action would move nobody). The two annotations of
`ab_action` are eksup's: a run overwrites them, an abort forwards the path to stable whatever
its condition.
"""

from __future__ import annotations

import json
from typing import Any

from strategies.spec import AbTest, AlbIngressTraffic
from strategies.traffic.alb import listener_of
from strategies.traffic.alb_header import condition_key
from strategies.traffic.base import RouteReading
from strategies.traffic.ingress_lbc import forward_action, parse_forward_action
from upgrader.core.aws import ForwardRule
from upgrader.core.errors import UserError
from upgrader.core.kube import (
    ALB_ACTIONS_ANNOTATION_PREFIX,
    ALB_CONDITIONS_ANNOTATION_PREFIX,
    USE_ANNOTATION_PORT,
    Ingress,
)
from upgrader.core.ports import Cluster, LoadBalancers


def _short(arn: str) -> str:
    parts = arn.rsplit(":", 1)[-1].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "targetgroup" else parts[-1]


def _host_and_path(rule: ForwardRule) -> list[str]:
    """The conditions a rule takes from its Ingress path (the LBC makes the others from the
    conditions annotation)."""
    fields = ("host-header", "path-pattern")
    return sorted(condition_key(c) for c in rule.conditions if c.get("Field") in fields)


class IngressHeaderRoute:
    """`ExperimentRoute` for A/B on alb-ingress."""

    name = "alb-ingress"

    def __init__(
        self,
        cluster: Cluster,
        load_balancers: LoadBalancers,
        traffic: AlbIngressTraffic,
        ab: AbTest,
        namespace: str,
    ) -> None:
        if traffic.ab_action is None or traffic.ab_rule_arn is None:
            raise UserError("A/B on alb-ingress needs traffic.ab_action and traffic.ab_rule_arn")
        self._cluster = cluster
        self._lbs = load_balancers
        self._traffic = traffic
        self._ab = ab
        self._namespace = namespace
        self._action: str = traffic.ab_action
        self._rule_arn: str = traffic.ab_rule_arn
        self.actions_key = ALB_ACTIONS_ANNOTATION_PREFIX + self._action
        self.conditions_key = ALB_CONDITIONS_ANNOTATION_PREFIX + self._action
        self._listener = listener_of(self._rule_arn)
        if listener_of(traffic.rule_arn) != self._listener:
            raise UserError(
                f"traffic.ab_rule_arn is on listener {self._listener}, traffic.rule_arn on "
                f"{listener_of(traffic.rule_arn)}: both paths must be on the same listener"
            )
        self._on_default = listener_of(traffic.rule_arn) == traffic.rule_arn

    # ---------------------------------------------------------------- what eksup writes

    def _lbc_condition(self) -> dict[str, Any]:
        return {
            "field": "http-header",
            "httpHeaderConfig": {
                "httpHeaderName": self._ab.header,
                "values": list(self._ab.values),
            },
        }

    def _conditions_value(self) -> str:
        return json.dumps([self._lbc_condition()], separators=(",", ":"))

    def _forward_value(self, service: str) -> str:
        action = forward_action([(service, self._traffic.service_port, 1)])
        return json.dumps(action, separators=(",", ":"))

    def _elbv2_condition_key(self) -> str:
        return condition_key(
            {
                "Field": "http-header",
                "HttpHeaderConfig": {
                    "HttpHeaderName": self._ab.header,
                    "Values": list(self._ab.values),
                },
            }
        )

    # ---------------------------------------------------------------- reading

    @property
    def _where(self) -> str:
        return f"Ingress {self._namespace}/{self._traffic.ingress}"

    def _ingress(self) -> Ingress:
        ingress = self._cluster.get_ingress(self._namespace, self._traffic.ingress)
        if not any(
            b.service == self._action and b.port == USE_ANNOTATION_PORT for b in ingress.backends
        ):
            raise UserError(
                f"{self._where} has no path whose backend is service {self._action} port "
                f"{USE_ANNOTATION_PORT}: add one with the same host and path as "
                f"{self._traffic.action}'s, listed before it"
            )
        return ingress

    def _asked(self, ingress: Ingress) -> str:
        """What the annotations ask for: "on", "off", or a description of something else."""
        text = ingress.annotations.get(self.actions_key)
        if text is None:
            # Without it the LBC refuses to build the whole Ingress.
            raise UserError(
                f"{self._where} has no {self.actions_key} annotation; give it the forward "
                f"action of {self._traffic.stable_service} so the path changes nothing until "
                "the A/B starts"
            )
        try:
            groups = parse_forward_action(text)
        except UserError as error:
            raise UserError(f"{self._where} {self.actions_key}: {error}") from None
        services = sorted(
            str(g.get("serviceName") or g.get("targetGroupARN"))
            for g in groups
            if not isinstance(g.get("weight"), int) or g.get("weight", 1) > 0
        )
        conditions = ingress.annotations.get(self.conditions_key)
        ours = conditions is not None and self._ours(conditions)
        if services == [self._traffic.stable_service]:
            return "off"  # whatever the condition: nobody goes to B through this path
        if services == [self._traffic.candidate_service] and ours:
            return "on"
        return f"{self.actions_key} forwards to {', '.join(services) or 'nothing'}" + (
            "" if ours else f" with {self.conditions_key} {conditions or 'unset'}"
        )

    def _ours(self, text: str) -> bool:
        try:
            parsed = json.loads(text)
        except ValueError:
            return False
        return isinstance(parsed, list) and parsed == [self._lbc_condition()]

    def _rules(self) -> tuple[ForwardRule, ForwardRule]:
        """The main path's rule (or the listener's default) and the A/B path's rule."""
        rules = self._lbs.describe_forward_rules(self._listener)
        base = next((r for r in rules if r.arn == self._traffic.rule_arn), None)
        ab = next((r for r in rules if r.arn == self._rule_arn), None)
        if base is None or ab is None:
            missing = self._traffic.rule_arn if base is None else self._rule_arn
            raise UserError(f"{missing} not found on listener {self._listener}")
        if not self._on_default and int(ab.priority) >= int(base.priority):
            raise UserError(
                f"the rule of path {self._action} (priority {ab.priority}) comes after the "
                f"main rule (priority {base.priority}): it would never match; list the "
                f"{self._action} path before the {self._traffic.action} one in the Ingress"
            )
        if not self._on_default and _host_and_path(ab) != _host_and_path(base):
            # Matched users would then be sent to B on other requests than the main rule's.
            raise UserError(
                f"the rule of path {self._action} matches other requests than the main rule "
                f"(host and path): give the {self._action} path the same host and path as the "
                f"{self._traffic.action} one"
            )
        return base, ab

    def read(self) -> RouteReading:
        asked = self._asked(self._ingress())
        _, rule = self._rules()
        groups = [t.target_group_arn for t in rule.targets if t.weight > 0]
        matches = self._elbv2_condition_key() in {condition_key(c) for c in rule.conditions}
        live_on = matches and groups == [self._traffic.candidate_target_group]
        live_off = groups == [self._traffic.stable_target_group]
        live = (
            f"ELBv2 rule {_short(rule.arn)} (priority {rule.priority}): "
            + (f"{self._match()} -> " if matches else "no header match -> ")
            + (", ".join(_short(g) for g in groups) or "nothing")
        )
        if asked == "on" and live_on:
            return RouteReading(on=True, off=False, detail=f"A/B on: {live}")
        if asked == "off" and live_off:
            return RouteReading(on=False, off=True, detail=f"no A/B on path {self._action}: {live}")
        wish = {"on": "A/B asked", "off": "no A/B asked"}.get(asked, asked)
        return RouteReading(on=False, off=False, detail=f"{wish} in the Ingress; {live}")

    # ---------------------------------------------------------------- changing

    def turn_on(self) -> None:
        self._asked(self._ingress())  # refuses an Ingress without the path before writing
        self._cluster.patch_ingress_annotations(
            self._namespace,
            self._traffic.ingress,
            {
                self.conditions_key: self._conditions_value(),
                self.actions_key: self._forward_value(self._traffic.candidate_service),
            },
        )

    def turn_off(self) -> None:
        self._cluster.patch_ingress_annotations(
            self._namespace,
            self._traffic.ingress,
            {self.actions_key: self._forward_value(self._traffic.stable_service)},
        )

    # ---------------------------------------------------------------- describing

    def _match(self) -> str:
        return f"{self._ab.header} ~ {' | '.join(self._ab.values)}"

    def describe_on(self) -> str:
        return (
            f"kubectl annotate ingress -n {self._namespace} {self._traffic.ingress} --overwrite "
            f"'{self.conditions_key}={self._conditions_value()}' "
            f"'{self.actions_key}={self._forward_value(self._traffic.candidate_service)}'; "
            f"then ELBv2 rule {_short(self._rule_arn)}: if {self._match()} forward "
            f"{_short(self._traffic.candidate_target_group)}"
        )

    def describe_off(self) -> str:
        return (
            f"kubectl annotate ingress -n {self._namespace} {self._traffic.ingress} --overwrite "
            f"'{self.actions_key}={self._forward_value(self._traffic.stable_service)}'; if "
            f"the LBC does not reconcile, make ELBv2 rule {_short(self._rule_arn)} forward "
            f"only to {_short(self._traffic.stable_target_group)} until it is back"
        )
