"""Upgrading a managed node group in place: `UpdateNodegroupVersion`, waited on to the end.

EKS then replaces the nodes itself, `maxUnavailable` at a time (the group's own update
config), evicting pods through the Eviction API. eksup never passes `force`: with it EKS
deletes pods a PodDisruptionBudget protects. Without it a blocked eviction fails the update
(PodEvictionFailure) and the step stops with EKS's error, which names the pod.

The drain rules still apply: EKS's eviction deletes a bare pod for good, so the refusals are
checked for every node of the group first, exactly as for blue/green. As for the control plane,
the update id is remembered at once and an update in flight is waited on, never re-issued.
"""

from __future__ import annotations

import contextlib

from upgrader.core.aws import Nodegroup, UpdateConfig, UpdateStatus
from upgrader.core.errors import NotFoundError
from upgrader.execute.eks_estimate import UpdateKind, batches
from upgrader.execute.steps.base import (
    PreconditionError,
    StepContext,
    StepResult,
    WaitTimeoutError,
    wait_for_update,
)
from upgrader.execute.steps.drain_settings import drain_options
from upgrader.execute.steps.managed_group import (
    describe_or_none,
    group_nodes,
    preflight,
    template_for_hop,
)
from upgrader.plan.step_params import InPlaceParams
from upgrader.versions import KubeVersion

UPDATE_ID = "update_id"
ORIGINAL_MAX_UNAVAILABLE = "original_max_unavailable"


def run_in_place(ctx: StepContext) -> StepResult:
    p = ctx.step.params_of(InPlaceParams)
    name = ctx.cluster_name
    group = describe_or_none(ctx, p.nodegroup)
    if group is None:
        raise PreconditionError(f"node group {p.nodegroup} does not exist; re-plan")
    hop = KubeVersion.parse(p.version)

    update_id = ctx.recall(UPDATE_ID) or _in_flight(ctx, p.nodegroup, p.version)
    if update_id is not None and _ended_badly(ctx, p.nodegroup, update_id):
        update_id = None
    if update_id is None:
        if KubeVersion.parse(group.version) >= hop and group.status in ("ACTIVE", "DEGRADED"):
            _check_nodes(ctx, p.nodegroup, p.version)
            restored = _restore_max_unavailable(ctx, p.nodegroup)
            return StepResult(
                f"{p.nodegroup} already at {group.version}{restored}", already_done=not restored
            )
        cluster = ctx.ports.control_plane.describe_cluster(name)
        if KubeVersion.parse(cluster.version) < hop:
            raise PreconditionError(
                f"cluster {name} is at {cluster.version}: node group {p.nodegroup} can move to "
                f"{p.version} only after the control plane"
            )
        if group.status not in ("ACTIVE", "DEGRADED"):
            raise PreconditionError(
                f"node group {p.nodegroup} is {group.status}: wait, then --resume"
            )
        preflight(ctx, p.nodegroup, drain_options(ctx))
        version: str | None = p.version
        template_version = None
        if group.launch_template is not None:
            template, custom = template_for_hop(
                ctx, group.launch_template, p.nodegroup, p.version, p
            )
            if custom:
                version, template_version = None, template.version
        at_a_time = _set_max_unavailable(ctx, p.nodegroup, group.update_config, p.max_unavailable)
        ctx.intend(
            f"eks:UpdateNodegroupVersion cluster={name} nodegroup={p.nodegroup} "
            f"version={p.version}"
            + (f" launchTemplateVersion={template_version}" if template_version else "")
            + f" (EKS replaces its nodes, {at_a_time} at a time)"
        )
        update = ctx.ports.control_plane.update_nodegroup_version(
            name,
            p.nodegroup,
            version=version,
            launch_template_version=template_version,
            release_version=p.release_version if version is not None else None,
        )
        update_id = update.id
    else:
        ctx.reporter.info(f"following update {update_id}, issued earlier (not re-issued)")
    ctx.remember(UPDATE_ID, update_id)
    wait_for_update(
        ctx,
        update_id,
        what=f"node group {p.nodegroup} -> {p.version}",
        timeout=ctx.options.timeouts.nodegroup_update,
        nodegroup=p.nodegroup,
        rounds=_rounds(group, p.max_unavailable or group.update_config),
    )
    if not ctx.dry_run:
        _check_nodes(ctx, p.nodegroup, p.version)
    restored = _restore_max_unavailable(ctx, p.nodegroup)
    return StepResult(
        f"{p.nodegroup} updated in place to {p.version} (update {update_id}){restored}"
    )


def _rounds(group: Nodegroup, config: UpdateConfig) -> int:
    """The batches EKS replaces the group's nodes in, for the wait's estimate."""
    nodes = group.scaling.desired_size
    if config.max_unavailable_percentage is not None:
        at_a_time = max(1, nodes * config.max_unavailable_percentage // 100)
    else:
        at_a_time = config.max_unavailable or 1
    return batches(nodes, at_a_time)


def _set_max_unavailable(
    ctx: StepContext, group: str, current: UpdateConfig, wanted: UpdateConfig | None
) -> UpdateConfig:
    """Gives the group the plan's maxUnavailable for this update; the group's own is remembered
    first, so it is put back after the update, also by a resumed run."""
    if wanted is None or wanted == current:
        return current
    if ctx.recall(ORIGINAL_MAX_UNAVAILABLE) in (None, "") and not ctx.dry_run:
        ctx.remember(ORIGINAL_MAX_UNAVAILABLE, str(current))
    _update_config(ctx, group, wanted, f"for this update; the group's {current} is put back after")
    return wanted


def _restore_max_unavailable(ctx: StepContext, group: str) -> str:
    original = ctx.recall(ORIGINAL_MAX_UNAVAILABLE)
    if not original:
        return ""
    config = UpdateConfig.parse(original)
    if ctx.ports.control_plane.describe_nodegroup(ctx.cluster_name, group).update_config != config:
        _update_config(ctx, group, config, "back to the group's own")
    if not ctx.dry_run:
        ctx.remember(ORIGINAL_MAX_UNAVAILABLE, "")
    return f"; maxUnavailable back to {original}"


def _update_config(ctx: StepContext, group: str, config: UpdateConfig, why: str) -> None:
    ctx.intend(
        f"eks:UpdateNodegroupConfig cluster={ctx.cluster_name} nodegroup={group} "
        f"maxUnavailable={config} ({why})"
    )
    update = ctx.ports.control_plane.update_nodegroup_update_config(ctx.cluster_name, group, config)
    wait_for_update(
        ctx,
        update.id,
        what=f"node group {group} maxUnavailable {config}",
        timeout=ctx.options.timeouts.nodegroup_update,
        nodegroup=group,
        kind=UpdateKind.NODEGROUP_CONFIG,
    )


# A few times the 40-50 s (node-monitor-grace-period) after which the cloud node lifecycle
# controller deletes the Node of a terminated instance.
_DEREGISTER_SECONDS = 300.0


def _check_nodes(ctx: StepContext, group: str, version: str) -> None:
    behind: list[str] = []

    def moved() -> bool:
        # EKS calls the update Successful once the old instances are terminated; their Node
        # objects go later (node lifecycle controller), so wait for them before judging.
        behind[:] = [n.name for n in group_nodes(ctx, group) if n.minor_version != version]
        return not behind

    # A timeout is reported below: EKS says done, so it is a warning, not a failure.
    with contextlib.suppress(WaitTimeoutError):
        ctx.waiter.until(
            moved,
            reason=lambda: f"old nodes of {group} deregistered: {', '.join(behind[:5])}",
            timeout=_DEREGISTER_SECONDS,
            poll=10.0,
        )
    if behind:
        ctx.reporter.warning(
            f"EKS reports {group} at {version} but these nodes still run another version: "
            + ", ".join(behind[:5])
        )


def _in_flight(ctx: StepContext, group: str, version: str) -> str | None:
    eks = ctx.ports.control_plane
    for update_id in eks.list_updates(ctx.cluster_name, nodegroup=group):
        try:
            update = eks.describe_update(ctx.cluster_name, update_id, nodegroup=group)
        except NotFoundError:
            continue
        if (
            update.type == "VersionUpdate"
            and update.status is UpdateStatus.IN_PROGRESS
            and update.params.get("Version") in (None, version)
        ):
            return update_id
    return None


def _ended_badly(ctx: StepContext, group: str, update_id: str) -> bool:
    try:
        update = ctx.ports.control_plane.describe_update(
            ctx.cluster_name, update_id, nodegroup=group
        )
    except NotFoundError:
        return True
    return update.status in (UpdateStatus.FAILED, UpdateStatus.CANCELLED)
