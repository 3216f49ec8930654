"""What a self-managed roll does to its Auto Scaling group, one operation each: read the group and
its nodes, point it at the new template version, suspend and restore its processes, wait for
new nodes, check placement, drain, terminate with decrement, and undo a surge. Each change is
remembered in the journal before it is made (see the package's docstring).
"""

from __future__ import annotations

from collections.abc import Callable

from upgrader.core.aws import AsgInstance, AutoScalingGroup
from upgrader.core.kube import Node, Taint
from upgrader.drain.drainer import DrainTimeoutError, drain_summary
from upgrader.execute.steps.base import PreconditionError, StepContext, StepFailedError
from upgrader.execute.steps.drain_settings import drain_options, drain_settings
from upgrader.execute.steps.green_placement import moving_off, named, placement_problems
from upgrader.execute.steps.old_nodes import DrainProgress
from upgrader.execute.steps.surge import run_drain
from upgrader.plan.step_params import SelfManagedParams

ROLL_PROCESSES = ("AZRebalance", "ReplaceUnhealthy")  # suspended for the whole roll
LAUNCH = "Launch"  # suspended once the surge is in
SUSPENDED = "suspended_processes"
RESTORED = "processes_restored"
TEMPLATE_VERSION = "launch_template_version"
ORIGINAL_TEMPLATE_VERSION = "original_launch_template_version"
TARGET_IMAGE = "target_image"
TERMINATING = "terminating"
PLACEMENT_CHECKED = "placement_checked"  # the new nodes take every pod that moves
SURGE = "surge"  # "<desired before>,<desired surged>,<old instances then>"
WAVES = "waves"  # "<desired before>,<room>": the group rolls in waves of `room` instances
WAVE = "wave"  # "wave-<n>" = "<desired surged>;<old instances then>;<chosen old ids>"
_GONE_STATES = ("Terminating", "Terminating:Wait", "Terminating:Proceed", "Terminated")


def instance_id(node: Node) -> str:
    """The EC2 instance behind a node, from its provider id `aws:///<zone>/<instance id>`."""
    return node.provider_id.rsplit("/", 1)[-1] if node.provider_id.startswith("aws://") else ""


# -- reading -------------------------------------------------------------------------------------


def read_group(ctx: StepContext, name: str) -> AutoScalingGroup:
    for group in ctx.ports.compute.list_cluster_auto_scaling_groups(ctx.cluster_name):
        if group.name == name:
            return group
    raise PreconditionError(
        f"Auto Scaling group {name} is not tagged for cluster {ctx.cluster_name} (or gone): "
        "the cluster changed since the plan was made; re-plan"
    )


def live_instances(group: AutoScalingGroup) -> list[AsgInstance]:
    return [i for i in group.instances if i.lifecycle_state not in _GONE_STATES]


def old_instances(group: AutoScalingGroup, image: str) -> list[AsgInstance]:
    return [i for i in live_instances(group) if i.image_id != image]


def nodes_of(ctx: StepContext, instances: set[str]) -> list[Node]:
    return [n for n in ctx.ports.cluster.list_nodes() if instance_id(n) in instances]


def target_image(ctx: StepContext, p: SelfManagedParams) -> str:
    remembered = ctx.recall(TARGET_IMAGE)
    if remembered is not None:
        return remembered
    image = p.ami_id
    if image is None and p.ami_parameter:
        image = ctx.ports.compute.get_parameter(p.ami_parameter)
    if not image:
        raise PreconditionError(
            f"the plan names no AMI for self-managed group {p.nodegroup} at {p.version}; re-plan"
        )
    if not ctx.dry_run:
        ctx.remember(TARGET_IMAGE, image)
    return image


def surge_plan(
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


def point_at_template(
    ctx: StepContext, p: SelfManagedParams, group: AutoScalingGroup, image: str
) -> None:
    ref = group.launch_template
    if ref is None:
        raise PreconditionError(
            f"Auto Scaling group {p.nodegroup} has no launch template (a launch configuration?); "
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
            f"autoscaling:UpdateAutoScalingGroup group={p.nodegroup} "
            f"launch template {ref.id} version {version}"
        )
        compute.set_launch_template(p.nodegroup, ref.id, version)


def suspend(ctx: StepContext, name: str, group: AutoScalingGroup, processes: list[str]) -> None:
    """Suspends those of `processes` not suspended yet; what eksup suspends is remembered
    first, so it is what a resumed run restores."""
    mine = suspended_by_us(ctx)
    todo = [p for p in processes if p not in group.suspended_processes and p not in mine]
    if not todo:
        return
    if not ctx.dry_run:
        ctx.remember(SUSPENDED, ",".join([*mine, *todo]))
    ctx.intend(f"autoscaling:SuspendProcesses group={name} processes={','.join(todo)}")
    ctx.ports.compute.suspend_processes(name, todo)


def suspended_by_us(ctx: StepContext) -> list[str]:
    text = ctx.recall(SUSPENDED)
    return [p for p in text.split(",") if p] if text else []


def restore(ctx: StepContext, name: str) -> str:
    mine = suspended_by_us(ctx)
    if not mine or ctx.recall(RESTORED) == ",".join(mine):
        return ""
    ctx.intend(f"autoscaling:ResumeProcesses group={name} processes={','.join(mine)}")
    ctx.ports.compute.resume_processes(name, mine)
    if not ctx.dry_run:
        ctx.remember(RESTORED, ",".join(mine))
    return f"; processes {', '.join(mine)} resumed"


def wait_new_ready(ctx: StepContext, name: str, image: str, wanted: int) -> None:
    ready = [0]

    def enough() -> bool:
        group = read_group(ctx, name)
        new = {i.id for i in live_instances(group) if i.image_id == image}
        ready[0] = sum(1 for n in nodes_of(ctx, new) if n.ready)
        return ready[0] >= wanted

    ctx.waiter.until(
        enough,
        reason=lambda: f"new nodes of {name} on {image} Ready: {ready[0]}/{wanted}",
        timeout=ctx.options.timeouts.nodes_ready,
        poll=10.0,
    )


def drain_nodes(
    ctx: StepContext, p: SelfManagedParams, taint: Taint, nodes: Callable[[], list[Node]]
) -> str:
    settings = drain_settings(ctx, p.drain_timeout_seconds, taint)
    try:
        report = run_drain(ctx, nodes, settings, DrainProgress(ctx))
    except DrainTimeoutError as error:
        go_on = error.advice or "free the budget (or give a longer --drain-timeout) and --resume"
        raise StepFailedError(
            f"{error}. The nodes being drained were not terminated; the old nodes of {p.nodegroup} "
            "stay tainted and cordoned and its processes suspended (the journal names them). "
            f"To go on: {go_on}"
        ) from error
    return drain_summary(report)


def check_placement(
    ctx: StepContext,
    name: str,
    image: str,
    old: list[Node],
    *,
    memo: str,
    undo: Callable[[], str],
) -> None:
    """Before the first cordon of `old`: every pod their drain moves must be able to run on a
    Ready new node of the group (green_placement's rules). Else the surge is undone and the
    step refused, naming what the new nodes lack. Checked once: a resumed run whose nodes
    were cordoned already goes on with the drain."""
    if ctx.dry_run or ctx.recall(memo):
        return
    new = {i.id for i in live_instances(read_group(ctx, name)) if i.image_id == image}
    green = [n for n in nodes_of(ctx, new) if n.ready]
    cluster, options = ctx.ports.cluster, drain_options(ctx)
    moving = [p for n in old for p in moving_off(cluster.list_pods(node_name=n.name), options)]
    problems = placement_problems(ctx, green, old, moving)
    if problems:
        undone = undo()
        raise StepFailedError(
            f"refused before cordoning the old nodes of {name}: pods they run cannot run on any "
            f"Ready new node of {name}: {named(problems)}. Nothing was cordoned or evicted; "
            f"rolled back: {undone}. To go on: give the launch template what they need "
            "(--node-labels or --register-with-taints in its user data, subnets in the zones "
            "they need) or change the workloads, then --resume"
        )
    ctx.remember(memo, "true")


def terminate_old(ctx: StepContext, name: str, image: str) -> None:
    """Terminates the old instances, decrementing the desired capacity, once nothing
    evictable is left on their nodes (the drain saw to that), and waits until they are gone."""
    if old_instances(read_group(ctx, name), image) and not ctx.dry_run:
        ctx.remember(TERMINATING, "true")
    terminate(ctx, name, "old", lambda group: old_instances(group, image))


def terminate(
    ctx: StepContext,
    name: str,
    which: str,
    instances: Callable[[AutoScalingGroup], list[AsgInstance]],
) -> None:
    doomed = instances(read_group(ctx, name))
    if doomed:
        ctx.intend(
            f"autoscaling:TerminateInstanceInAutoScalingGroup {len(doomed)} {which} instances of "
            f"{name} with decrement: " + ", ".join(i.id for i in doomed[:5])
        )
        for instance in doomed:
            ctx.ports.compute.terminate_instance(instance.id, decrement_desired=True)
    left = [len(doomed), 0]
    ids = {i.id for i in doomed}

    def gone() -> bool:
        # The Node outlives its instance: the cloud node lifecycle controller deletes it only
        # once the kubelet has been silent for node-monitor-grace-period (40-50 s). Done means
        # both gone, or the next step (and verify) would still see the old nodes.
        left[0] = len(instances(read_group(ctx, name)))
        left[1] = len(nodes_of(ctx, ids))
        return left[0] == 0 and left[1] == 0

    ctx.waiter.until(
        gone,
        reason=lambda: (
            f"{which} instances of {name} terminated: {left[0]} left, "
            f"{left[1]} of their nodes still registered"
        ),
        timeout=ctx.options.timeouts.nodegroup_delete,
        poll=10.0,
    )


def undo_surge(ctx: StepContext, name: str, image: str) -> str:
    """The new instances never got Ready: take them out (decrementing, so the group is back to
    its size: a plain scale-in could pick old instances), point the group back at its template
    version, resume what eksup suspended, and forget the suspension so a --resume starts over."""
    terminate(
        ctx, name, "new", lambda group: [i for i in live_instances(group) if i.image_id == image]
    )
    undone = [f"new instances of {name} terminated"]
    undone.extend(revert_template(ctx, name))
    restored = restore(ctx, name)
    if restored:
        undone.append(restored.removeprefix("; "))
    for key in (SUSPENDED, RESTORED):
        ctx.remember(key, "")
    return ", ".join(undone)


def revert_template(ctx: StepContext, name: str) -> list[str]:
    original = ctx.recall(ORIGINAL_TEMPLATE_VERSION)
    ref = read_group(ctx, name).launch_template
    if original is None or ref is None or ref.version == original:
        return []
    ctx.intend(
        f"autoscaling:UpdateAutoScalingGroup group={name} "
        f"launch template {ref.id} version {original} (back)"
    )
    ctx.ports.compute.set_launch_template(name, ref.id, original)
    return [f"launch template back to version {original}"]
