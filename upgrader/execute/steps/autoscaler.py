"""Pausing Cluster Autoscaler for the migration, and restoring it afterwards.

During a blue/green migration Cluster Autoscaler would fight the upgrade: scale down green
nodes that are still filling, or scale up a cordoned blue group for Pending pods. It is scaled
to 0 by its own step and restored by another. The original replica count is written to the
journal before the scale-down, so the restore finds it after a crash, on another machine, or
after a run that stopped part-way; the count in the plan is only the fallback.
"""

from __future__ import annotations

from collections.abc import Callable

from upgrader.core.errors import NotFoundError
from upgrader.core.kube import WorkloadKind
from upgrader.execute.steps.base import StepContext, StepResult
from upgrader.plan.step_params import AutoscalerParams

NAMESPACE = "kube-system"
_NAMES = ("cluster-autoscaler", "aws-cluster-autoscaler")
_MEMO_PREFIX = "autoscaler/"


def _memo_key(namespace: str, name: str) -> str:
    return f"{_MEMO_PREFIX}{namespace}/{name}/replicas"


def _find(ctx: StepContext) -> list[tuple[str, str]]:
    deployments = ctx.ports.cluster.list_workloads(WorkloadKind.DEPLOYMENT, NAMESPACE)
    return [(w.namespace, w.name) for w in deployments if w.name.startswith(_NAMES)]


def run_pause(ctx: StepContext) -> StepResult:
    params = ctx.step.params_of(AutoscalerParams)
    cluster = ctx.ports.cluster
    planned = params.planned()
    named = params.targets()
    targets = named if named is not None else _find(ctx)
    paused, found = [], []
    for namespace, name in targets:
        try:
            workload = cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, name)
        except NotFoundError:
            ctx.reporter.warning(f"Cluster Autoscaler {namespace}/{name} not found; not paused")
            continue
        found.append((namespace, name))
        key = _memo_key(namespace, name)
        original = ctx.recall_global(key)
        if original is None:
            # Already at 0 with nothing recorded: paused by hand; the plan saw the real count.
            count = workload.replicas or planned.get((namespace, name), 0)
            original = str(count)
            ctx.remember_global(key, original)
        if not workload.replicas:
            continue
        ctx.intend(
            f"scale deployment {namespace}/{name} to 0 replicas (from {workload.replicas}; "
            f"the journal keeps {original} for the restore step)"
        )
        cluster.scale_workload(WorkloadKind.DEPLOYMENT, namespace, name, 0)
        paused.append(f"{namespace}/{name}")
    if found:
        _wait_replicas(ctx, found, lambda _: 0)
    if not paused:
        detail = "Cluster Autoscaler already paused" if found else "no Cluster Autoscaler found"
        return StepResult(detail, already_done=True)
    return StepResult(f"paused {', '.join(paused)}")


def run_resume(ctx: StepContext) -> StepResult:
    params = ctx.step.params_of(AutoscalerParams)
    cluster = ctx.ports.cluster
    planned = params.planned()
    targets = params.targets() or []
    for key in ctx.journal.state.memos:
        if key.startswith(_MEMO_PREFIX):
            namespace, name, _ = key[len(_MEMO_PREFIX) :].split("/", 2)
            if (namespace, name) not in targets:
                targets.append((namespace, name))
    counts: dict[tuple[str, str], int] = {}
    restored = []
    for namespace, name in targets:
        recorded = ctx.recall_global(_memo_key(namespace, name))
        original = int(recorded) if recorded is not None else planned.get((namespace, name))
        if original is None:
            ctx.reporter.warning(f"no recorded replica count for {namespace}/{name}; left as it is")
            continue
        try:
            workload = cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, name)
        except NotFoundError:
            ctx.reporter.warning(f"Cluster Autoscaler {namespace}/{name} not found; not restored")
            continue
        counts[(namespace, name)] = original
        if workload.replicas == original:
            continue
        ctx.intend(f"scale deployment {namespace}/{name} to {original} replicas (recorded)")
        cluster.scale_workload(WorkloadKind.DEPLOYMENT, namespace, name, original)
        restored.append(f"{namespace}/{name}={original}")
    if counts:
        _wait_replicas(ctx, list(counts), counts.__getitem__)
    if not restored:
        return StepResult("Cluster Autoscaler already at its recorded count", already_done=True)
    return StepResult(f"restored {', '.join(restored)}")


def _wait_replicas(
    ctx: StepContext,
    targets: list[tuple[str, str]],
    want: Callable[[tuple[str, str]], int],
) -> None:
    """Until each deployment's Ready replicas equal what is wanted of it."""
    cluster = ctx.ports.cluster
    state: dict[str, int] = {}

    def settled() -> bool:
        for namespace, name in targets:
            workload = cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, name)
            state[f"{namespace}/{name}"] = workload.ready_replicas
            if workload.ready_replicas != want((namespace, name)):
                return False
        return True

    ctx.waiter.until(
        settled,
        reason=lambda: (
            "Cluster Autoscaler Ready replicas "
            + ", ".join(f"{k}={v}" for k, v in sorted(state.items()))
        ),
        timeout=ctx.options.timeouts.autoscaler,
        poll=5.0,
    )
