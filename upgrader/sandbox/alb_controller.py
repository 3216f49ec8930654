"""A tiny AWS Load Balancer Controller: a FakeCluster Ingress's weights onto a moto ALB rule.

The real controller builds the whole ALB from an Ingress; this one does the single thing the
alb-ingress traffic provider depends on: when an Ingress's `actions.<name>` annotation changes,
it sets the weights of that action on the listener rule the Ingress owns. What it would have
created itself (the rule, one target group per Service) is registered up front, the way a
TargetGroupBinding names a Service's target group.

It also honours `conditions.<name>` on a rule bound to action `<name>`: the rule's conditions
become the ones it had when bound (the path's host and path) plus the annotation's, as the
real controller adds them to a path's own; without the annotation, the path's alone again.

`provision` plays the controller's first reconcile of an Ingress, for a world that has none
yet: one ALB per Ingress, a listener on :80, a target group per Service port, and one rule per
path in the Ingress's order at priorities 1, 2, ... with the path's host and path as conditions
and, for a `use-annotation` backend, the `actions.<name>` annotation's forward (the LBC's
`buildListenerRules`, pkg/ingress/model_build_listener_rules.go: ImplementationSpecific paths
keep their order, priorities count up from 1). Targets are not registered: no gate of the
examples reads them.

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
    USE_ANNOTATION_PORT,
    Ingress,
)
from upgrader.core.ports import LoadBalancers
from upgrader.sandbox.aws_world import load_balancer, target_group
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

# The real controller's reconcile after an Ingress event usually takes a few seconds.
DEFAULT_RECONCILE_SECONDS = 5.0

_IngressKey = tuple[str, str]
_LISTENER_PORT = 80


@dataclass(frozen=True)
class ProvisionedAlb:
    """What `provision` made for one Ingress: the ALB, its listener, the rule of each path (by
    the path's backend Service, which is the action name for `use-annotation` paths) and the
    target group of each Service."""

    load_balancer: str
    listener: str
    rules: dict[str, str]
    target_groups: dict[str, str]


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
        self._cluster = cluster
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

    def provision(
        self, namespace: str, name: str, *, subnets: list[str], vpc: str
    ) -> ProvisionedAlb:
        """Build the Ingress's ALB as the controller's first reconcile would, and bind it."""
        ingress = self._cluster.get_ingress(namespace, name)
        elbv2 = self._elbv2
        lb_arn = load_balancer(elbv2, _alb_name(namespace, name), subnets)
        groups: dict[str, str] = {}
        for service, port in _services(ingress):
            if (namespace, service, port) in self._target_groups:
                groups[service] = self._target_groups[(namespace, service, port)]
                continue
            groups[service] = target_group(elbv2, vpc, _alb_name(namespace, service), ())
            self.bind_service(namespace, service, port, groups[service])
        listener = str(
            elbv2.create_listener(
                LoadBalancerArn=lb_arn,
                Protocol="HTTP",
                Port=_LISTENER_PORT,
                # No default backend: the controller answers 404 itself.
                DefaultActions=[
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
                    }
                ],
            )["Listeners"][0]["ListenerArn"]
        )
        rules: dict[str, str] = {}
        paths = [b for b in ingress.backends if b.path]
        for priority, backend in enumerate(paths, start=1):
            if backend.port == USE_ANNOTATION_PORT:
                text = ingress.annotations.get(ALB_ACTIONS_ANNOTATION_PREFIX + backend.service)
                if text is None:
                    raise ValueError(
                        f"{ingress.key}: path {backend.path} uses annotation "
                        f"actions.{backend.service}, which the Ingress lacks"
                    )
                weights = self._weights(namespace, text)
            else:
                weights = {groups[backend.service]: 1}
            rule = elbv2.create_rule(
                ListenerArn=listener,
                Priority=priority,
                Conditions=_path_conditions(backend.host, backend.path),
                Actions=[_forward(weights)],
            )["Rules"][0]
            rules[backend.service] = str(rule["RuleArn"])
            if backend.port == USE_ANNOTATION_PORT:
                self.bind_action(namespace, name, backend.service, rules[backend.service])
        # Conditions annotations, as any later change would apply them.
        key = (namespace, name)
        if key in self._owned:
            self._latest[key] = ingress
            self._due.add(key)
            self._reconcile(key)
        return ProvisionedAlb(lb_arn, listener, rules, groups)

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


def _alb_name(namespace: str, name: str) -> str:
    """`k8s-<namespace>-<name>`, within ELBv2's 32 characters (the real controller adds a hash
    of the group; the sandbox has one Ingress per name)."""
    return f"k8s-{namespace}-{name}"[:32].rstrip("-")


def _services(ingress: Ingress) -> list[tuple[str, str]]:
    """Each (Service, port) the Ingress sends to: its paths' and its forward annotations'."""
    found: dict[tuple[str, str], None] = {}
    for backend in ingress.backends:
        if backend.port != USE_ANNOTATION_PORT:
            found[(backend.service, backend.port)] = None
    for key, text in sorted(ingress.annotations.items()):
        if not key.startswith(ALB_ACTIONS_ANNOTATION_PREFIX):
            continue
        action = json.loads(text)
        for group in (action.get("forwardConfig") or {}).get("targetGroups") or ():
            if group.get("serviceName"):
                found[(str(group["serviceName"]), str(group["servicePort"]))] = None
    return list(found)


def _path_conditions(host: str, path: str) -> list[dict[str, Any]]:
    """A path with `*` or `?` is taken as ImplementationSpecific (ALB wildcards, as written);
    another as Prefix: "/" becomes "/*", "/a" becomes "/a" and "/a/*"."""
    conditions: list[dict[str, Any]] = []
    if host:
        conditions.append({"Field": "host-header", "HostHeaderConfig": {"Values": [host]}})
    if "*" in path or "?" in path:
        values = [path]
    elif path == "/":
        values = ["/*"]
    else:
        values = [path.rstrip("/"), path.rstrip("/") + "/*"]
    conditions.append({"Field": "path-pattern", "PathPatternConfig": {"Values": values}})
    return conditions


def _forward(weights: dict[str, int]) -> dict[str, Any]:
    groups = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in weights.items()]
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}
