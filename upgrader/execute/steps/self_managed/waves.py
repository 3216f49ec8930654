"""Rolling a self-managed group in waves of `room = MaxSize - desired` instances, when MaxSize
cannot take the whole surge; every memo is per wave, so a resumed run finishes the wave it
crashed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from upgrader.core.aws import AsgInstance, AutoScalingGroup
from upgrader.core.kube import Node, Taint
from upgrader.execute.steps.base import (
    PreconditionError,
    StepContext,
    StepFailedError,
    StepResult,
    WaitTimeoutError,
)
from upgrader.execute.steps.old_nodes import taint_and_cordon
from upgrader.execute.steps.self_managed.group import (
    LAUNCH,
    RESTORED,
    ROLL_PROCESSES,
    SURGE,
    SUSPENDED,
    TEMPLATE_VERSION,
    WAVE,
    WAVES,
    check_placement,
    drain_nodes,
    instance_id,
    live_instances,
    nodes_of,
    old_instances,
    point_at_template,
    read_group,
    restore,
    revert_template,
    suspend,
    suspended_by_us,
    terminate,
    undo_surge,
    wait_new_ready,
)
from upgrader.plan.step_params import SelfManagedParams

# -- waves ---------------------------------------------------------------------------------------


def wave_plan(
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
class Waves:
    p: SelfManagedParams
    taint: Taint
    image: str
    original: int  # the desired capacity before the roll, and after every wave
    room: int  # MaxSize - original: the most instances a wave adds


def roll_in_waves(ctx: StepContext, waves: Waves) -> StepResult:
    p, image, room = waves.p, waves.image, waves.room
    name = p.nodegroup
    point_at_template(ctx, p, read_group(ctx, name), image)
    suspend(ctx, name, read_group(ctx, name), list(ROLL_PROCESSES))
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
            left = len(old_instances(read_group(ctx, name), image)) - room
            if left > 0:
                moved.append(f"then {-(-left // room)} more waves like it")
            break
        number += 1
    restored = restore(ctx, name)
    done = f"{number - 1} waves of up to {room}" if not ctx.dry_run else f"waves of {room}"
    return StepResult(f"{name} rolled onto {image} in {done} ({'; '.join(moved)})" + restored)


def _run_wave(ctx: StepContext, waves: Waves, number: int) -> str | None:
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
        old = old_instances(read_group(ctx, name), image)
        if not old:
            return None
        chosen = _oldest(ctx, old, min(waves.room, len(old)))
        surged, old_then = original + len(chosen), len(old)
        if not ctx.dry_run:
            ctx.remember(key, f"{surged};{old_then};{','.join(chosen)}")
    if not ctx.recall(f"{key}-terminating") and read_group(ctx, name).desired_capacity != surged:
        _resume_launch(ctx, name)  # the wave before suspended it; the new instances need it
        ctx.intend(
            f"autoscaling:SetDesiredCapacity group={name} desired={surged} (wave {number}: "
            f"from {original}, {len(chosen)} new instances on {image})"
        )
        ctx.ports.compute.set_desired_capacity(name, surged)
    try:
        wait_new_ready(ctx, name, image, surged - old_then)
    except WaitTimeoutError as error:
        undone = _undo_wave(ctx, name, image, number)
        raise StepFailedError(
            f"{error}; wave {number}: {undone}. No old node of this wave was touched. Find out "
            "why the new instances do not join (AMI, user data, instance role, security "
            "groups), then --resume"
        ) from error
    _suspend_launch(ctx, name)
    doomed = set(chosen)

    live = {i.id for i in live_instances(read_group(ctx, name))} & doomed

    def nodes() -> list[Node]:
        # Launches are suspended: the wave's instances are read once (see _roll_one).
        return nodes_of(ctx, live)

    what = f"old nodes of {name} (wave {number})"
    check_placement(
        ctx,
        name,
        image,
        nodes(),
        memo=f"{key}-placement",
        undo=lambda: (
            # The first wave's new nodes are all the new nodes: they go, as after a surge.
            undo_surge(ctx, name, image) if number == 1 else _undo_wave(ctx, name, image, number)
        ),
    )
    taint_and_cordon(ctx, what, nodes(), taint)
    todo = nodes()
    if ctx.dry_run:
        ctx.reporter.action(f"drain {len(todo)} {what}", dry_run=True)
        moved = f"wave {number}: dry run"
    elif todo:
        ctx.intend(f"drain {len(todo)} {what} within their PodDisruptionBudgets")
        moved = f"wave {number}: {drain_nodes(ctx, p, taint, nodes)}"
    else:
        moved = f"wave {number}: drained before"
    if not ctx.dry_run:
        ctx.remember(f"{key}-terminating", "true")
    terminate(
        ctx,
        name,
        f"old (wave {number})",
        lambda g: [i for i in live_instances(g) if i.id in doomed],
    )
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
    group = read_group(ctx, name)
    if LAUNCH in group.suspended_processes:
        return
    mine = suspended_by_us(ctx)
    if not ctx.dry_run:
        ctx.remember(SUSPENDED, ",".join([*[p for p in mine if p != LAUNCH], LAUNCH]))
    ctx.intend(f"autoscaling:SuspendProcesses group={name} processes={LAUNCH}")
    ctx.ports.compute.suspend_processes(name, [LAUNCH])


def _resume_launch(ctx: StepContext, name: str) -> None:
    """Launch back between waves, only if eksup suspended it. The memo is updated after the
    call: a crash between them leaves Launch named as eksup's, which the next wave re-suspends
    and the end restores."""
    mine = suspended_by_us(ctx)
    if LAUNCH not in mine:
        return
    if LAUNCH in read_group(ctx, name).suspended_processes:
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
    terminate(
        ctx,
        name,
        f"not-Ready new (wave {number})",
        lambda g: [i for i in live_instances(g) if i.image_id == image and i.id not in ready],
    )
    undone = ["its not-Ready new instances terminated"]
    if number == 1:
        undone.extend(revert_template(ctx, name))
    else:
        version = ctx.recall(TEMPLATE_VERSION)
        undone.append(
            f"launch template kept at version {version}: {number - 1} finished waves run on it"
        )
    restored = restore(ctx, name)
    if restored:
        undone.append(restored.removeprefix("; "))
    for memo in (SUSPENDED, RESTORED, f"{WAVE}-{number}", f"{WAVE}-{number}-terminating"):
        ctx.remember(memo, "")
    return ", ".join(undone)
