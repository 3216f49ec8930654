"""`strategy:` of the rollout spec: how the candidate takes over, one model per strategy."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from strategies.spec.base import Model, Percent, Seconds


class Linear(Model):
    """`percent` more traffic on the candidate every `every_seconds` (CodeDeploy's
    Linear10PercentEvery1Minute is `{percent: 10, every_seconds: 60}`)."""

    percent: Percent
    every_seconds: Seconds


class Canary(Model):
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


class BlueGreen(Model):
    """All traffic moves in one switch; a failed gate switches it back in one."""

    kind: Literal["blue-green"]
    # Bake time after the switch before the gates decide.
    pause_seconds: Seconds = 300.0
    # The old (stable) side stays up this long after a successful switch: rollback is then
    # only a traffic switch, no cold start.
    scale_down_delay_seconds: Seconds = 600.0


class Shadow(Model):
    """A copy of the traffic to the candidate, whose answers are dropped."""

    kind: Literal["shadow"]
    mirror_percent: Percent = 100
    pause_seconds: Seconds = 300.0


class AbTest(Model):
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


class Rolling(Model):
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


class Recreate(Model):
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
