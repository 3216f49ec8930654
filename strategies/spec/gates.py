"""`gates:` of the rollout spec: what must hold between steps, one model per kind of gate."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from strategies.spec.base import Model


class NoData(StrEnum):
    """What a gate does when it cannot see anything (INSUFFICIENT_DATA, no targets yet)."""

    FAIL = "fail"  # count a failure: silence is not health
    PAUSE = "pause"  # wait and look again, until the step deadline
    PASS = "pass"  # ignore the gate this time


class _Gate(Model):
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
