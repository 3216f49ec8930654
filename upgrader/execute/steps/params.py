"""What each step kind reads from its plan step, in one place.

The planner writes `Step.params` as plain JSON values; the steps read them only through the
typed views below. A renamed or added parameter on the planner's side is a change to this file
and nothing else, and a plan with a missing or mistyped parameter is refused with a message
naming the step and the parameter before anything runs (`validate_plan_params`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from upgrader.core.aws import UpdateConfig
from upgrader.core.defaults import DEFAULT_DRAIN_TIMEOUT_SECONDS
from upgrader.core.errors import UserError
from upgrader.core.kube import Taint, TaintEffect, WorkloadKind
from upgrader.plan.document import ParamValue, Plan, Step, StepKind

DEFAULT_TAINT = "eksup.io/upgrade=blue:NoSchedule"
REPLACES_TAG = "eksup.io/replaces"


def _bad(step: Step, name: str, wanted: str) -> UserError:
    return UserError(
        f"plan step {step.id!r} ({step.kind.value}): parameter {name!r} must be {wanted}, "
        f"got {step.params.get(name)!r}; re-run `eksup plan`"
    )


def _str(step: Step, name: str, default: str | None = None) -> str:
    value = step.params.get(name, default)
    if isinstance(value, str) and value:
        return value
    if value is None and default is not None:
        return default
    raise _bad(step, name, "a non-empty string")


def _opt_str(step: Step, name: str) -> str | None:
    value = step.params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    raise _bad(step, name, "a string")


def _list(step: Step, name: str) -> list[str] | None:
    value = step.params.get(name)
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise _bad(step, name, "a list of strings")


def _map(step: Step, name: str) -> dict[str, str]:
    value: ParamValue = step.params.get(name)
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    raise _bad(step, name, "a mapping")


def _version(step: Step) -> str:
    return _str(step, "version", step.hop)


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


@dataclass(frozen=True)
class ControlPlaneParams:
    version: str  # the hop: one minor above `from_version`
    from_version: str | None

    @classmethod
    def of(cls, step: Step) -> ControlPlaneParams:
        return cls(_version(step), _opt_str(step, "from_version"))


@dataclass(frozen=True)
class AddonTarget:
    name: str
    # Versions to apply in order; empty entries and bare minors ("1.17") are resolved from
    # describe-addon-versions when the step runs. Empty: the hop's default version.
    path: tuple[str, ...]


@dataclass(frozen=True)
class AddonsParams:
    version: str
    addons: tuple[AddonTarget, ...] | None  # None: every installed add-on

    @classmethod
    def of(cls, step: Step) -> AddonsParams:
        if step.addon_updates:
            targets = tuple(
                AddonTarget(u.name, tuple(u.path or ([u.target] if u.target else [])))
                for u in step.addon_updates
            )
            return cls(_version(step), targets)
        names = _list(step, "addons")
        versions = _map(step, "addon_versions")
        if names is None:
            return cls(_version(step), None)
        return cls(
            _version(step),
            tuple(AddonTarget(n, (versions[n],) if versions.get(n) else ()) for n in names),
        )


@dataclass(frozen=True)
class AmiParams:
    ami_id: str | None  # the recommended AMI at the hop, read from SSM at plan time
    ami_parameter: str | None  # the SSM parameter naming it, to read it again if needed
    # A managed group's AMI release, pinned (a fleet run picks one for every region); None: EKS's
    # newest when the step runs.
    release_version: str | None = None

    @classmethod
    def of(cls, step: Step) -> AmiParams:
        return cls(
            _opt_str(step, "ami_id"),
            _opt_str(step, "ami_parameter"),
            _opt_str(step, "release_version"),
        )


@dataclass(frozen=True)
class BlueGreenParams:
    blue: str
    green: str
    version: str
    taint: Taint
    drain_timeout_seconds: float
    ami: AmiParams

    @classmethod
    def of(cls, step: Step) -> BlueGreenParams:
        blue = _str(step, "nodegroup")
        version = _version(step)
        timeout = step.params.get("drain_timeout_seconds", DEFAULT_DRAIN_TIMEOUT_SECONDS)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            raise _bad(step, "drain_timeout_seconds", "a positive number of seconds")
        return cls(
            blue=blue,
            green=_str(step, "green_nodegroup"),
            version=version,
            taint=parse_taint(_str(step, "taint", DEFAULT_TAINT)),
            drain_timeout_seconds=float(timeout),
            ami=AmiParams.of(step),
        )


@dataclass(frozen=True)
class InPlaceParams:
    nodegroup: str
    version: str
    # Set on the group for the update (and put back after) when it differs; None: the group's
    max_unavailable: UpdateConfig | None
    ami: AmiParams

    @classmethod
    def of(cls, step: Step) -> InPlaceParams:
        text = _opt_str(step, "max_unavailable")
        try:
            max_unavailable = UpdateConfig.parse(text) if text is not None else None
        except ValueError:
            raise _bad(
                step, "max_unavailable", 'a count "1"-"100" or a percentage "1%"-"100%"'
            ) from None
        return cls(
            nodegroup=_str(step, "nodegroup"),
            version=_version(step),
            max_unavailable=max_unavailable,
            ami=AmiParams.of(step),
        )


def _timeout(step: Step) -> float:
    timeout = step.params.get("drain_timeout_seconds", DEFAULT_DRAIN_TIMEOUT_SECONDS)
    if timeout is None:
        return DEFAULT_DRAIN_TIMEOUT_SECONDS
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise _bad(step, "drain_timeout_seconds", "a positive number of seconds")
    return float(timeout)


@dataclass(frozen=True)
class SelfManagedParams:
    group: str  # the Auto Scaling group's name
    version: str
    taint: Taint
    drain_timeout_seconds: float
    ami: AmiParams  # the hop's AMI: what every instance of the group runs when the step is done

    @classmethod
    def of(cls, step: Step) -> SelfManagedParams:
        return cls(
            group=_str(step, "nodegroup"),
            version=_version(step),
            taint=parse_taint(_str(step, "taint", DEFAULT_TAINT)),
            drain_timeout_seconds=_timeout(step),
            ami=AmiParams.of(step),
        )


@dataclass(frozen=True)
class KarpenterParams:
    node_pool: str
    version: str
    node_class: str | None  # from the pool's nodes at plan time; the live nodeClassRef wins
    ami_parameter: str | None  # the SSM parameter of the hop's AMI; else from the node class

    @classmethod
    def of(cls, step: Step) -> KarpenterParams:
        return cls(
            node_pool=_str(step, "nodegroup"),
            version=_version(step),
            node_class=_opt_str(step, "node_class"),
            ami_parameter=_opt_str(step, "ami_parameter"),
        )


_RESTARTABLE = {WorkloadKind.DEPLOYMENT.value, WorkloadKind.STATEFUL_SET.value}


@dataclass(frozen=True)
class FargateParams:
    version: str
    workloads: tuple[tuple[WorkloadKind, str, str], ...]  # (kind, namespace, name)

    @classmethod
    def of(cls, step: Step) -> FargateParams:
        found = []
        for text in _list(step, "workloads") or []:
            kind, _, rest = text.partition("/")
            namespace, sep, name = rest.partition("/")
            if kind not in _RESTARTABLE or not sep or not namespace or not name:
                raise _bad(step, "workloads", "a list of Deployment|StatefulSet/namespace/name")
            found.append((WorkloadKind(kind), namespace, name))
        return cls(_version(step), tuple(found))


@dataclass(frozen=True)
class AutoscalerParams:
    deployments: tuple[tuple[str, str], ...] | None  # (namespace, name); None: find them
    replicas: Mapping[tuple[str, str], int]  # as planned: the fallback for the original count

    @classmethod
    def of(cls, step: Step) -> AutoscalerParams:
        names = _list(step, "deployments")
        deployments = None
        if names is not None:
            deployments = tuple(_namespaced(step, n) for n in names)
        replicas = {}
        for key, value in _map(step, "replicas").items():
            try:
                replicas[_namespaced(step, key)] = int(value)
            except ValueError:
                raise _bad(step, "replicas", "a mapping of namespace/name to a count") from None
        return cls(deployments, replicas)


def _namespaced(step: Step, text: str) -> tuple[str, str]:
    namespace, sep, name = text.partition("/")
    if not sep or not namespace or not name:
        raise _bad(step, "deployments", "a list of namespace/name")
    return namespace, name


@dataclass(frozen=True)
class VerifyParams:
    version: str

    @classmethod
    def of(cls, step: Step, target_version: str) -> VerifyParams:
        return cls(_str(step, "version", step.hop or target_version))


_VIEWS: dict[StepKind, Callable[[Step], object]] = {
    StepKind.CONTROL_PLANE: ControlPlaneParams.of,
    StepKind.ADDONS: AddonsParams.of,
    StepKind.NODEGROUP_BLUE_GREEN: BlueGreenParams.of,
    StepKind.NODEGROUP_IN_PLACE: InPlaceParams.of,
    StepKind.SELF_MANAGED_GROUP: SelfManagedParams.of,
    StepKind.FARGATE_RESTART: FargateParams.of,
    StepKind.KARPENTER_DRIFT: KarpenterParams.of,
    StepKind.PAUSE_AUTOSCALER: AutoscalerParams.of,
    StepKind.RESUME_AUTOSCALER: AutoscalerParams.of,
}


def validate_plan_params(plan: Plan) -> None:
    """Parse every step's parameters once, up front: a bad plan fails before any change."""
    for step in plan.steps:
        view = _VIEWS.get(step.kind)
        if view is not None:
            view(step)
        if step.kind is StepKind.VERIFY:
            VerifyParams.of(step, plan.target_version)
