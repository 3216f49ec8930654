"""The self-managed step: the whole roll in one surge, or in waves when MaxSize has no room."""

from __future__ import annotations

from upgrader.core.kube import Node
from upgrader.drain.drainer import DrainRefusedError
from upgrader.execute.steps.base import StepContext, StepFailedError, StepResult, WaitTimeoutError
from upgrader.execute.steps.drain_settings import drain_refusals
from upgrader.execute.steps.old_nodes import taint_and_cordon
from upgrader.execute.steps.self_managed.group import (
    LAUNCH,
    PLACEMENT_CHECKED,
    ROLL_PROCESSES,
    SURGE,
    TERMINATING,
    check_placement,
    drain_nodes,
    nodes_of,
    old_instances,
    point_at_template,
    read_group,
    restore,
    surge_plan,
    suspend,
    target_image,
    terminate_old,
    undo_surge,
    wait_new_ready,
)
from upgrader.execute.steps.self_managed.waves import Waves, roll_in_waves, wave_plan
from upgrader.plan.step_params import SelfManagedParams, parse_taint


def run_self_managed(ctx: StepContext) -> StepResult:
    p = ctx.step.params_of(SelfManagedParams)
    taint = parse_taint(ctx.options.taint) if ctx.options.taint else p.taint
    group = read_group(ctx, p.nodegroup)
    image = target_image(ctx, p)
    old = old_instances(group, image)
    if not old:
        restored = restore(ctx, p.nodegroup)
        detail = f"every instance of {p.nodegroup} runs {image}"
        return StepResult(detail + restored, already_done=not restored)

    old_nodes = nodes_of(ctx, {i.id for i in old})
    refused = drain_refusals(ctx, [n.name for n in old_nodes])
    if refused:
        raise DrainRefusedError(refused)
    waves = wave_plan(ctx, p.nodegroup, group, len(old))
    if waves is not None:
        return roll_in_waves(ctx, Waves(p, taint, image, *waves))
    original, surged, old_then = surge_plan(ctx, p.nodegroup, group, len(old))

    point_at_template(ctx, p, group, image)
    suspend(ctx, p.nodegroup, group, list(ROLL_PROCESSES))
    if ctx.recall(SURGE) is None and not ctx.dry_run:
        ctx.remember(SURGE, f"{original},{surged},{old_then}")
    # An absolute count, so setting it again (a crash between the memo and the call) cannot
    # raise the group twice; once terminations began, the decrements own the count.
    if ctx.recall(TERMINATING) is None and read_group(ctx, p.nodegroup).desired_capacity != surged:
        ctx.intend(
            f"autoscaling:SetDesiredCapacity group={p.nodegroup} desired={surged} "
            f"(from {original}: {old_then} new instances on {image})"
        )
        ctx.ports.compute.set_desired_capacity(p.nodegroup, surged)
    try:
        wait_new_ready(ctx, p.nodegroup, image, surged - old_then)
    except WaitTimeoutError as error:
        undone = undo_surge(ctx, p.nodegroup, image)
        raise StepFailedError(
            f"{error}; rolled back: {undone}. No old node was touched. Find out why the new "
            "instances do not join (AMI, user data, instance role, security groups), then --resume"
        ) from error
    suspend(ctx, p.nodegroup, read_group(ctx, p.nodegroup), [LAUNCH])

    # Launches are suspended, so no instance joins the old set while it drains: its ids are read
    # once, not once a drain round (the drain re-reads the nodes, which go with their instances).
    old_ids = {i.id for i in old_instances(read_group(ctx, p.nodegroup), image)}

    def old_nodes_now() -> list[Node]:
        return nodes_of(ctx, old_ids)

    nodes = old_nodes_now()
    check_placement(
        ctx,
        p.nodegroup,
        image,
        nodes,
        memo=PLACEMENT_CHECKED,
        undo=lambda: undo_surge(ctx, p.nodegroup, image),
    )
    taint_and_cordon(ctx, f"old nodes of {p.nodegroup}", nodes, taint)
    if ctx.dry_run:
        ctx.reporter.action(f"drain {len(nodes)} old nodes of {p.nodegroup}", dry_run=True)
        moved = "dry run"
    else:
        ctx.intend(
            f"drain {len(nodes)} old nodes of {p.nodegroup} within their PodDisruptionBudgets"
        )
        moved = drain_nodes(ctx, p, taint, old_nodes_now)
    terminate_old(ctx, p.nodegroup, image)
    restored = restore(ctx, p.nodegroup)
    return StepResult(f"{p.nodegroup} rolled onto {image} ({moved})" + restored)
