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

A group whose MaxSize cannot take the whole surge (desired + old instances) rolls in waves of
`room = MaxSize - desired`: per wave, the desired capacity raised by k = min(room, old left),
the k new instances awaited Ready, Launch suspended, the k oldest old nodes (their instance ids
journaled for the wave before any is touched) tainted, cordoned, drained and terminated with
decrement, Launch resumed (if eksup suspended it); the processes restored after the last wave.
Every memo is per wave (`wave-<n>`, `wave-<n>-terminating`, `wave-<n>-done`), so a resumed run
finishes the wave it crashed in and skips the finished ones. New instances of a wave that never
get Ready are terminated (only the not-Ready ones), the old nodes left alone, the processes
restored; the template goes back only if no wave had finished. A group at its MaxSize (no room
at all) is refused before any change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from upgrader.core.aws import AsgInstance, AutoScalingGroup
from upgrader.core.kube import Node, Taint
from upgrader.drain.drainer import (
    DrainRefusedError,
    DrainTimeoutError,
    drain_summary,
)
from upgrader.execute.steps.base import (
    PreconditionError,
    StepContext,
    StepFailedError,
    StepResult,
    WaitTimeoutError,
)
from upgrader.execute.steps.green_placement import moving_off, named, placement_problems
from upgrader.execute.steps.nodegroup_blue_green import (
    drain_options,
    drain_refusals,
    drain_settings,
)
from upgrader.execute.steps.old_nodes import DrainProgress, taint_and_cordon
from upgrader.execute.steps.surge import run_drain
from upgrader.plan.step_params import SelfManagedParams, parse_taint

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


def run_self_managed(ctx: StepContext) -> StepResult:
    p = ctx.step.params_of(SelfManagedParams)
    taint = parse_taint(ctx.options.taint) if ctx.options.taint else p.taint
    group = _group(ctx, p.nodegroup)
    image = _target_image(ctx, p)
    old = _old(group, image)
    if not old:
        restored = _restore(ctx, p.nodegroup)
        detail = f"every instance of {p.nodegroup} runs {image}"
        return StepResult(detail + restored, already_done=not restored)

    old_nodes = _nodes_of(ctx, {i.id for i in old})
    refused = drain_refusals(ctx, [n.name for n in old_nodes])
    if refused:
        raise DrainRefusedError(refused)
    waves = _wave_plan(ctx, p.nodegroup, group, len(old))
    if waves is not None:
        return _roll_in_waves(ctx, _Waves(p, taint, image, *waves))
    original, surged, old_then = _surge_plan(ctx, p.nodegroup, group, len(old))

    _point_at_template(ctx, p, group, image)
    _suspend(ctx, p.nodegroup, group, list(ROLL_PROCESSES))
    if ctx.recall(SURGE) is None and not ctx.dry_run:
        ctx.remember(SURGE, f"{original},{surged},{old_then}")
    # An absolute count, so setting it again (a crash between the memo and the call) cannot
    # raise the group twice; once terminations began, the decrements own the count.
    if ctx.recall(TERMINATING) is None and _group(ctx, p.nodegroup).desired_capacity != surged:
        ctx.intend(
            f"autoscaling:SetDesiredCapacity group={p.nodegroup} desired={surged} "
            f"(from {original}: {old_then} new instances on {image})"
        )
        ctx.ports.compute.set_desired_capacity(p.nodegroup, surged)
    try:
        _wait_new_ready(ctx, p.nodegroup, image, surged - old_then)
    except WaitTimeoutError as error:
        undone = _undo_surge(ctx, p.nodegroup, image)
        raise StepFailedError(
            f"{error}; rolled back: {undone}. No old node was touched. Find out why the new "
            "instances do not join (AMI, user data, instance role, security groups), then --resume"
        ) from error
    _suspend(ctx, p.nodegroup, _group(ctx, p.nodegroup), [LAUNCH])

    # Launches are suspended, so no instance joins the old set while it drains: its ids are read
    # once, not once a drain round (the drain re-reads the nodes, which go with their instances).
    old_ids = {i.id for i in _old(_group(ctx, p.nodegroup), image)}

    def old_nodes_now() -> list[Node]:
        return _nodes_of(ctx, old_ids)

    nodes = old_nodes_now()
    _check_placement(
        ctx,
        p.nodegroup,
        image,
        nodes,
        memo=PLACEMENT_CHECKED,
        undo=lambda: _undo_surge(ctx, p.nodegroup, image),
    )
    taint_and_cordon(ctx, f"old nodes of {p.nodegroup}", nodes, taint)
    if ctx.dry_run:
        ctx.reporter.action(f"drain {len(nodes)} old nodes of {p.nodegroup}", dry_run=True)
        moved = "dry run"
    else:
        ctx.intend(
            f"drain {len(nodes)} old nodes of {p.nodegroup} within their PodDisruptionBudgets"
        )
        moved = _drain(ctx, p, taint, old_nodes_now)
    _terminate_old(ctx, p.nodegroup, image)
    restored = _restore(ctx, p.nodegroup)
    return StepResult(f"{p.nodegroup} rolled onto {image} ({moved})" + restored)


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


def _check_placement(
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
    new = {i.id for i in _live(_group(ctx, name)) if i.image_id == image}
    green = [n for n in _nodes_of(ctx, new) if n.ready]
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
    left = [len(doomed), 0]
    ids = {i.id for i in doomed}

    def gone() -> bool:
        # The Node outlives its instance: the cloud node lifecycle controller deletes it only
        # once the kubelet has been silent for node-monitor-grace-period (40-50 s). Done means
        # both gone, or the next step (and verify) would still see the old nodes.
        left[0] = len(instances(_group(ctx, name)))
        left[1] = len(_nodes_of(ctx, ids))
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


def _undo_surge(ctx: StepContext, name: str, image: str) -> str:
    """The new instances never got Ready: take them out (decrementing, so the group is back to
    its size: a plain scale-in could pick old instances), point the group back at its template
    version, resume what eksup suspended, and forget the suspension so a --resume starts over."""
    _terminate(ctx, name, "new", lambda group: [i for i in _live(group) if i.image_id == image])
    undone = [f"new instances of {name} terminated"]
    undone.extend(_revert_template(ctx, name))
    restored = _restore(ctx, name)
    if restored:
        undone.append(restored.removeprefix("; "))
    for key in (SUSPENDED, RESTORED):
        ctx.remember(key, "")
    return ", ".join(undone)


def _revert_template(ctx: StepContext, name: str) -> list[str]:
    original = ctx.recall(ORIGINAL_TEMPLATE_VERSION)
    ref = _group(ctx, name).launch_template
    if original is None or ref is None or ref.version == original:
        return []
    ctx.intend(
        f"autoscaling:UpdateAutoScalingGroup group={name} "
        f"launch template {ref.id} version {original} (back)"
    )
    ctx.ports.compute.set_launch_template(name, ref.id, original)
    return [f"launch template back to version {original}"]


# -- waves ---------------------------------------------------------------------------------------


def _wave_plan(
    ctx: StepContext, name: str, group: AutoScalingGroup, old: int
) -> tuple[int, int] | None:
    """(desired before, room) when the group must roll in waves, None for a single surge.
    The choice is remembered, so a resumed run keeps the mode it started in."""
    if ctx.recall(SURGE) is not None:
        return None
    remembered = ctx.recall(WAVES)
    if remembered:
        original, room = (int(v) for v in remembered.split(","))
        return original, room
    original = group.desired_capacity
    if original + old <= group.max_size:
        return None
    room = group.max_size - original
    if room < 1:
        raise PreconditionError(
            f"Auto Scaling group {name} runs at its MaxSize {group.max_size} (desired "
            f"{original}): no room for a single new instance during the roll; raise MaxSize by "
            "at least 1 (eksup then rolls in waves of MaxSize - desired), then --resume"
        )
    return original, room


@dataclass(frozen=True)
class _Waves:
    p: SelfManagedParams
    taint: Taint
    image: str
    original: int  # the desired capacity before the roll, and after every wave
    room: int  # MaxSize - original: the most instances a wave adds


def _roll_in_waves(ctx: StepContext, waves: _Waves) -> StepResult:
    p, image, room = waves.p, waves.image, waves.room
    name = p.nodegroup
    _point_at_template(ctx, p, _group(ctx, name), image)
    _suspend(ctx, name, _group(ctx, name), list(ROLL_PROCESSES))
    if ctx.recall(WAVES) is None and not ctx.dry_run:
        ctx.remember(WAVES, f"{waves.original},{room}")
    moved: list[str] = []
    number = 1
    while True:
        if ctx.recall(f"{WAVE}-{number}-done"):
            number += 1
            continue
        result = _run_wave(ctx, waves, number)
        if result is None:
            break
        moved.append(result)
        if ctx.dry_run:
            # Nothing changed, so every later wave would look like this one.
            left = len(_old(_group(ctx, name), image)) - room
            if left > 0:
                moved.append(f"then {-(-left // room)} more waves like it")
            break
        number += 1
    restored = _restore(ctx, name)
    done = f"{number - 1} waves of up to {room}" if not ctx.dry_run else f"waves of {room}"
    return StepResult(f"{name} rolled onto {image} in {done} ({'; '.join(moved)})" + restored)


def _run_wave(ctx: StepContext, waves: _Waves, number: int) -> str | None:
    """One wave: `k` more instances, the `k` oldest old ones drained and terminated with
    decrement. The chosen instances are remembered before anything changes, so a resumed run
    finishes this very wave. None when no old instance is left."""
    p, taint, image, original = waves.p, waves.taint, waves.image, waves.original
    name = p.nodegroup
    key = f"{WAVE}-{number}"
    memo = ctx.recall(key)
    if memo:
        surged_text, old_text, ids = memo.split(";")
        surged, old_then, chosen = int(surged_text), int(old_text), ids.split(",")
    else:
        old = _old(_group(ctx, name), image)
        if not old:
            return None
        chosen = _oldest(ctx, old, min(waves.room, len(old)))
        surged, old_then = original + len(chosen), len(old)
        if not ctx.dry_run:
            ctx.remember(key, f"{surged};{old_then};{','.join(chosen)}")
    if not ctx.recall(f"{key}-terminating") and _group(ctx, name).desired_capacity != surged:
        _resume_launch(ctx, name)  # the wave before suspended it; the new instances need it
        ctx.intend(
            f"autoscaling:SetDesiredCapacity group={name} desired={surged} (wave {number}: "
            f"from {original}, {len(chosen)} new instances on {image})"
        )
        ctx.ports.compute.set_desired_capacity(name, surged)
    try:
        _wait_new_ready(ctx, name, image, surged - old_then)
    except WaitTimeoutError as error:
        undone = _undo_wave(ctx, name, image, number)
        raise StepFailedError(
            f"{error}; wave {number}: {undone}. No old node of this wave was touched. Find out "
            "why the new instances do not join (AMI, user data, instance role, security "
            "groups), then --resume"
        ) from error
    _suspend_launch(ctx, name)
    doomed = set(chosen)

    live = {i.id for i in _live(_group(ctx, name))} & doomed

    def nodes() -> list[Node]:
        # Launches are suspended: the wave's instances are read once (see _roll_one).
        return _nodes_of(ctx, live)

    what = f"old nodes of {name} (wave {number})"
    _check_placement(
        ctx,
        name,
        image,
        nodes(),
        memo=f"{key}-placement",
        undo=lambda: (
            # The first wave's new nodes are all the new nodes: they go, as after a surge.
            _undo_surge(ctx, name, image) if number == 1 else _undo_wave(ctx, name, image, number)
        ),
    )
    taint_and_cordon(ctx, what, nodes(), taint)
    todo = nodes()
    if ctx.dry_run:
        ctx.reporter.action(f"drain {len(todo)} {what}", dry_run=True)
        moved = f"wave {number}: dry run"
    elif todo:
        ctx.intend(f"drain {len(todo)} {what} within their PodDisruptionBudgets")
        moved = f"wave {number}: {_drain(ctx, p, taint, nodes)}"
    else:
        moved = f"wave {number}: drained before"
    if not ctx.dry_run:
        ctx.remember(f"{key}-terminating", "true")
    _terminate(ctx, name, f"old (wave {number})", lambda g: [i for i in _live(g) if i.id in doomed])
    _resume_launch(ctx, name)
    if not ctx.dry_run:
        ctx.remember(f"{key}-done", "true")
    return moved


def _oldest(ctx: StepContext, old: list[AsgInstance], count: int) -> list[str]:
    """The ids of the `count` old instances whose nodes joined first (no node: first of all,
    nothing runs there)."""
    joined = {instance_id(n): n.created_at for n in ctx.ports.cluster.list_nodes()}
    ordered = sorted(old, key=lambda i: (joined.get(i.id, float("-inf")), i.id))
    return [i.id for i in ordered[:count]]


def _suspend_launch(ctx: StepContext, name: str) -> None:
    """Launch suspended for the wave's drain, unless someone else had suspended it."""
    group = _group(ctx, name)
    if LAUNCH in group.suspended_processes:
        return
    mine = _suspended_by_us(ctx)
    if not ctx.dry_run:
        ctx.remember(SUSPENDED, ",".join([*[p for p in mine if p != LAUNCH], LAUNCH]))
    ctx.intend(f"autoscaling:SuspendProcesses group={name} processes={LAUNCH}")
    ctx.ports.compute.suspend_processes(name, [LAUNCH])


def _resume_launch(ctx: StepContext, name: str) -> None:
    """Launch back between waves, only if eksup suspended it. The memo is updated after the
    call: a crash between them leaves Launch named as eksup's, which the next wave re-suspends
    and the end restores."""
    mine = _suspended_by_us(ctx)
    if LAUNCH not in mine:
        return
    if LAUNCH in _group(ctx, name).suspended_processes:
        ctx.intend(f"autoscaling:ResumeProcesses group={name} processes={LAUNCH}")
        ctx.ports.compute.resume_processes(name, [LAUNCH])
    if not ctx.dry_run:
        ctx.remember(SUSPENDED, ",".join(p for p in mine if p != LAUNCH))


def _undo_wave(ctx: StepContext, name: str, image: str, number: int) -> str:
    """The wave's new instances never got Ready: the not-Ready new ones go (with decrement;
    the Ready ones, of this wave or earlier ones, stay), the processes come back, and the
    wave is forgotten so a --resume starts it again. The template goes back only if no wave
    finished: otherwise nodes already run its new version."""
    ready = {instance_id(n) for n in ctx.ports.cluster.list_nodes() if n.ready}
    _terminate(
        ctx,
        name,
        f"not-Ready new (wave {number})",
        lambda g: [i for i in _live(g) if i.image_id == image and i.id not in ready],
    )
    undone = ["its not-Ready new instances terminated"]
    if number == 1:
        undone.extend(_revert_template(ctx, name))
    else:
        version = ctx.recall(TEMPLATE_VERSION)
        undone.append(
            f"launch template kept at version {version}: {number - 1} finished waves run on it"
        )
    restored = _restore(ctx, name)
    if restored:
        undone.append(restored.removeprefix("; "))
    for memo in (SUSPENDED, RESTORED, f"{WAVE}-{number}", f"{WAVE}-{number}-terminating"):
        ctx.remember(memo, "")
    return ", ".join(undone)
