"""What each kind of plan step carries: one typed shape per step kind.

The planner builds these, the plan JSON holds them (as `Step.params`, a flat object whose keys
are the fields below), `eksup schema` publishes them, and every step reads them as attributes.
A plan whose parameters do not fit its step kind is refused when it is loaded, with one line
naming the step and the field.

Format stability: a params object is written back with exactly the fields it was given (see
`_Params._written`), and every value keeps the JSON type the planner always wrote (replica
counts stay strings, taints stay `kubectl taint` text), so a plan written before these types
existed loads and still matches its digest (upgrader.execute.integrity).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
)

from upgrader.core.aws import UpdateConfig
from upgrader.core.defaults import DEFAULT_DRAIN_TIMEOUT_SECONDS
from upgrader.core.errors import UserError
from upgrader.core.kube import Taint, TaintEffect, WorkloadKind

DEFAULT_TAINT = "eksup.io/upgrade=blue:NoSchedule"


def parse_taint(text: str) -> Taint:
    """ "key=value:Effect" or "key:Effect", as `kubectl taint` takes it."""
    head, sep, effect = text.rpartition(":")
    if not sep or not head:
        raise UserError(f"taint {text!r}: expected key=value:Effect (e.g. {DEFAULT_TAINT})")
    try:
        parsed = TaintEffect(effect)
    except ValueError:
        known = ", ".join(e.value for e in TaintEffect)
        raise UserError(f"taint {text!r}: effect must be one of {known}") from None
    key, _, value = head.partition("=")
    return Taint(key, parsed, value)


def _taint(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return parse_taint(value)
    except UserError as error:
        raise ValueError(str(error)) from None


def _update_config(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return UpdateConfig.parse(value)
    except ValueError:
        raise ValueError('must be a count "1"-"100" or a percentage "1%"-"100%"') from None


# Written as text, as `kubectl taint` takes it; read as a Taint.
TaintText = Annotated[
    Taint,
    BeforeValidator(_taint),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "description": "key=value:Effect, e.g. " + DEFAULT_TAINT}),
]
# Written as "3" or "25%", as EKS's updateConfig takes it; read as an UpdateConfig.
MaxUnavailable = Annotated[
    UpdateConfig,
    BeforeValidator(_update_config),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,3}%?$"}),
]
Minor = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+$", description="e.g. 1.30")]
NamespacedName = Annotated[str, Field(pattern=r"^[^/]+/[^/]+$", description="namespace/name")]
RestartableWorkload = Annotated[
    str,
    Field(
        pattern=r"^(Deployment|StatefulSet)/[^/]+/[^/]+$",
        description="Deployment|StatefulSet/namespace/name",
    ),
]
Count = Annotated[str, Field(pattern=r"^[0-9]+$", description="a count, as text")]


class _Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_serializer(mode="wrap")
    def _written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only the fields that were set: a field the planner did not write stays out of the
        # document (and out of its digest) rather than appearing as a default.
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}


class GenericParams(_Params):
    """preflight, manual and approval steps: at most the hop they serve."""

    version: Minor | None = None


class VerifyParams(_Params):
    """verify: the version every part of the cluster must be at."""

    version: Minor


class ControlPlaneParams(_Params):
    """control-plane: one minor up, from the version the plan saw."""

    version: Minor = Field(description="The hop: one minor above from_version.")
    from_version: str | None = Field(
        default=None, description="The version the plan saw; another one is refused."
    )


class AddonsParams(_Params):
    """addons: which add-ons move at this hop (the step's addon_updates, when set, win)."""

    version: Minor = Field(description="The control-plane minor the add-ons must run on.")
    addons: list[str] | None = Field(default=None, description="None: every installed add-on.")
    addon_versions: dict[str, str] = Field(
        default_factory=dict, description="Add-on name to the version to apply."
    )


# Fields several node step kinds share. Each model lists its fields in the order the planner
# has always written them, so the plan JSON reads as it did.
GroupName = Annotated[str, Field(min_length=1, description="The group (or NodePool) it moves.")]
FromVersion = Annotated[str, Field(description="The version before the step; empty: unknown.")]
AmiParameter = Annotated[
    str | None, Field(description="The SSM parameter naming the hop's recommended AMI.")
]
AmiId = Annotated[str | None, Field(description="That AMI, read at plan time.")]
DrainTimeout = Annotated[int, Field(gt=0, description="How long the drain may take, seconds.")]


def _default_taint() -> Taint:
    return parse_taint(DEFAULT_TAINT)


class ManagedGroupParams(_Params):
    """What both managed node group step kinds carry."""

    nodegroup: GroupName
    original_nodegroup: str = Field(
        default="", description="The group's name before any blue/green replacement."
    )
    version: Minor
    from_version: FromVersion = ""
    ami_type: str | None = None
    ami_parameter: AmiParameter = None
    ami_id: AmiId = None
    max_unavailable: MaxUnavailable | None = Field(
        default=None, description="Set on the group for the update; unset: the group's own."
    )
    release_version: str | None = Field(
        default=None,
        description="The AMI release, pinned (a fleet run picks one for every region); unset: "
        "EKS's newest when the step runs.",
    )


class BlueGreenParams(ManagedGroupParams):
    """nodegroup-blue-green: a green group at the hop, then blue drained and deleted."""

    green_nodegroup: str = Field(min_length=1, description="The group it creates at the hop.")
    taint: TaintText = Field(default_factory=_default_taint)
    drain_timeout_seconds: DrainTimeout = DEFAULT_DRAIN_TIMEOUT_SECONDS

    @property
    def blue(self) -> str:
        """The group this step replaces (and deletes)."""
        return self.nodegroup

    @property
    def green(self) -> str:
        """The group it creates at the hop."""
        return self.green_nodegroup


class InPlaceParams(ManagedGroupParams):
    """nodegroup-in-place: EKS's rolling update of the group."""


class SelfManagedParams(_Params):
    """self-managed-group: the Auto Scaling group's instances replaced at the hop's AMI."""

    nodegroup: GroupName
    version: Minor
    from_version: FromVersion = ""
    launch_template: str | None = None
    launch_template_version: str | None = None
    image_id: str | None = Field(default=None, description="The AMI the group ran when planned.")
    ami_type: str | None = None
    ami_parameter: AmiParameter = None
    ami_id: AmiId = None
    taint: TaintText = Field(default_factory=_default_taint)
    drain_timeout_seconds: DrainTimeout = DEFAULT_DRAIN_TIMEOUT_SECONDS


class KarpenterParams(_Params):
    """karpenter-drift: the NodePool's nodes drift to the hop's AMI."""

    nodegroup: GroupName
    version: Minor
    from_version: FromVersion = ""
    node_class: str | None = Field(
        default=None, description="From the pool's nodes at plan time; the live one wins."
    )
    ami_parameter: AmiParameter = None


class FargateParams(_Params):
    """fargate-restart: the workloads with pods on Fargate, restarted to run at the hop."""

    version: Minor
    from_version: str = ""
    profiles: list[str] = Field(default_factory=list)
    workloads: list[RestartableWorkload] = Field(default_factory=list)

    def restarts(self) -> list[tuple[WorkloadKind, str, str]]:
        """(kind, namespace, name) of each workload."""
        found = []
        for text in self.workloads:
            kind, namespace, name = text.split("/", 2)
            found.append((WorkloadKind(kind), namespace, name))
        return found


class AutoscalerParams(_Params):
    """pause/resume-cluster-autoscaler: the Deployments to scale, and their planned counts."""

    deployments: list[NamespacedName] | None = Field(
        default=None, description="None: find them when the step runs."
    )
    replicas: dict[NamespacedName, Count] = Field(
        default_factory=dict, description="As planned: the fallback for the original count."
    )

    def targets(self) -> list[tuple[str, str]] | None:
        if self.deployments is None:
            return None
        return [_split(d) for d in self.deployments]

    def planned(self) -> dict[tuple[str, str], int]:
        return {_split(k): int(v) for k, v in self.replicas.items()}


def _split(text: str) -> tuple[str, str]:
    namespace, _, name = text.partition("/")
    return namespace, name


StepParams = (
    GenericParams
    | VerifyParams
    | ControlPlaneParams
    | AddonsParams
    | BlueGreenParams
    | InPlaceParams
    | SelfManagedParams
    | KarpenterParams
    | FargateParams
    | AutoscalerParams
)

# Which shape each step kind carries, by the kind's value (upgrader.plan.document.StepKind).
PARAMS_FOR_KIND: dict[str, type[_Params]] = {
    "preflight": GenericParams,
    "manual": GenericParams,
    "approval": GenericParams,
    "verify": VerifyParams,
    "pause-cluster-autoscaler": AutoscalerParams,
    "resume-cluster-autoscaler": AutoscalerParams,
    "control-plane": ControlPlaneParams,
    "addons": AddonsParams,
    "nodegroup-blue-green": BlueGreenParams,
    "nodegroup-in-place": InPlaceParams,
    "self-managed-group": SelfManagedParams,
    "karpenter-drift": KarpenterParams,
    "fargate-restart": FargateParams,
}
