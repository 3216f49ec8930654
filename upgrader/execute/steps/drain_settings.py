"""The drain as the execute flags shape it, for every step that drains nodes (blue/green and in
place, self-managed, the pre-flight gate): its options, what it would refuse, its settings.
"""

from __future__ import annotations

from upgrader.core.defaults import drain_timeout
from upgrader.core.kube import Taint
from upgrader.drain.drainer import DrainSettings, preflight_refusals
from upgrader.drain.rules import DrainOptions, PodDecision
from upgrader.execute.steps.base import StepContext


def drain_options(ctx: StepContext) -> DrainOptions:
    return DrainOptions(
        delete_emptydir_data=ctx.options.delete_emptydir_data,
        force=ctx.options.force,
        skip_wait_for_delete_timeout_seconds=ctx.options.skip_wait_for_delete_timeout_seconds,
    )


def drain_refusals(ctx: StepContext, node_names: list[str]) -> list[PodDecision]:
    """What the drain of these nodes would refuse, judged as the drain will judge it: the
    execute flags, `--pod-selector` and the clock (for --skip-wait-for-delete-timeout)."""
    return preflight_refusals(
        ctx.ports.cluster,
        node_names,
        drain_options(ctx),
        ctx.options.pod_selector,
        ctx.ports.clock.now(),
    )


def drain_settings(ctx: StepContext, timeout: float, taint: Taint) -> DrainSettings:
    """The step's drain, as the execute flags shape it; a --disable-eviction deletion is
    journaled before it is made."""
    return DrainSettings(
        timeout_seconds=drain_timeout(ctx.options.drain_timeout_seconds, timeout),
        poll_seconds=ctx.options.drain_poll_seconds,
        grace_period_seconds=ctx.options.grace_period_seconds,
        max_grace_period_seconds=ctx.options.max_grace_period_seconds,
        options=drain_options(ctx),
        taint=taint,
        disable_eviction=ctx.options.disable_eviction,
        pod_selector=ctx.options.pod_selector,
        journal=ctx.intend,
    )
