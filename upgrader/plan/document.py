"""The plan document: what `eksup plan` writes and `eksup execute` runs.

A plan is data a reviewer can read and a machine can check: a schema version, the cluster state
it was made from (a fingerprint, so a stale plan is refused), the findings of the pre-flight
checks, and ordered, idempotent steps. Each step carries the human text and the equivalent
aws/kubectl commands, so the Markdown rendering is a runbook an on-call engineer can follow.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from upgrader.core import loaders
from upgrader.core.errors import UserError
from upgrader.plan.step_params import PARAMS_FOR_KIND, GenericParams, StepParams

SCHEMA_VERSION = 1

# How the plan document shows an INFO finding that tripped: context, not a failed check.
NOTE_STATUS = "note"

P = TypeVar("P", bound=BaseModel)


class StepKind(StrEnum):
    PREFLIGHT = "preflight"
    MANUAL = "manual"
    APPROVAL = "approval"
    PAUSE_AUTOSCALER = "pause-cluster-autoscaler"
    CONTROL_PLANE = "control-plane"
    ADDONS = "addons"
    NODEGROUP_BLUE_GREEN = "nodegroup-blue-green"
    NODEGROUP_IN_PLACE = "nodegroup-in-place"
    SELF_MANAGED_GROUP = "self-managed-group"
    KARPENTER_DRIFT = "karpenter-drift"
    FARGATE_RESTART = "fargate-restart"
    RESUME_AUTOSCALER = "resume-cluster-autoscaler"
    VERIFY = "verify"


class Verdict(StrEnum):
    READY = "READY"
    READY_WITH_WARNINGS = "READY WITH WARNINGS"
    NOT_READY = "NOT READY"
    # The cluster and its nodes are already on the target: no step, exit 0 (terraform's
    # "No changes"), so a nightly plan of an up-to-date cluster stays green.
    NOTHING_TO_DO = "NOTHING TO DO"


class _Document(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AddonUpdate(_Document):
    """One add-on's move at one hop: the versions to apply in order, ending at `target`."""

    name: str
    current: str = Field(description="The version installed before this step.")
    target: str = Field(
        description="The hop's default version; empty when it was not known at plan time and "
        "is resolved from describe-addon-versions when the step runs."
    )
    path: list[str] = Field(
        default_factory=list,
        description="Every version to apply, in order, ending at target: more than one when "
        "the add-on moves one minor at a time (vpc-cni).",
    )


class Step(_Document):
    id: str = Field(description="Stable within a plan, e.g. 'control-plane-1.29'.")
    kind: StepKind
    target: str = Field(description="What the step acts on: the cluster, a node group, ...")
    title: str = Field(default="", description="One line, from the runbook template.")
    description: str
    hop: str | None = Field(default=None, description="The control-plane minor this step serves.")
    params: StepParams = Field(
        default_factory=GenericParams,
        validate_default=True,
        description="What the step acts with; its shape depends on `kind` (see the allOf rules).",
    )
    mutating: bool = True
    verifies: list[str] = Field(
        default_factory=list, description="Check ids re-run before the step starts."
    )
    commands: list[str] = Field(
        default_factory=list, description="The equivalent aws/kubectl commands, for humans."
    )
    rollback: list[str] = Field(default_factory=list, description="How to go back, for humans.")
    preconditions: list[str] = Field(
        default_factory=list, description="What must hold before the step starts, for humans."
    )
    verification: list[str] = Field(
        default_factory=list, description="Commands that show the step worked, for humans."
    )
    approval: bool = Field(default=False, description="A person must approve it before it runs.")
    addon_updates: list[AddonUpdate] = Field(
        default_factory=list, description="For add-on steps: each add-on's versions."
    )

    @field_validator("params", mode="before")
    @classmethod
    def _params_of_kind(cls, value: object, info: ValidationInfo) -> object:
        """Read the params as the shape of the step's kind (declared before them)."""
        kind = info.data.get("kind")
        if kind is None:
            raise PydanticCustomError("step_params", "cannot be read without a valid step kind")
        model = PARAMS_FOR_KIND[StepKind(kind).value]
        if isinstance(value, model):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        try:
            return model.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            message = f"{where}: {first['msg']}" if where else first["msg"]
            raise PydanticCustomError("step_params", message) from None

    def params_of(self, model: type[P]) -> P:
        """The params, as the shape the caller's step kind reads."""
        if not isinstance(self.params, model):
            raise UserError(
                f"plan step {self.id!r} ({self.kind.value}) carries {type(self.params).__name__},"
                f" not {model.__name__}; re-run `eksup plan`"
            )
        return self.params


class PlannedFinding(_Document):
    check_id: str
    severity: str
    status: str
    message: str
    objects: list[str] = Field(default_factory=list)
    remedy: str = ""
    suppressed: bool = False
    suppressed_by: str | None = Field(
        default=None, description="The config's suppression rule, with its reason."
    )


class Alternative(_Document):
    """A costed alternative the reviewer should weigh, e.g. a new cluster with traffic moved."""

    name: str
    summary: str
    node_replacements: int
    control_plane_updates: int
    cheaper: bool


class ClusterIdentity(_Document):
    """Which cluster the plan was made for, as AWS and the kubeconfig showed it then:
    `execute` and `approve` refuse a cluster, account, region or kube context that differs."""

    arn: str = Field(description="The EKS cluster ARN (account and region included).")
    endpoint: str = Field(description="The API server URL EKS reports for the cluster.")
    account: str
    region: str
    kube_endpoint: str | None = Field(
        default=None, description="The API server the kube context pointed at when planning."
    )
    ca_sha256: str = Field(
        default="", description="sha256 of the cluster's CA certificate, as EKS reported it."
    )


class ActiveSuppression(_Document):
    """A `.eksup.yaml` rule that silenced findings of this plan, shown in every output."""

    rule: str = Field(description="check id and object glob")
    reason: str
    expires: str | None = Field(default=None, description="ISO date; the last day it applies.")
    findings: int = Field(default=0, description="How many findings it silenced.")
    silences_blocking: bool = Field(
        default=True,
        description="False when it lacks a reason or an expiry date: then it cannot silence a "
        "blocking finding.",
    )


class Plan(_Document):
    schema_version: int = SCHEMA_VERSION
    eksup_version: str
    created_at: str = Field(description="ISO-8601 UTC.")
    cluster: str
    region: str
    current_version: str
    target_version: str
    node_strategy: str
    runbook: str
    fingerprint: str
    fingerprint_facts: dict[str, Any] | None = Field(
        default=None,
        description="What the fingerprint hashes, so a stale plan's refusal names each change.",
    )
    version_facts: str = Field(
        default="",
        description="Where the support calendar came from: `aws` (eks:DescribeClusterVersions) "
        "or `file` (eksup's packaged version data).",
    )
    verdict: Verdict
    hops: list[str]
    node_replacements: int
    replacement_reasons: list[str] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    findings: list[PlannedFinding] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    identity: ClusterIdentity | None = Field(
        default=None, description="The cluster the plan is for (upgrader.usecases.identity)."
    )
    suppressions: list[ActiveSuppression] = Field(
        default_factory=list, description="The config's suppressions in force for this plan."
    )
    digest: str = Field(
        default="",
        description="sha256 of the rest of the document (upgrader.execute.integrity): an "
        "approval is of this digest, and a plan whose content no longer matches it is refused.",
    )

    @property
    def blocking(self) -> bool:
        return self.verdict is Verdict.NOT_READY

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


def load_plan(path: Path) -> Plan:
    """Read a plan file; any problem is one line naming the file and what to do."""
    if not path.exists():
        raise UserError(f"{path}: no such plan file; create one with `eksup plan --out`")
    raw = loaders.load_json(path, loaders.PLAN, "plan")  # bounded: size, depth, UTF-8
    if isinstance(raw, dict) and raw.get("schema_version") not in (None, SCHEMA_VERSION):
        raise UserError(
            f"{path}: plan schema version {raw.get('schema_version')} is not supported by this "
            f"eksup (it reads version {SCHEMA_VERSION}); re-run `eksup plan`"
        )
    try:
        return Plan.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        loc = first["loc"]
        if len(loc) >= 3 and loc[0] == "steps" and isinstance(loc[1], int):
            raise UserError(
                f"{path}: {_step_name(raw, loc[1])}: {'.'.join(str(p) for p in loc[2:])}: "
                f"{first['msg']}; re-run `eksup plan`"
            ) from None
        field = ".".join(str(part) for part in loc) or "(document)"
        raise UserError(f"{path}: {field}: {first['msg']}") from None


def _step_name(raw: object, index: int) -> str:
    """ "step 'control-plane-1.30' (control-plane)", or its position when the file lacks those."""
    steps = raw.get("steps") if isinstance(raw, dict) else None
    step = steps[index] if isinstance(steps, list) and index < len(steps) else None
    if not isinstance(step, dict) or not isinstance(step.get("id"), str):
        return f"step #{index + 1}"
    kind = step.get("kind")
    return f"step {step['id']!r}" + (f" ({kind})" if isinstance(kind, str) else "")


def plan_json_schema() -> dict[str, Any]:
    """The published JSON Schema of the plan document (`eksup schema`), with rules tying a
    step's `params` to its `kind`: if kind is X, params is X's shape."""
    return with_params_by_kind(Plan.model_json_schema())


def with_params_by_kind(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (of a document holding plan steps) with a rule per step kind on `Step`."""
    definitions = schema["$defs"]
    definitions["Step"]["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {"params": {"$ref": f"#/$defs/{model.__name__}"}}},
        }
        for kind, model in PARAMS_FOR_KIND.items()
        if model.__name__ in definitions
    ]
    return schema
