"""The `.eksup.yaml` configuration: check thresholds and suppressions.

Teams disagree with some defaults (a batch namespace full of single-replica Jobs, a subnet
layout with its own headroom rules), so thresholds are settable and findings can be suppressed
by check id and object glob. Suppressed findings are still reported as suppressed, so a
reviewer sees what a config silenced.

The file is validated once, strictly (an unknown key is a typo, not something to ignore), and a
bad file is one line: `file:line: field: message`.

    # .eksup.yaml
    thresholds:
      cluster_subnet_min_free_ips: 5
      drain_timeout_seconds: 900
    suppress:
      - id: single-replica
        objects: "batch/*"
        reason: nightly jobs tolerate a restart
        expires: 2027-03-31      # needed (with a reason) to silence a blocking finding
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from upgrader.core import loaders
from upgrader.core.defaults import DEFAULT_DRAIN_TIMEOUT_SECONDS
from upgrader.core.errors import UserError
from upgrader.core.yaml_lines import validate_file
from upgrader.plan.checks.ids import CHECK_IDS

CONFIG_FILE = ".eksup.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Thresholds(_Model):
    cluster_subnet_min_free_ips: int = Field(
        default=5,
        ge=0,
        description="IP addresses. EKS needs up to five free IPs in the cluster subnets to "
        "place new control-plane network interfaces during an upgrade.",
    )
    drain_timeout_seconds: int = Field(
        default=DEFAULT_DRAIN_TIMEOUT_SECONDS,
        gt=0,
        description="Seconds a node may take to drain (default: upgrader.core.defaults).",
    )
    min_replicas: int = Field(
        default=2,
        ge=1,
        description="Replicas. A Deployment or StatefulSet with fewer is down while its only "
        "pod moves.",
    )
    standard_support_min_days: int = Field(
        default=90,
        ge=0,
        description="Days. Warn when the target version leaves standard support sooner than "
        "this: the next upgrade, or extended-support billing, is close.",
    )


class Suppression(_Model):
    """Silence one check's findings about the objects that match a glob."""

    id: str = Field(description="A check id, e.g. 'single-replica'.")
    objects: str = Field(
        default="*",
        description="An fnmatch glob over the finding's objects, e.g. 'kube-system/*'.",
    )
    reason: str = Field(default="", description="Why; shown beside the suppressed findings.")
    expires: dt.date | None = Field(
        default=None,
        description="The last day the rule applies (YYYY-MM-DD), by the Clock's date. A rule "
        "that silences a blocking finding needs a reason and this date; once past, it is "
        "ignored.",
    )

    def active(self, today: dt.date | None) -> bool:
        """Not past its expiry date (`today` None: no date to judge by)."""
        return self.expires is None or today is None or today <= self.expires

    @property
    def may_silence_blocking(self) -> bool:
        return bool(self.reason.strip()) and self.expires is not None

    @field_validator("id")
    @classmethod
    def _known_check(cls, value: str) -> str:
        if value not in CHECK_IDS:
            raise ValueError(f"unknown check id {value!r} (docs/checks.md lists them)")
        return value

    def __str__(self) -> str:
        text = f"{self.id} {self.objects}"
        until = f"; until {self.expires.isoformat()}" if self.expires else ""
        return f"{text} ({self.reason}{until})" if self.reason else text


class Policy(_Model):
    """What every run must pass, whatever the plan file says (upgrader.execute.integrity)."""

    required_gates: tuple[str, ...] = Field(
        default=(),
        description="Step ids every plan must hold as approval gates, beyond the runbook's "
        "own (e.g. a team's extra sign-off step in a custom runbook).",
    )


class Config(_Model):
    thresholds: Thresholds = Thresholds()
    suppress: tuple[Suppression, ...] = ()
    policy: Policy = Policy()


def load_config(path: Path | None = None, *, cwd: Path | None = None) -> Config:
    """Read the config: `path` when given (it must exist), else `.eksup.yaml` in `cwd`, if any.

    No file means the defaults; an empty file too.
    """
    if path is None:
        candidate = (cwd or Path.cwd()) / CONFIG_FILE
        if not candidate.is_file():
            return Config()
        path = candidate
    if not path.is_file():
        raise UserError(f"{path}: no such config file")
    text = loaders.read_text(path, loaders.CONFIG, "config")
    # Nothing but comments, or nothing at all: the defaults. A bad file is reported here, with
    # its line, by the bounded loader (a plain safe_load would hang on an alias bomb).
    if loaders.load_yaml(text, path, loaders.CONFIG) is None:
        return Config()
    return validate_file(path, Config, loaders.CONFIG, "config")
