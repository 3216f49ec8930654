"""The control-plane hop: one `UpdateClusterVersion` to the next minor, waited on to the end.

EKS moves the control plane one minor per update and refuses while a managed node group lags
the current version; checking that first turns EKS's terse refusal into a message naming the
groups. The update id is remembered the moment EKS returns it, and before issuing a new update
the step looks for one in flight (in the journal, then in EKS's own list), so a crash at any
point is resumed by waiting on the existing update, never by issuing a second.
"""

from __future__ import annotations

import contextlib

from upgrader.core.aws import UpdateStatus
from upgrader.core.errors import AwsApiError, EksupError, NotFoundError
from upgrader.execute.steps.base import PreconditionError, StepContext, StepResult, wait_for_update
from upgrader.plan.step_params import ControlPlaneParams
from upgrader.versions import KubeVersion

UPDATE_ID = "update_id"
# EKS's answer when upgrade readiness insights are ERROR and `force` is not given (botocore's
# EKS model: InvalidStateException, "Pass the force flag ... to override").
READINESS_REFUSAL = "InvalidStateException"


def run_control_plane(ctx: StepContext) -> StepResult:
    params = ctx.step.params_of(ControlPlaneParams)
    eks = ctx.ports.control_plane
    name = ctx.cluster_name
    cluster = eks.describe_cluster(name)
    hop = KubeVersion.parse(params.version)
    current = KubeVersion.parse(cluster.version)
    if current >= hop:
        return StepResult(f"control plane already at {cluster.version}", already_done=True)

    update_id = ctx.recall(UPDATE_ID) or _in_flight(ctx, params.version)
    if update_id is not None and _ended_badly(ctx, update_id):
        update_id = None  # the user resumes a failed step: a new update is the retry
    if update_id is None:
        _check_preconditions(ctx, params, cluster.version, cluster.status)
        ctx.intend(f"eks:UpdateClusterVersion cluster={name} version={params.version}")
        try:
            update = eks.update_cluster_version(name, params.version)
        except AwsApiError as error:
            if error.code != READINESS_REFUSAL:
                raise
            raise PreconditionError(_readiness_refusal(ctx, params.version, error)) from error
        update_id = update.id
        ctx.remember(UPDATE_ID, update_id)
    else:
        ctx.reporter.info(f"following update {update_id}, issued earlier (not re-issued)")
        ctx.remember(UPDATE_ID, update_id)

    wait_for_update(
        ctx,
        update_id,
        what=f"control plane {name} -> {params.version}",
        timeout=ctx.options.timeouts.control_plane,
    )
    after = eks.describe_cluster(name)
    if not ctx.dry_run and KubeVersion.parse(after.version) < hop:
        raise PreconditionError(
            f"update {update_id} succeeded but cluster {name} reports {after.version}"
        )
    return StepResult(f"control plane at {params.version} (update {update_id})")


def _readiness_refusal(ctx: StepContext, version: str, error: AwsApiError) -> str:
    """EKS refused the upgrade for its upgrade readiness insights in ERROR (they can turn ERROR
    after the plan was made): name them and say how to go on; nothing was changed."""
    names: list[str] = []
    with contextlib.suppress(EksupError):  # unread, the refusal's own message says why
        names = sorted(
            i.name
            for i in ctx.ports.control_plane.list_insights(ctx.cluster_name)
            if i.category == "UPGRADE_READINESS"
            and i.status == "ERROR"
            and i.kubernetes_version in ("", version)
        )
    found = f": {'; '.join(names)}" if names else f" ({error})"
    return (
        f"EKS refused UpdateClusterVersion to {version}: upgrade readiness insights in "
        f"ERROR{found}. Fix what they report (aws eks list-insights --cluster-name "
        f"{ctx.cluster_name} --filter statuses=ERROR), then --resume; eksup never passes "
        "--force past them"
    )


def _in_flight(ctx: StepContext, version: str) -> str | None:
    """An update to this version EKS is already running (issued by a run that crashed before
    its journal recorded the id)."""
    eks = ctx.ports.control_plane
    for update_id in eks.list_updates(ctx.cluster_name):
        try:
            update = eks.describe_update(ctx.cluster_name, update_id)
        except NotFoundError:
            continue
        if (
            update.type == "VersionUpdate"
            and update.status is UpdateStatus.IN_PROGRESS
            and update.params.get("Version") == version
        ):
            return update_id
    return None


def _ended_badly(ctx: StepContext, update_id: str) -> bool:
    try:
        update = ctx.ports.control_plane.describe_update(ctx.cluster_name, update_id)
    except NotFoundError:
        return True
    return update.status in (UpdateStatus.FAILED, UpdateStatus.CANCELLED)


def _check_preconditions(
    ctx: StepContext, params: ControlPlaneParams, version: str, status: str
) -> None:
    name = ctx.cluster_name
    if params.from_version and version != params.from_version:
        raise PreconditionError(
            f"cluster {name} is at {version}, but this step moves it from {params.from_version} "
            f"to {params.version}; the cluster changed since the plan was made: re-plan"
        )
    if KubeVersion.parse(params.version).minor != KubeVersion.parse(version).minor + 1:
        raise PreconditionError(
            f"cluster {name} is at {version}: EKS moves one minor version per update, not to "
            f"{params.version}"
        )
    if status != "ACTIVE":
        raise PreconditionError(f"cluster {name} is {status}, not ACTIVE: wait, then --resume")
    eks = ctx.ports.control_plane
    behind = []
    for group in eks.list_nodegroups(name):
        try:
            described = eks.describe_nodegroup(name, group)
        except NotFoundError:
            continue
        if described.status != "DELETING" and described.version != version:
            behind.append(f"{group} ({described.version})")
    if behind:
        raise PreconditionError(
            f"EKS refuses to upgrade {name} while managed node groups lag its version {version}: "
            f"{', '.join(behind)}; their node group steps must run first"
        )
