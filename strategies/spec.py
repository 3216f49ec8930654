"""The rollout spec: what to release, how, through which traffic switch, and when to give up.

A rollout is driven from a YAML file, so every field is validated once, here, and a bad one is
reported as `file:line: field: message` (`load_spec`). Models are frozen: the runner never edits
the spec, it derives steps from it. Every duration is in seconds and says why its default is
what it is.

    app: {name: web, namespace: shop, stable: {deployment: web-blue}, candidate: {...}}
    strategy: {kind: canary, steps: [5, 25, 50, 100], pause_seconds: 300}
    traffic: {provider: alb-elbv2, rule_arn: ..., stable_target_group: ..., ...}
    gates: [{kind: cloudwatch-alarm, alarms: [web-5xx]}, {kind: alb-target-health}]
    deadlines: {total_seconds: 7200, step_seconds: 1800, converge_seconds: 300}
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from upgrader.core import loaders
from upgrader.core.yaml_lines import validate_file

Percent = Annotated[int, Field(ge=1, le=100)]
Seconds = Annotated[float, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# app ------------------------------------------------------------------------------------------


class Side(_Model):
    """One version of the app: its Deployment (scaled down when it is retired), if eksup may
    touch it. Without one, eksup moves traffic only and leaves the compute alone."""

    deployment: str | None = None


class App(_Model):
    name: str = Field(min_length=1)
    namespace: str = Field(default="default", min_length=1)
    stable: Side = Side()
    candidate: Side = Side()


# strategy -------------------------------------------------------------------------------------


class Linear(_Model):
    """`percent` more traffic on the candidate every `every_seconds` (CodeDeploy's
    Linear10PercentEvery1Minute is `{percent: 10, every_seconds: 60}`)."""

    percent: Percent
    every_seconds: Seconds


class Canary(_Model):
    """Weight steps such as [5, 25, 50, 100] with a pause at each, or a linear ramp.

    Gates are evaluated at the end of every step's pause, the last one included: 100% is
    "bake, then promote", as CodeDeploy does.
    """

    kind: Literal["canary"]
    steps: tuple[Percent, ...] | None = None
    linear: Linear | None = None
    # Five minutes: long enough for a 1-minute CloudWatch alarm to see a few datapoints.
    pause_seconds: Seconds = 300.0
    # After promotion the stable side is kept this long for a quick manual rollback.
    scale_down_delay_seconds: Seconds = 600.0

    @field_validator("steps")
    @classmethod
    def _increasing_to_100(cls, steps: tuple[int, ...] | None) -> tuple[int, ...] | None:
        # A field validator, so the error names `strategy.steps` and its line.
        if steps is None:
            return steps
        if not steps:
            raise ValueError("steps must not be empty")
        if any(b <= a for a, b in pairwise(steps)):
            raise ValueError("steps must increase")
        if steps[-1] != 100:
            raise ValueError("the last step must be 100 (all traffic on the candidate)")
        return steps

    @model_validator(mode="after")
    def _one_plan(self) -> Canary:
        if (self.steps is None) == (self.linear is None):
            raise ValueError("give either steps or linear")
        return self


class BlueGreen(_Model):
    """All traffic moves in one switch; a failed gate switches it back in one."""

    kind: Literal["blue-green"]
    # Bake time after the switch before the gates decide.
    pause_seconds: Seconds = 300.0
    # The old (stable) side stays up this long after a successful switch: rollback is then
    # only a traffic switch, no cold start.
    scale_down_delay_seconds: Seconds = 600.0


class Shadow(_Model):
    """A copy of the traffic to the candidate, whose answers are dropped."""

    kind: Literal["shadow"]
    mirror_percent: Percent = 100
    pause_seconds: Seconds = 300.0


class AbTest(_Model):
    """Requests with a matching header (or cookie, through the Cookie header) go to B.

    On alb-elbv2 this is one more listener rule, just above the spec's rule, with the spec
    rule's conditions plus an http-header condition, forwarding to the candidate group. A
    cookie is matched through the Cookie header with ALB wildcards: `values: ["*variant=b*"]`.
    On alb-ingress it is the rule of a second Ingress path (`traffic.ab_action`): eksup writes
    its conditions.<ab_action> (the header) and actions.<ab_action> (the candidate) annotations.
    After a successful bake the route stays on (`eksup rollout abort` removes it); a failed
    gate removes it.
    """

    kind: Literal["ab"]
    # An HTTP header name (RFC 9110 token).
    header: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    # ALB matches values case-insensitively, with * and ? wildcards; 128 characters each.
    values: tuple[Annotated[str, Field(min_length=1, max_length=128)], ...] = Field(min_length=1)
    pause_seconds: Seconds = 300.0
    # The new rule's priority; by default the one just above (one less than) the spec's rule.
    priority: Annotated[int, Field(ge=1, le=50000)] | None = None


# Kubernetes' IntOrString of a rolling update: a count of pods, or a percentage of the desired
# replicas ("25%"); surge percentages round up, unavailability ones down, as in a Deployment.
IntOrPercent = Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^(100|[1-9]?[0-9])%$")]


def _zero(value: int | str) -> bool:
    return value in (0, "0%")


class Rolling(_Model):
    """Pods move from the stable to the candidate Deployment in batches, as a Deployment's own
    rolling update would, but between two Deployments so each batch can be gated. Traffic
    follows the Ready pods through the Service both sides share: no traffic provider."""

    kind: Literal["rolling"]
    # Kubernetes' defaults: at most a quarter more pods than desired, a quarter fewer Ready.
    max_surge: IntOrPercent = "25%"
    max_unavailable: IntOrPercent = "25%"
    # Bake time after each batch is Ready, before the gates decide. 0: gate at once.
    pause_seconds: Seconds = 0.0

    @model_validator(mode="after")
    def _can_progress(self) -> Rolling:
        if _zero(self.max_surge) and _zero(self.max_unavailable):
            raise ValueError("max_surge and max_unavailable must not both be 0")
        return self


class Recreate(_Model):
    """Stable down to 0 and gone, then the candidate up: for apps that cannot run two versions
    at once. It causes downtime; the report says how long no pod was Ready."""

    kind: Literal["recreate"]
    # Bake time after the candidate is Ready, before the gates decide.
    pause_seconds: Seconds = 0.0


Strategy = Annotated[
    Canary | BlueGreen | Shadow | AbTest | Rolling | Recreate, Field(discriminator="kind")
]
# Strategies that move pods, not traffic weights: they need both Deployments and a cluster.
COMPUTE_STRATEGIES = (Rolling, Recreate)


# traffic --------------------------------------------------------------------------------------


class AlbTraffic(_Model):
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


class Route53Traffic(_Model):
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


class AlbIngressTraffic(_Model):
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


class ServiceTraffic(_Model):
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


class ServiceBackend(_Model):
    """A Service and port an HTTPRoute sends to (a backendRef)."""

    service: str = Field(min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)]


class GatewayTraffic(_Model):
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


class NoTraffic(_Model):
    """No traffic switch: the two sides share one Service and traffic follows the Ready pods.
    Only rolling and recreate work without one; it is the default when `traffic` is left out."""

    provider: Literal["none"] = "none"


Traffic = Annotated[
    AlbTraffic | Route53Traffic | AlbIngressTraffic | ServiceTraffic | GatewayTraffic | NoTraffic,
    Field(discriminator="provider"),
]


# gates ----------------------------------------------------------------------------------------


class NoData(StrEnum):
    """What a gate does when it cannot see anything (INSUFFICIENT_DATA, no targets yet)."""

    FAIL = "fail"  # count a failure: silence is not health
    PAUSE = "pause"  # wait and look again, until the step deadline
    PASS = "pass"  # ignore the gate this time


class _Gate(_Model):
    # How many failed evaluations abort the rollout; below it the step waits and re-checks.
    # 1: the first failure aborts.
    failure_limit: Annotated[int, Field(ge=1)] = 1
    no_data: NoData = NoData.FAIL
    # Between two evaluations of a failing or pausing gate. 30 s: half a CloudWatch period.
    interval_seconds: Annotated[float, Field(gt=0)] = 30.0


class AlarmGate(_Gate):
    """Any named CloudWatch alarm in ALARM fails the gate."""

    kind: Literal["cloudwatch-alarm"]
    alarms: tuple[Annotated[str, Field(min_length=1)], ...] = Field(min_length=1)


class TargetHealthGate(_Gate):
    """Every target of the target group (the candidate's by default) registered and healthy."""

    kind: Literal["alb-target-health"]
    target_group: str | None = Field(
        default=None, pattern=r"^arn:[^:]+:elasticloadbalancing:.*:targetgroup/"
    )


class Comparison(StrEnum):
    """When a datapoint breaches the threshold (CloudWatch's operator names)."""

    GREATER = "GreaterThanThreshold"
    GREATER_OR_EQUAL = "GreaterThanOrEqualToThreshold"
    LESS = "LessThanThreshold"
    LESS_OR_EQUAL = "LessThanOrEqualToThreshold"

    def breaches(self, value: float, threshold: float) -> bool:
        if self is Comparison.GREATER:
            return value > threshold
        if self is Comparison.GREATER_OR_EQUAL:
            return value >= threshold
        if self is Comparison.LESS:
            return value < threshold
        return value <= threshold


class MetricGate(_Gate):
    """A CloudWatch metric over the last `window_seconds`: any datapoint that breaches the
    threshold fails the gate (5xx count, p99 latency); no datapoint at all is no data."""

    kind: Literal["cloudwatch-metric"]
    namespace: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    dimensions: dict[str, str] = Field(default_factory=dict)
    stat: str = Field(
        default="Average",
        pattern=r"^(Average|Sum|Minimum|Maximum|SampleCount|p(100|[1-9]?[0-9])(\.[0-9]+)?)$",
    )
    # CloudWatch keeps 1-minute datapoints for standard metrics; high-resolution ones go lower.
    period_seconds: Annotated[int, Field(ge=1)] = 60
    threshold: float
    comparison: Comparison = Comparison.GREATER
    # Five 1-minute periods: one bad minute fails the gate, a quiet one is not enough to pass.
    window_seconds: Annotated[int, Field(ge=1)] = 300

    @model_validator(mode="after")
    def _whole_periods(self) -> MetricGate:
        if self.period_seconds not in (1, 5, 10, 30) and self.period_seconds % 60:
            raise ValueError("period_seconds must be 1, 5, 10, 30 or a multiple of 60")
        if self.window_seconds < self.period_seconds:
            raise ValueError("window_seconds must hold at least one period")
        return self


class PodReadinessGate(_Gate):
    """Every pod of the Deployment (the candidate's by default) Ready, and none restarted more
    than `max_restarts` times since the gate first saw it. No pods is no data."""

    kind: Literal["pod-readiness"]
    deployment: str | None = Field(default=None, min_length=1)
    max_restarts: Annotated[int, Field(ge=0)] = 0


class HttpProbeGate(_Gate):
    """One HTTP GET: the expected status passes; another status, a refused connection or a
    timeout fails (an unreachable service is a failure, not missing data)."""

    kind: Literal["http-probe"]
    url: str = Field(pattern=r"^https?://[^\s/]+")
    expected_status: Annotated[int, Field(ge=100, le=599)] = 200
    # An answer slower than this is as bad as none: 5 s is a generous health-check timeout.
    timeout_seconds: Annotated[float, Field(gt=0)] = 5.0


Gate = Annotated[
    AlarmGate | TargetHealthGate | MetricGate | PodReadinessGate | HttpProbeGate,
    Field(discriminator="kind"),
]


class Deadlines(_Model):
    # The whole rollout, pauses included. Two hours fits a 4-step canary with 5-min pauses
    # and slow gates; a rollout past it rolls back rather than hang half-shifted.
    total_seconds: Annotated[float, Field(gt=0)] = 7200.0
    # How long a step may wait on pausing or re-checked gates after its pause.
    step_seconds: Annotated[float, Field(gt=0)] = 1800.0
    # How long a weight change may take to read back (Route 53 INSYNC is usually < 60 s).
    converge_seconds: Annotated[float, Field(gt=0)] = 300.0


class RolloutSpec(_Model):
    app: App
    strategy: Strategy
    # Left out: no traffic switch (rolling and recreate only).
    traffic: Traffic = NoTraffic()
    gates: tuple[Gate, ...] = ()
    deadlines: Deadlines = Deadlines()

    @model_validator(mode="after")
    def _gates_fit_traffic(self) -> RolloutSpec:
        for gate in self.gates:
            if (
                isinstance(gate, TargetHealthGate)
                and gate.target_group is None
                and not isinstance(self.traffic, AlbTraffic | AlbIngressTraffic)
            ):
                raise ValueError(
                    "an alb-target-health gate without target_group needs alb-elbv2 or alb-ingress "
                    "traffic"
                )
            if (
                isinstance(gate, PodReadinessGate)
                and gate.deployment is None
                and self.app.candidate.deployment is None
            ):
                raise ValueError(
                    "a pod-readiness gate without deployment needs app.candidate.deployment"
                )
        return self

    @model_validator(mode="after")
    def _compute_needs_deployments(self) -> RolloutSpec:
        if isinstance(self.strategy, COMPUTE_STRATEGIES):
            if self.app.stable.deployment is None or self.app.candidate.deployment is None:
                raise ValueError(
                    f"the {self.strategy.kind} strategy moves pods between two Deployments: "
                    "give app.stable.deployment and app.candidate.deployment"
                )
            if self.app.stable.deployment == self.app.candidate.deployment:
                raise ValueError("stable and candidate Deployments must differ")
        return self


def load_spec(path: Path) -> RolloutSpec:
    """Read and validate a rollout spec; a problem raises UserError `file:line: field: msg`."""
    return validate_file(path, RolloutSpec, loaders.SPEC, "rollout spec")
