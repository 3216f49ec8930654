"""fleet.yaml: the clusters of a fleet and the order they are upgraded in.

Validated once, immutable, every problem one line `fleet.yaml:LINE: field: message` (the same
reporting as runbooks and .eksup.yaml, `upgrader.core.yaml_lines`). The shape follows Azure
Kubernetes Fleet Manager's update strategies (stages in order, groups in parallel,
maxConcurrency, maxAllowedFailures, after-stage waits, approval gates) and GKE rollout
sequencing (a version soaks upstream before it reaches downstream clusters).
"""

from __future__ import annotations

import math
import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from upgrader.core.errors import UserError
from upgrader.fleet.selectors import parse_selector

_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Names end up in commands shown to people, gate ids and Argo task names: keep them plain.
NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$"


def parse_duration(value: object) -> int:
    """Seconds from `90`, "90s", "30m", "2h" or "7d"."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or e.g. 30m, 2h, 7d")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return value
    if isinstance(value, str) and (match := _DURATION.match(value.strip())):
        return int(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError(f"{value!r} is not a duration: give seconds or e.g. 30m, 2h, 7d")


def _check_quantity(value: object) -> int | str:
    if isinstance(value, bool):
        raise ValueError("give a count (e.g. 2) or a percentage (e.g. 25%)")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        if text.endswith("%") and text[:-1].isdigit() and 0 <= int(text[:-1]) <= 100:
            return text
    raise ValueError(f"{value!r}: give a count (e.g. 2) or a percentage 0%-100% (e.g. 25%)")


Quantity = Annotated[int | str, BeforeValidator(_check_quantity)]
Duration = Annotated[int, BeforeValidator(parse_duration)]


def concurrency_of(value: int | str | None, size: int, default: int) -> int:
    """maxConcurrency as Azure resolves it: a percentage rounds down, never below 1."""
    if value is None:
        return max(1, min(default, size)) if size else 1
    if isinstance(value, str):
        return max(1, math.floor(size * int(value[:-1]) / 100))
    return max(1, value)


def allowance_of(value: int | str | None, size: int) -> int:
    """maxAllowedFailures as Azure resolves it: a percentage rounds up; absent means 0."""
    if value is None:
        return 0
    if isinstance(value, str):
        return math.ceil(size * int(value[:-1]) / 100)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class Window(_Model):
    """When a cluster may start upgrading (like kured and system-upgrade-controller windows)."""

    days: tuple[str, ...] = Field(default=_DAYS, description="mon..sun; default every day.")
    start: time = Field(description="HH:MM local time in `timezone`.")
    end: time = Field(description="HH:MM; before `start` means the window crosses midnight.")
    timezone: str = Field(default="UTC", description="An IANA zone, e.g. Europe/Paris.")

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(d.strip().lower()[:3] for d in value)
        unknown = [d for d, raw in zip(days, value, strict=True) if d not in _DAYS or not raw]
        if unknown or not days:
            raise ValueError(f"days are mon, tue, wed, thu, fri, sat, sun (got {list(value)})")
        return days

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone, e.g. Europe/Paris") from None
        return value


class Gate(_Model):
    """A person's approval (`eksup fleet approve RUN --gate NAME`), before or after."""

    type: Literal["approval"] = "approval"
    name: str = Field(pattern=NAME)


class ExecuteSettings(_Model):
    """How each cluster's `eksup execute` drains, as its flags spell it (`eksup execute --help`).

    `--disable-eviction` is not offered: an unattended fleet step never deletes past a
    PodDisruptionBudget."""

    drain_timeout: Duration | None = Field(
        default=None,
        description="Planned drain timeout per node group (`eksup plan --drain-timeout`); a "
        "drain still gets at least twice its budget bound.",
    )
    force: bool = Field(default=False, description="Also evict pods no controller owns.")
    delete_emptydir_data: bool = Field(default=False, description="Also evict emptyDir pods.")
    pod_selector: str | None = Field(default=None, description="Drain only these pods.")
    grace_period: Duration | None = None
    max_grace_period: Duration | None = None
    skip_wait_for_delete_timeout: Duration = 0
    surge: bool = False

    @field_validator("pod_selector")
    @classmethod
    def _pod_selector(cls, value: str | None) -> str | None:
        from upgrader.core.label_selector import parse_label_selector

        if value is None:
            return None
        if not value.strip():
            raise ValueError("empty: give a label selector, e.g. app=web, or leave it out")
        try:
            parse_label_selector(value)
        except UserError as error:
            raise ValueError(str(error)) from None
        return value

    def merged_over(self, default: ExecuteSettings | None) -> ExecuteSettings:
        """These settings over the fleet's defaults: a field set here wins."""
        if default is None:
            return self
        return default.model_copy(update=self.model_dump(exclude_unset=True))


class ClusterSpec(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
    account: str = Field(pattern=r"^\d{12}$", description="The AWS account id.")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$",
        description="Assumed for this cluster's AWS calls (cross-account).",
    )
    context: str | None = Field(default=None, description="kubeconfig context of the cluster.")
    kubeconfig: str | None = Field(default=None, description="kubeconfig file (default: usual).")
    labels: dict[str, str] = Field(default_factory=dict)
    upstream: str | None = Field(
        default=None, description="The management cluster: upgraded, and soaked, first."
    )
    soak_after_control_plane: Duration | None = Field(
        default=None,
        description="Wait between the control plane and the nodes, so EKS's 7-day control-plane "
        "rollback stays open while the nodes are one minor behind.",
    )
    window: Window | None = None
    execute: ExecuteSettings | None = Field(
        default=None, description="This cluster's execute options, over the fleet's `execute`."
    )


class GroupSpec(_Model):
    name: str = Field(pattern=NAME)
    selector: str = ""
    max_concurrency: Quantity | None = None
    max_allowed_failures: Quantity | None = None
    before_gates: tuple[Gate, ...] = ()
    after_gates: tuple[Gate, ...] = ()

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        parse_selector(value)
        return value


class StageSpec(_Model):
    name: str = Field(pattern=NAME)
    selector: str = ""
    groups: tuple[GroupSpec, ...] = ()
    max_concurrency: Quantity | None = None
    max_allowed_failures: Quantity | None = None
    after_stage_wait: Duration = 0
    before_gates: tuple[Gate, ...] = ()
    after_gates: tuple[Gate, ...] = ()
    window: Window | None = Field(default=None, description="For members without their own.")

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        parse_selector(value)
        return value


class FleetSpec(_Model):
    target: str = Field(pattern=r"^(latest|1\.\d{2})$", description='"1.33" or "latest".')
    cluster_approval: Literal["fleet", "each"] = Field(
        default="fleet",
        description="fleet: the fleet's gates and the reviewed fleet plan stand in for each "
        "cluster plan's approval gate (recorded in its journal as the fleet run's); each: every "
        "cluster waits at its own gate for `eksup fleet approve --cluster`.",
    )
    plan_concurrency: int = Field(default=8, ge=1, le=64, description="Clusters read at once.")
    execute: ExecuteSettings | None = Field(
        default=None, description="Execute options for every cluster (each may override)."
    )
    clusters: tuple[ClusterSpec, ...] = Field(min_length=1)
    stages: tuple[StageSpec, ...] = Field(min_length=1)

    def cluster(self, name: str) -> ClusterSpec:
        return next(c for c in self.clusters if c.name == name)

    def execute_settings(self, name: str) -> ExecuteSettings | None:
        own = self.cluster(name).execute
        return own.merged_over(self.execute) if own is not None else self.execute
