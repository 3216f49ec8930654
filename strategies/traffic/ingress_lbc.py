"""Traffic through an Ingress and the AWS Load Balancer Controller (LBC), the usual way on EKS.

The LBC owns the ALB: a weight eksup wrote straight into ELBv2 would be reverted by the next
reconcile. So eksup writes the weights where the LBC reads them, the Ingress annotation
`alb.ingress.kubernetes.io/actions.<action>`:

    {"type": "forward", "forwardConfig": {"targetGroups": [
        {"serviceName": "web-stable", "servicePort": 80, "weight": 95},
        {"serviceName": "web-candidate", "servicePort": 80, "weight": 5}]}}

and counts them only once ELBv2 carries them on the listener rule: the annotation is a wish,
the ALB is the traffic. A controller that is down, lagging or rejecting the annotation leaves
the rule as it was; the runner's convergence deadline then passes and the rollout rolls back.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

from strategies.spec import AbTest, AlbIngressTraffic, AlbTraffic, RolloutSpec, Shadow
from strategies.steps import Weights
from strategies.traffic.alb import ALB_MAX_WEIGHT, AlbProvider, listener_of
from strategies.traffic.base import INSYNC_POLL_SECONDS, NotConvergedError, _check_limit
from upgrader.core.errors import UserError
from upgrader.core.kube import ALB_ACTIONS_ANNOTATION_PREFIX, USE_ANNOTATION_PORT, Ingress
from upgrader.core.ports import Clock, Cluster, LoadBalancers


def forward_action(
    groups: list[tuple[str, int | str, int]], stickiness_seconds: int = 0
) -> dict[str, Any]:
    """The LBC's forward action for (serviceName, servicePort, weight) triples."""
    config: dict[str, Any] = {
        "targetGroups": [
            {"serviceName": service, "servicePort": port, "weight": weight}
            for service, port, weight in groups
        ]
    }
    if stickiness_seconds:
        config["targetGroupStickinessConfig"] = {
            "enabled": True,
            "durationSeconds": stickiness_seconds,
        }
    return {"type": "forward", "forwardConfig": config}


def parse_forward_action(text: str) -> list[dict[str, Any]]:
    """The target groups of an actions.<name> annotation; UserError if it is no forward action."""
    try:
        action = json.loads(text)
    except ValueError as error:
        raise UserError(f"not JSON: {error}") from None
    if not isinstance(action, dict) or action.get("type") != "forward":
        raise UserError("not a forward action")
    if "targetGroupARN" in action and action.get("targetGroupARN") is not None:
        return [{"targetGroupARN": action["targetGroupARN"]}]
    config = action.get("forwardConfig")
    groups = config.get("targetGroups") if isinstance(config, dict) else None
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise UserError("forwardConfig.targetGroups is not a list of target groups")
    return groups


def _proportional(a: Weights, b: Weights) -> bool:
    """The same split on possibly different scales (100/0 and 1/0 both mean all stable)."""
    return a.stable * b.total == b.stable * a.total and a.total > 0 and b.total > 0


def pending(asked: Weights, live: Weights) -> Weights:
    """What a change the controller has not applied yet reads as: each side at the larger of
    its share in the annotation and on the ALB, in percent rounded up. Both sides cannot be
    larger in both, so the total exceeds 100 and never equals a step; and the candidate reads
    0 only if neither sends it anything, so all-stable is never confirmed while a controller
    could still move traffic to the candidate."""

    def share(weights: Weights, part: int) -> Fraction:
        return Fraction(100 * part, weights.total) if weights.total else Fraction(0)

    return Weights(
        math.ceil(max(share(asked, asked.stable), share(live, live.stable))),
        math.ceil(max(share(asked, asked.candidate), share(live, live.candidate))),
    )


class AlbIngressProvider:
    """Weights in an Ingress annotation, confirmed on the ALB rule the LBC made from it."""

    name = "alb-ingress"
    max_weight = ALB_MAX_WEIGHT

    def __init__(
        self,
        cluster: Cluster,
        load_balancers: LoadBalancers,
        clock: Clock,
        namespace: str,
        traffic: AlbIngressTraffic,
        *,
        converge_seconds: float = 300.0,
    ) -> None:
        self._cluster = cluster
        self._clock = clock
        self._converge_seconds = converge_seconds
        self._namespace = namespace
        self._traffic = traffic
        self.annotation = ALB_ACTIONS_ANNOTATION_PREFIX + traffic.action
        # Reading the rule is what the alb-elbv2 provider does; only the writing differs.
        self._alb = AlbProvider(
            load_balancers,
            AlbTraffic(
                provider="alb-elbv2",
                rule_arn=traffic.rule_arn,
                stable_target_group=traffic.stable_target_group,
                candidate_target_group=traffic.candidate_target_group,
            ),
        )
        listener_of(traffic.rule_arn)  # a malformed ARN fails now, before anything moves

    @property
    def drain_seconds(self) -> float:
        return float(self._traffic.stickiness_seconds)

    @property
    def _where(self) -> str:
        return f"Ingress {self._namespace}/{self._traffic.ingress}"

    def apply(self, weights: Weights) -> None:
        _check_limit(weights, self.max_weight, "ALB")
        ingress = self._ingress()
        self._wanted(ingress)  # refuses an annotation naming groups eksup would drop
        self._cluster.patch_ingress_annotations(
            self._namespace, self._traffic.ingress, {self.annotation: self._value(weights)}
        )
        self._wait_applied(weights)

    def read(self) -> Weights:
        """The ALB rule's weights, once the Ingress asks for the same split; until then
        `pending(asked, live)`, so neither a shift nor a rollback counts as done before the
        controller has applied the annotation."""
        wanted = self._wanted(self._ingress())
        live = self._alb.read()
        if _proportional(wanted, live):
            return live
        return pending(wanted, live)

    def describe_change(self, weights: Weights) -> str:
        t = self._traffic
        return (
            f"kubectl annotate ingress -n {self._namespace} {t.ingress} --overwrite "
            f"'{self.annotation}={self._value(weights)}'; then wait until the LBC shows it: "
            f"elbv2 rule {t.rule_arn} forwards {_short(t.stable_target_group)}={weights.stable} "
            f"{_short(t.candidate_target_group)}={weights.candidate}"
        )

    # ---------------------------------------------------------------- helpers

    def _wait_applied(self, weights: Weights) -> None:
        """Until the controller has put the annotation on the ALB: the LBC reconciles an
        Ingress within seconds, or not at all (down, no IAM permission, a rejected action)."""
        deadline = self._clock.now() + self._converge_seconds
        while True:
            live = self._alb.read()
            if _proportional(weights, live):
                return
            if self._clock.now() + INSYNC_POLL_SECONDS > deadline:
                raise NotConvergedError(
                    f"the AWS Load Balancer Controller has not applied {self._where} "
                    f"{self.annotation} ({weights}) after {self._converge_seconds:g}s: ELBv2 "
                    f"rule {self._traffic.rule_arn} still forwards {live}"
                )
            self._clock.sleep(INSYNC_POLL_SECONDS)

    def _value(self, weights: Weights) -> str:
        t = self._traffic
        action = forward_action(
            [
                (t.stable_service, t.service_port, weights.stable),
                (t.candidate_service, t.service_port, weights.candidate),
            ],
            t.stickiness_seconds,
        )
        return json.dumps(action, separators=(",", ":"))

    def _ingress(self) -> Ingress:
        ingress = self._cluster.get_ingress(self._namespace, self._traffic.ingress)
        uses = any(
            b.service == self._traffic.action and b.port == USE_ANNOTATION_PORT
            for b in ingress.backends
        )
        if not uses:
            # The LBC ignores an action no rule points at: the weights would change nothing.
            raise UserError(
                f"{self._where} has no backend with service {self._traffic.action} and port "
                f"name {USE_ANNOTATION_PORT}, so the LBC never reads {self.annotation}"
            )
        return ingress

    def _wanted(self, ingress: Ingress) -> Weights:
        """The split the annotation asks for now."""
        t = self._traffic
        text = ingress.annotations.get(self.annotation)
        if text is None:
            raise UserError(
                f"{self._where} has no {self.annotation} annotation; give it the forward "
                f"action of {t.stable_service} (weight 100) and {t.candidate_service} (weight 0)"
            )
        try:
            groups = parse_forward_action(text)
        except UserError as error:
            raise UserError(f"{self._where} {self.annotation}: {error}") from None
        found: dict[str, int] = {}
        others: list[str] = []
        for group in groups:
            service = group.get("serviceName")
            if service not in (t.stable_service, t.candidate_service):
                arn = group.get("targetGroupARN")
                if arn in (t.stable_target_group, t.candidate_target_group):
                    raise UserError(
                        f"{self._where} {self.annotation} names target group {arn} by ARN; "
                        "eksup writes serviceName and servicePort: name the services there"
                    )
                others.append(str(service or arn))
                continue
            if str(group.get("servicePort")) != str(t.service_port):
                # Written as the spec says, the LBC would look for a port the Service lacks.
                raise UserError(
                    f"{self._where} {self.annotation} sends {service} to servicePort "
                    f"{group.get('servicePort')}, the spec says service_port {t.service_port}"
                )
            weight = group.get("weight", 1)
            found[str(service)] = weight if isinstance(weight, int) else 0
        if others:
            # Writing two groups would silently drop these from the action.
            raise UserError(
                f"{self._where} {self.annotation} also forwards to {', '.join(others)}, which "
                "the spec does not name; eksup only moves traffic between the stable and "
                "candidate services"
            )
        return Weights(found.get(t.stable_service, 0), found.get(t.candidate_service, 0))


def _short(arn: str) -> str:
    """targetgroup/<name>/<id> -> <name>: enough to tell the two groups apart in one line."""
    resource = arn.rsplit(":", 1)[-1]
    parts = resource.split("/")
    return parts[1] if len(parts) > 1 else resource


def ingress_refusal(spec: RolloutSpec) -> str | None:
    """Why this strategy cannot run through the LBC's Ingress annotations, or None."""
    from strategies.traffic.base import MIRROR_ADVICE

    if isinstance(spec.strategy, Shadow):
        return f"ALB cannot mirror traffic; {MIRROR_ADVICE}"
    if isinstance(spec.strategy, AbTest) and isinstance(spec.traffic, AlbIngressTraffic):
        missing = [
            name
            for name, value in (
                ("ab_action", spec.traffic.ab_action),
                ("ab_rule_arn", spec.traffic.ab_rule_arn),
            )
            if value is None
        ]
        if missing:
            return (
                f"A/B needs traffic.{' and traffic.'.join(missing)}: a second path in the "
                "Ingress (same host and path, before the main one) whose backend is Service "
                "<ab_action> port use-annotation, and the ALB rule the LBC made for it"
            )
    return None
