"""The fleet run document `eksup fleet plan --out run.json` freezes and both engines execute.

Like Azure's update run, it snapshots the strategy (stages, groups, limits, gates) so a later
change to fleet.yaml cannot change a run in flight, and like a single-cluster plan it holds every
cluster's plan and fingerprint, so a cluster that changed since is refused, not guessed at.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from upgrader.core.errors import UserError
from upgrader.fleet.spec import ExecuteSettings, Window
from upgrader.plan.document import Plan, with_params_by_kind

FLEET_SCHEMA_VERSION = 1


class ClusterVerdict(StrEnum):
    READY = "ready"
    BLOCKED = "blocked"  # a blocking finding: fails its stage unless skipped
    SKIPPED = "skipped"  # already at the target: nothing to do
    UNREACHABLE = "unreachable"  # could not be read: fails its stage unless skipped


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunGroup(_Doc):
    name: str
    members: list[str]
    max_concurrency: int = Field(ge=1)
    allowed_failures: int = Field(ge=0)
    before_gates: list[str] = Field(default_factory=list)
    after_gates: list[str] = Field(default_factory=list)


class RunStage(_Doc):
    name: str
    groups: list[RunGroup]
    max_concurrency: int = Field(ge=1, description="Ceiling across the stage's groups.")
    allowed_failures: int = Field(ge=0, description="More failures than this fail the stage.")
    after_wait_seconds: int = Field(ge=0, description="Soak after the stage, in seconds.")
    before_gates: list[str] = Field(default_factory=list)
    after_gates: list[str] = Field(default_factory=list)

    @property
    def members(self) -> list[str]:
        return [m for g in self.groups for m in g.members]

    @property
    def gates(self) -> list[str]:
        inner = [x for g in self.groups for x in (*g.before_gates, *g.after_gates)]
        return [*self.before_gates, *inner, *self.after_gates]


class RunCluster(_Doc):
    name: str
    account: str
    region: str
    role_arn: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    upstream: str | None = None
    stage: str
    group: str
    soak_after_control_plane_seconds: int = 0
    window: Window | None = None
    execute: ExecuteSettings | None = Field(
        default=None, description="fleet.yaml's execute options for this cluster."
    )
    verdict: ClusterVerdict
    reason: str = ""
    current_version: str | None = None
    fingerprint: str | None = None
    plan: Plan | None = None


class AddonChoice(_Doc):
    """One add-on version for one Kubernetes version, the same in every region of the run."""

    addon: str
    kubernetes_version: str
    version: str
    clusters: list[str]
    note: str = ""


class AmiChoice(_Doc):
    """One EKS AMI release (Amazon Linux or Bottlerocket) for one AMI type at one Kubernetes
    version, the same in every region of the run (Azure Fleet Manager's `Consistent`): managed
    node groups are pinned to it (their releaseVersion). Self-managed groups run the image id
    their region recommended at plan time (a run note says when its release differs); custom
    AMIs are not chosen (a note names them)."""

    kubernetes_version: str
    ami_type: str
    release_version: str
    clusters: list[str]
    note: str = ""


class FleetRun(_Doc):
    schema_version: int = FLEET_SCHEMA_VERSION
    kind: str = "eksup-fleet-run"
    run_id: str = Field(description="Names the run everywhere: journal, Workflow, approvals.")
    created_at: str = Field(description="ISO-8601 UTC.")
    eksup_version: str
    spec_file: str
    target_version: str
    cluster_approval: str
    stages: list[RunStage]
    clusters: list[RunCluster]
    addon_choices: list[AddonChoice] = Field(default_factory=list)
    ami_choices: list[AmiChoice] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def cluster(self, name: str) -> RunCluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise UserError(
            f"no cluster {name} in run {self.run_id}: one of "
            f"{', '.join(c.name for c in self.clusters)}"
        )

    def stage(self, name: str) -> RunStage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise UserError(
            f"no stage {name} in run {self.run_id}: one of {', '.join(s.name for s in self.stages)}"
        )

    @property
    def gates(self) -> list[str]:
        return [g for s in self.stages for g in s.gates]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=False) + "\n"


def load_run(path: Path) -> FleetRun:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"{path}: no such fleet run; make one with `eksup fleet plan fleet.yaml --out {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read the fleet run: {error}") from None
    except json.JSONDecodeError as error:
        raise UserError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    if not isinstance(raw, dict) or raw.get("kind") != "eksup-fleet-run":
        raise UserError(f"{path}: not a fleet run (made by `eksup fleet plan --out`)")
    if raw.get("schema_version") != FLEET_SCHEMA_VERSION:
        raise UserError(
            f"{path}: fleet run schema version {raw.get('schema_version')} is not supported "
            f"(this eksup reads {FLEET_SCHEMA_VERSION}); run `eksup fleet plan` again"
        )
    try:
        return FleetRun.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(document)"
        raise UserError(f"{path}: {field}: {first['msg']}") from None


def fleet_run_schema() -> dict[str, object]:
    return with_params_by_kind(FleetRun.model_json_schema())
