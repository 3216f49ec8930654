"""A tiny AWS Load Balancer Controller: a FakeCluster Ingress's weights onto a moto ALB rule.

The real controller builds the whole ALB from an Ingress; this one does the single thing the
alb-ingress traffic provider depends on: when an Ingress's `actions.<name>` annotation changes,
it sets the weights of that action on the listener rule the Ingress owns. What it would have
created itself (the rule, one target group per Service) is registered up front, the way a
TargetGroupBinding names a Service's target group.

It also honours `conditions.<name>` on a rule bound to action `<name>`: the rule's conditions
become the ones it had when bound (the path's host and path) plus the annotation's, as the
real controller adds them to a path's own; without the annotation, the path's alone again.

It reconciles `reconcile_seconds` after a change, on the shared virtual clock, so a provider
has to wait for convergence as it does against the real one; `stop()` makes it a controller
that is down (crash-looping, evicted, no IAM permission): changes pile up unapplied, which is
what a rollout must detect and roll back from. An annotation it cannot apply is recorded in
`errors`, as the real one reports a FailedBuildModel event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.adapters.aws.traffic import condition_input
from upgrader.core.errors import EksupError
from upgrader.core.kube import (
    ALB_ACTIONS_ANNOTATION_PREFIX,
    ALB_CONDITIONS_ANNOTATION_PREFIX,
    Ingress,
)
from upgrader.core.ports import LoadBalancers
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

# The real controller's reconcile after an Ingress event usually takes a few seconds.
DEFAULT_RECONCILE_SECONDS = 5.0

_IngressKey = tuple[str, str]


@dataclass
class _Owned:
    """The rules an Ingress's actions forward with, by action name."""

    rules: dict[str, str] = field(default_factory=dict)


class FakeAlbController:
    def __init__(
        self,
        cluster: FakeCluster,
        load_balancers: LoadBalancers,
        clock: VirtualClock,
        reconcile_seconds: float = DEFAULT_RECONCILE_SECONDS,
        elbv2: Any = None,
    ) -> None:
        self._lbs = load_balancers
        # Conditions are no weight: the LoadBalancers port has no call for them (eksup never
        # sets one through the LBC's ALB), so the controller uses the ELBv2 client itself.
        if elbv2 is None and isinstance(load_balancers, Boto3Aws):
            elbv2 = load_balancers.clients.elbv2
        self._elbv2: Any = elbv2
        self._path_conditions: dict[str, list[Any]] = {}
        self._clock = clock
        self.reconcile_seconds = reconcile_seconds
        self._target_groups: dict[tuple[str, str, str], str] = {}
        self._owned: dict[_IngressKey, _Owned] = {}
        self._latest: dict[_IngressKey, Ingress] = {}
        self._due: set[_IngressKey] = set()
        self.running = True
        self.errors: list[str] = []
        self.reconciles = 0
        cluster.watch_ingresses(self._on_change)

    # ---------------------------------------------------------------- what the test registers

    def bind_service(
        self, namespace: str, service: str, port: int | str, target_group: str
    ) -> None:
        """The target group the controller made for this Service port (a TargetGroupBinding)."""
        self._target_groups[(namespace, service, str(port))] = target_group

    def bind_action(self, namespace: str, ingress: str, action: str, rule_arn: str) -> None:
        """The listener rule (or listener, for a default backend) this Ingress action is on."""
        self._owned.setdefault((namespace, ingress), _Owned()).rules[action] = rule_arn
        if self._elbv2 is not None and ":listener-rule/" in rule_arn:
            rule = self._elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
            self._path_conditions[rule_arn] = [condition_input(c) for c in rule["Conditions"]]

    def stop(self) -> None:
        """The controller is down: nothing is reconciled until `start`."""
        self.running = False

    def start(self) -> None:
        """Back up: it reconciles every Ingress that changed meanwhile, as a resync would."""
        self.running = True
        for key in sorted(self._due):
            self._schedule(key)

    # ---------------------------------------------------------------- reconciling

    def _on_change(self, ingress: Ingress) -> None:
        key = (ingress.namespace, ingress.name)
        if key not in self._owned:
            return  # not an Ingress of this controller's ALB
        self._latest[key] = ingress
        self._due.add(key)
        if self.running:
            self._schedule(key)

    def _schedule(self, key: _IngressKey) -> None:
        self._clock.call_later(self.reconcile_seconds, lambda: self._reconcile(key))

    def _reconcile(self, key: _IngressKey) -> None:
        if not self.running or key not in self._due:
            return  # stopped meanwhile, or an earlier event already applied the latest state
        self._due.discard(key)
        self.reconciles += 1
        ingress = self._latest[key]
        for action, rule_arn in sorted(self._owned[key].rules.items()):
            text = ingress.annotations.get(ALB_ACTIONS_ANNOTATION_PREFIX + action)
            if text is None:
                continue
            try:
                # Both parsed before either is applied: the real one builds the whole rule
                # or reports the Ingress and changes nothing.
                weights = self._weights(ingress.namespace, text)
                conditions = self._conditions(
                    rule_arn, ingress.annotations.get(ALB_CONDITIONS_ANNOTATION_PREFIX + action)
                )
                if conditions is not None:
                    self._elbv2.modify_rule(RuleArn=rule_arn, Conditions=conditions)
                self._lbs.set_forward_weights(rule_arn, weights)
            except (ValueError, KeyError, TypeError, EksupError) as error:
                self.errors.append(f"{ingress.key} actions.{action}: {error}")

    def _conditions(self, rule_arn: str, text: str | None) -> list[Any] | None:
        """The rule's conditions: its path's and the annotation's; None when the rule's
        conditions are not this controller's to set (a listener's default action)."""
        path = self._path_conditions.get(rule_arn)
        if path is None:
            if text is not None:
                raise ValueError("conditions on a default backend: it has no rule to put them on")
            return None
        if text is None:
            return list(path)
        extra = json.loads(text)
        if not isinstance(extra, list) or not all(isinstance(c, dict) for c in extra):
            raise ValueError("conditions must be a JSON list of conditions")
        return [*path, *(_elbv2_form(c) for c in extra)]

    def _weights(self, namespace: str, text: str) -> dict[str, int]:
        """Target group ARN -> weight, from one forward action annotation."""
        action: dict[str, Any] = json.loads(text)
        if action.get("type") != "forward":
            raise ValueError(f"unsupported action type {action.get('type')!r}")
        if action.get("targetGroupARN"):
            return {str(action["targetGroupARN"]): 1}
        groups = action["forwardConfig"]["targetGroups"]
        if len(groups) > 1 and any("weight" not in g for g in groups):
            raise ValueError("weight must be set when route to multiple target groups")
        weights: dict[str, int] = {}
        for group in groups:
            if group.get("targetGroupARN"):
                arn = str(group["targetGroupARN"])
            else:
                service_key = (namespace, group["serviceName"], str(group["servicePort"]))
                if service_key not in self._target_groups:
                    raise ValueError(
                        f"no target group for service {group['serviceName']}:{group['servicePort']}"
                    )
                arn = self._target_groups[service_key]
            weights[arn] = int(group.get("weight", 1))
        return weights


def _elbv2_form(value: Any) -> Any:
    """The LBC's condition JSON ({"field": ..., "httpHeaderConfig": {"httpHeaderName": ...}})
    in ELBv2's casing ({"Field": ..., "HttpHeaderConfig": {"HttpHeaderName": ...}})."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _elbv2_form(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_elbv2_form(item) for item in value]
    return value
