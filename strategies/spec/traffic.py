"""`traffic:` of the rollout spec: the switch that moves requests, one model per provider."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from strategies.spec.base import Model, Seconds


class AlbTraffic(Model):
    """An ALB eksup drives directly through ELBv2: one rule's (or a listener's default)
    forward action, weighted between two target groups."""

    provider: Literal["alb-elbv2"]
    rule_arn: str = Field(pattern=r"^arn:[^:]+:elasticloadbalancing:.*:(listener|listener-rule)/")
    stable_target_group: str = Field(pattern=r"^arn:[^:]+:elasticloadbalancing:.*:targetgroup/")
    candidate_target_group: str = Field(pattern=r"^arn:[^:]+:elasticloadbalancing:.*:targetgroup/")
    # Target-group stickiness keeps a client on the side it first reached for this long, so
    # after a rollback the candidate still serves sticky clients until it expires. 0: none.
    stickiness_seconds: Seconds = 0.0

    @model_validator(mode="after")
    def _two_groups(self) -> AlbTraffic:
        if self.stable_target_group == self.candidate_target_group:
            raise ValueError("stable and candidate target groups must differ")
        return self


class Route53Traffic(Model):
    """Weighted records of one name: one set identifier per side (blue/green clusters)."""

    provider: Literal["route53"]
    zone_id: str = Field(min_length=1)
    record_name: str = Field(min_length=1)
    record_type: Literal["A", "AAAA", "CNAME"] = "A"
    stable_set_identifier: str = Field(min_length=1)
    candidate_set_identifier: str = Field(min_length=1)
    # Resolvers may keep answering with the old weights for a TTL: the candidate is only
    # retired after it. 60 s is the usual TTL of a weighted record meant to move.
    ttl_seconds: Annotated[int, Field(ge=0, le=172800)] = 60

    @model_validator(mode="after")
    def _two_sets(self) -> Route53Traffic:
        if self.stable_set_identifier == self.candidate_set_identifier:
            raise ValueError("stable and candidate set identifiers must differ")
        return self


_K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
_TARGET_GROUP = r"^arn:[^:]+:elasticloadbalancing:.*:targetgroup/"


class AlbIngressTraffic(Model):
    """An Ingress the AWS Load Balancer Controller (LBC) turns into an ALB rule.

    eksup writes the weights into the Ingress's `alb.ingress.kubernetes.io/actions.<action>`
    annotation (the rule's backend is Service `<action>`, port `use-annotation`); they count
    only once ELBv2 shows them on `rule_arn`, i.e. once the controller has reconciled.
    """

    provider: Literal["alb-ingress"]
    ingress: str = Field(pattern=_K8S_NAME)
    action: str = Field(pattern=_K8S_NAME)
    stable_service: str = Field(pattern=_K8S_NAME)
    candidate_service: str = Field(pattern=_K8S_NAME)
    # The port of both Services, by number or by name, as the annotation's servicePort.
    service_port: int | str = 80
    # Where the weights are read back: the listener rule the LBC made for the Ingress path
    # (`aws elbv2 describe-rules`) and the target groups it made for the two Services
    # (their TargetGroupBindings show the ARNs).
    rule_arn: str = Field(pattern=r"^arn:[^:]+:elasticloadbalancing:.*:(listener|listener-rule)/")
    stable_target_group: str = Field(pattern=_TARGET_GROUP)
    candidate_target_group: str = Field(pattern=_TARGET_GROUP)
    # Written into the action's targetGroupStickinessConfig; 0: no stickiness.
    stickiness_seconds: Annotated[int, Field(ge=0, le=604800)] = 0
    # A/B only: the action of a second path the chart adds (same host and path as `action`'s,
    # listed before it) whose rule gets the header condition, and the rule the LBC made for it.
    ab_action: str | None = Field(default=None, pattern=_K8S_NAME)
    ab_rule_arn: str | None = Field(
        default=None, pattern=r"^arn:[^:]+:elasticloadbalancing:.*:listener-rule/"
    )

    @model_validator(mode="after")
    def _two_sides(self) -> AlbIngressTraffic:
        if self.stable_service == self.candidate_service:
            raise ValueError("stable and candidate services must differ")
        if self.stable_target_group == self.candidate_target_group:
            raise ValueError("stable and candidate target groups must differ")
        if self.ab_action is not None and self.ab_action == self.action:
            raise ValueError("ab_action must differ from action: it is a second path's action")
        if self.ab_rule_arn is not None and self.ab_rule_arn == self.rule_arn:
            raise ValueError("ab_rule_arn must differ from rule_arn: it is a second path's rule")
        return self


Labels = dict[Annotated[str, Field(min_length=1)], str]


class ServiceTraffic(Model):
    """One Kubernetes Service in front of both sides.

    blue-green: the Service's selector is switched from `stable_selector` to
    `candidate_selector` in one patch. canary: the Service selects the pods of both
    Deployments (a shared label) and traffic follows the ready-replica ratio, which eksup sets
    by scaling them within `replicas` pods in all: approximate, one pod is 100/replicas %.
    """

    provider: Literal["service"]
    service: str = Field(pattern=_K8S_NAME)
    stable_selector: Labels | None = None
    candidate_selector: Labels | None = None
    # canary: pods across both Deployments; the default is both Deployments' replicas when the
    # rollout starts.
    replicas: Annotated[int, Field(ge=2)] | None = None
    # canary: how far (in points of candidate %) the ready-replica split may be from a step
    # and still count as that step. 10: a 10-pod app reaches every step to the nearest pod.
    tolerance_percent: Annotated[float, Field(ge=0, le=50)] = 10.0
    # How long clients may still reach the old pods after they stop being selected: endpoint
    # propagation to kube-proxy, keep-alive connections; behind an ALB with ip targets, its
    # deregistration delay (300 s by default).
    drain_seconds: Seconds = 30.0

    @model_validator(mode="after")
    def _selectors(self) -> ServiceTraffic:
        if (self.stable_selector is None) != (self.candidate_selector is None):
            raise ValueError("give both stable_selector and candidate_selector, or neither")
        if self.stable_selector is not None and self.stable_selector == self.candidate_selector:
            raise ValueError("stable and candidate selectors must differ")
        if self.stable_selector == {} or self.candidate_selector == {}:
            raise ValueError("a selector must not be empty (it would select every pod)")
        return self


class ServiceBackend(Model):
    """A Service and port an HTTPRoute sends to (a backendRef)."""

    service: str = Field(min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)]


class GatewayTraffic(Model):
    """A Gateway API HTTPRoute (gateway.networking.k8s.io/v1) whose rule forwards to the
    stable Service. Shadow adds a RequestMirror filter to that rule, mirroring to the
    candidate Service, and always removes it at the end."""

    provider: Literal["gateway-api"]
    route: str = Field(min_length=1)
    # The route's namespace; the app's when left out.
    namespace: str | None = None
    stable_backend: ServiceBackend
    candidate_backend: ServiceBackend

    @model_validator(mode="after")
    def _two_backends(self) -> GatewayTraffic:
        if self.stable_backend == self.candidate_backend:
            raise ValueError("stable and candidate backends must differ")
        return self


class NoTraffic(Model):
    """No traffic switch: the two sides share one Service and traffic follows the Ready pods.
    Only rolling and recreate work without one; it is the default when `traffic` is left out."""

    provider: Literal["none"] = "none"


Traffic = Annotated[
    AlbTraffic | Route53Traffic | AlbIngressTraffic | ServiceTraffic | GatewayTraffic | NoTraffic,
    Field(discriminator="provider"),
]
