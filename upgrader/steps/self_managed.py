"""Rolling a self-managed node group (an Auto Scaling group) onto the hop's AMI by surge.

The flow: a new launch template version with the hop's AMI, the group pointed at it; the
group's AZRebalance and ReplaceUnhealthy processes suspended (they would start or stop
instances behind the roll's back); the desired capacity raised by the number of old
instances, so as many new ones join; once those are Ready in the cluster, Launch suspended too
(nothing replaces what the roll takes away); the old nodes tainted, cordoned and drained within
every PodDisruptionBudget; the old instances terminated with the desired capacity decremented,
which brings the group back to its size; the processes eksup suspended resumed.

Each change is remembered in the journal before it is made: the new template version (created
once), the surge (the group is never raised twice, even if a crash comes between the call and
its record: the memo is written first and a resumed run reads the surge from it), and the
processes eksup suspended (only those: a process someone else suspended stays suspended), so a
resumed run restores them even if the crash came mid-roll. A group whose instances all run the
hop's AMI is done.
"""

from __future__ import annotations

from collections.abc import Callable

from upgrader.aws import AsgInstance, AutoScalingGroup
from upgrader.drain import (
    DrainRefusedError,
    DrainSettings,
    DrainTimeoutError,
    preflight_refusals,
)
from upgrader.kube import Node, Taint
from upgrader.steps.base import (
    PreconditionError,
    StepContext,
    StepFailedError,
    StepResult,
    WaitTimeoutError,
)
from upgrader.steps.nodegroup_blue_green import drain_options
from upgrader.steps.old_nodes import DrainProgress, taint_and_cordon
from upgrader.steps.params import SelfManagedParams, parse_taint
from upgrader.steps.surge import run_drain

ROLL_PROCESSES = ("AZRebalance", "ReplaceUnhealthy")  # suspended for the whole roll
LAUNCH = "Launch"  # suspended once the surge is in
SUSPENDED = "suspended_processes"
RESTORED = "processes_restored"
TEMPLATE_VERSION = "launch_template_version"
ORIGINAL_TEMPLATE_VERSION = "original_launch_template_version"
TARGET_IMAGE = "target_image"
TERMINATING = "terminating"
SURGE = "surge"  # "<desired before>,<desired surged>,<old instances then>"
_GONE_STATES = ("Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated")


def instance_id(node: Node) -> str:
    """The EC2 instance behind a node, from its provider id `aws:///<zone>/<instance id>`."""
    return node.provider_id.rsplit("/", 1)[-1] if node.provider_id.startswith("aws://") else ""


def run_self_managed(ctx: StepContext) -> StepResult:
    p = SelfManagedParams.of(ctx.step)
    taint = parse_taint(ctx.options.taint) if ctx.options.taint else p.taint
    group = _group(ctx, p.group)
    image = _target_image(ctx, p)
    old = _old(group, image)
    if not old:
        restored = _restore(ctx, p.group)
        detail = f"every instance of {p.group} runs {image}"
        return StepResult(detail + restored, already_done=not restored)

    options = drain_options(ctx)
    old_nodes = _nodes_of(ctx, {i.id for i in old})
    refused = preflight_refusals(ctx.ports.cluster, [n.name for n in old_nodes], options)
    if refused:
        raise DrainRefusedError(refused)
    original, surged, old_then = _surge_plan(ctx, p.group, group, len(old))

    _point_at_template(ctx, p, group, image)
    _suspend(ctx, p.group, group, list(ROLL_PROCESSES))
    if ctx.recall(SURGE) is None and not ctx.dry_run:
        ctx.remember(SURGE, f"{original},{surged},{old_then}")
    # An absolute count, so setting it again (a crash between the memo and the call) cannot
    # raise the group twice; once terminations began, the decrements own the count.
    if ctx.recall(TERMINATING) is None and _group(ctx, p.group).desired_capacity != surged:
        ctx.intend(
            f"autoscaling:SetDesiredCapacity group={p.group} desired={surged} "
            f"(from {original}: {old_then} new instances on {image})"
        )
        ctx.ports.compute.set_desired_capacity(p.group, surged)
    try:
        _wait_new_ready(ctx, p.group, image, surged - old_then)
    except WaitTimeoutError as error:
        undone = _undo_surge(ctx, p.group, image)
        raise StepFailedError(
            f"{error}; rolled back: {undone}. No old node was touched. Find out why the new "
            "instances do not join (AMI, user data, instance role, security groups), then --resume"
        ) from error
    _suspend(ctx, p.group, _group(ctx, p.group), [LAUNCH])

    def old_nodes_now() -> list[Node]:
        return _nodes_of(ctx, {i.id for i in _old(_group(ctx, p.group), image)})

    nodes = old_nodes_now()
    taint_and_cordon(ctx, f"old nodes of {p.group}", nodes, taint)
    if ctx.dry_run:
        ctx.reporter.action(f"drain {len(nodes)} old nodes of {p.group}", dry_run=True)
        moved = "dry run"
    else:
        ctx.intend(f"drain {len(nodes)} old nodes of {p.group} within their PodDisruptionBudgets")
        moved = _drain(ctx, p, taint, old_nodes_now)
    _terminate_old(ctx, p.group, image)
    restored = _restore(ctx, p.group)
    return StepResult(f"{p.group} rolled onto {image} ({moved})" + restored)


# -- reading -------------------------------------------------------------------------------------


def _group(ctx: StepContext, name: str) -> AutoScalingGroup:
    for group in ctx.ports.compute.list_cluster_auto_scaling_groups(ctx.cluster_name):
        if group.name == name:
            return group
    raise PreconditionError(
        f"Auto Scaling group {name} is not tagged for cluster {ctx.cluster_name} (or gone): "
        "the cluster changed since the plan was made; re-plan"
    )


def _live(group: AutoScalingGroup) -> list[AsgInstance]:
    return [i for i in group.instances if i.lifecycle_state not in _GONE_STATES]


def _old(group: AutoScalingGroup, image: str) -> list[AsgInstance]:
    return [i for i in _live(group) if i.image_id != image]


def _nodes_of(ctx: StepContext, instances: set[str]) -> list[Node]:
    return [n for n in ctx.ports.cluster.list_nodes() if instance_id(n) in instances]


def _target_image(ctx: StepContext, p: SelfManagedParams) -> str:
    remembered = ctx.recall(TARGET_IMAGE)
    if remembered is not None:
        return remembered
    image = p.ami.ami_id
    if image is None and p.ami.ami_parameter:
        image = ctx.ports.compute.get_parameter(p.ami.ami_parameter)
    if not image:
        raise PreconditionError(
            f"the plan names no AMI for self-managed group {p.group} at {p.version}; re-plan"
        )
    if not ctx.dry_run:
        ctx.remember(TARGET_IMAGE, image)
    return image


def _surge_plan(
    ctx: StepContext, name: str, group: AutoScalingGroup, old: int
) -> tuple[int, int, int]:
    """(desired before, desired during the surge, old instances then): remembered once."""
    remembered = ctx.recall(SURGE)
    if remembered is not None:
        original, surged, old_then = (int(v) for v in remembered.split(","))
        return original, surged, old_then
    original = group.desired_capacity
    surged = original + old
    if surged > group.max_size:
        raise PreconditionError(
            f"Auto Scaling group {name} would need {surged} instances during the roll "
            f"({original} + {old} new), above its MaxSize {group.max_size}; raise MaxSize to "
            f"{surged}, then --resume"
        )
    return original, surged, old


# -- changing ------------------------------------------------------------------------------------


def _point_at_template(
    ctx: StepContext, p: SelfManagedParams, group: AutoScalingGroup, image: str
) -> None:
    ref = group.launch_template
    if ref is None:
        raise PreconditionError(
            f"Auto Scaling group {p.group} has no launch template (a launch configuration?); "
            "eksup rolls only launch-template groups: move it to a launch template, then re-plan"
        )
    compute = ctx.ports.compute
    version = ctx.recall(TEMPLATE_VERSION)
    if version is None:
        current = compute.describe_launch_template_version(ref.id, ref.version or "$Default")
        if current.image_id == image:
            version = current.version
        else:
            ctx.intend(
                f"ec2:CreateLaunchTemplateVersion template={ref.id} "
                f"source={current.version} image={image}"
            )
            version = compute.create_launch_template_version(ref.id, current.version, image).version
        if not ctx.dry_run:
            ctx.remember(TEMPLATE_VERSION, version)
    if ref.version != version:
        if ctx.recall(ORIGINAL_TEMPLATE_VERSION) is None and not ctx.dry_run:
            ctx.remember(ORIGINAL_TEMPLATE_VERSION, ref.version or "$Default")
        ctx.intend(
            f"autoscaling:UpdateAutoScalingGroup group={p.group} "
            f"launch template {ref.id} version {version}"
        )
        compute.set_launch_template(p.group, ref.id, version)


def _suspend(ctx: StepContext, name: str, group: AutoScalingGroup, processes: list[str]) -> None:
    """Suspends those of `processes` not suspended yet; what eksup suspends is remembered
    first, so it is what a resumed run restores."""
    mine = _suspended_by_us(ctx)
    todo = [p for p in processes if p not in group.suspended_processes and p not in mine]
    if not todo:
        return
    if not ctx.dry_run:
        ctx.remember(SUSPENDED, ",".join([*mine, *todo]))
    ctx.intend(f"autoscaling:SuspendProcesses group={name} processes={','.join(todo)}")
    ctx.ports.compute.suspend_processes(name, todo)


def _suspended_by_us(ctx: StepContext) -> list[str]:
    text = ctx.recall(SUSPENDED)
    return [p for p in text.split(",") if p] if text else []


def _restore(ctx: StepContext, name: str) -> str:
    mine = _suspended_by_us(ctx)
    if not mine or ctx.recall(RESTORED) == ",".join(mine):
        return ""
    ctx.intend(f"autoscaling:ResumeProcesses group={name} processes={','.join(mine)}")
    ctx.ports.compute.resume_processes(name, mine)
    if not ctx.dry_run:
        ctx.remember(RESTORED, ",".join(mine))
    return f"; processes {', '.join(mine)} resumed"


def _wait_new_ready(ctx: StepContext, name: str, image: str, wanted: int) -> None:
    ready = [0]

    def enough() -> bool:
        group = _group(ctx, name)
        new = {i.id for i in _live(group) if i.image_id == image}
        ready[0] = sum(1 for n in _nodes_of(ctx, new) if n.ready)
        return ready[0] >= wanted

    ctx.waiter.until(
        enough,
        reason=lambda: f"new nodes of {name} on {image} Ready: {ready[0]}/{wanted}",
        timeout=ctx.options.timeouts.nodes_ready,
        poll=10.0,
    )


def _drain(
    ctx: StepContext, p: SelfManagedParams, taint: Taint, nodes: Callable[[], list[Node]]
) -> str:
    settings = DrainSettings(
        timeout_seconds=ctx.options.drain_timeout_seconds or p.drain_timeout_seconds,
        poll_seconds=ctx.options.drain_poll_seconds,
        grace_period_seconds=ctx.options.grace_period_seconds,
        max_grace_period_seconds=ctx.options.max_grace_period_seconds,
        options=drain_options(ctx),
        taint=taint,
    )
    try:
        report = run_drain(ctx, nodes, settings, DrainProgress(ctx))
    except DrainTimeoutError as error:
        raise StepFailedError(
            f"{error}. No instance was terminated; the old nodes of {p.group} stay tainted and "
            "cordoned and its processes suspended (the journal names them). Free the budget "
            "(or give a longer --drain-timeout) and --resume"
        ) from error
    return f"{len(report.evicted)} pods evicted in {report.seconds:.0f}s"


def _terminate_old(ctx: StepContext, name: str, image: str) -> None:
    """Terminates the old instances, decrementing the desired capacity, once nothing
    evictable is left on their nodes (the drain saw to that), and waits until they are gone."""
    if _old(_group(ctx, name), image) and not ctx.dry_run:
        ctx.remember(TERMINATING, "true")
    _terminate(ctx, name, "old", lambda group: _old(group, image))


def _terminate(
    ctx: StepContext,
    name: str,
    which: str,
    instances: Callable[[AutoScalingGroup], list[AsgInstance]],
) -> None:
    doomed = instances(_group(ctx, name))
    if doomed:
        ctx.intend(
            f"autoscaling:TerminateInstanceInAutoScalingGroup {len(doomed)} {which} instances of "
            f"{name} with decrement: " + ", ".join(i.id for i in doomed[:5])
        )
        for instance in doomed:
            ctx.ports.compute.terminate_instance(instance.id, decrement_desired=True)
    left = [len(doomed)]

    def gone() -> bool:
        left[0] = len(instances(_group(ctx, name)))
        return left[0] == 0

    ctx.waiter.until(
        gone,
        reason=lambda: f"{which} instances of {name} terminated: {left[0]} left",
        timeout=ctx.options.timeouts.nodegroup_delete,
        poll=10.0,
    )


def _undo_surge(ctx: StepContext, name: str, image: str) -> str:
    """The new instances never got Ready: take them out (decrementing, so the group is back to
    its size: a plain scale-in could pick old instances), point the group back at its template
    version, resume what eksup suspended, and forget the suspension so a --resume starts over."""
    _terminate(ctx, name, "new", lambda group: [i for i in _live(group) if i.image_id == image])
    undone = [f"new instances of {name} terminated"]
    original = ctx.recall(ORIGINAL_TEMPLATE_VERSION)
    ref = _group(ctx, name).launch_template
    if original is not None and ref is not None and ref.version != original:
        ctx.intend(
            f"autoscaling:UpdateAutoScalingGroup group={name} "
            f"launch template {ref.id} version {original} (back)"
        )
        ctx.ports.compute.set_launch_template(name, ref.id, original)
        undone.append(f"launch template back to version {original}")
    restored = _restore(ctx, name)
    if restored:
        undone.append(restored.removeprefix("; "))
    for key in (SUSPENDED, RESTORED):
        ctx.remember(key, "")
    return ", ".join(undone)
