"""`--surge` in the steps: `SurgedDrain` instead of `Drain`, its originals in the journal.

Each original is journaled before it is raised (global memo `surge/Deployment/<ns>/<name>`
for replicas, `surge/HorizontalPodAutoscaler/<ns>/<name>` for an HPA's minReplicas), so a crash
mid-surge never leaves anything raised: `--resume` (and a step that fails) restores every
recorded surge still above its original, then marks the memo `restored`. A value at or below
the original is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from upgrader.core.kube import Node, WorkloadKind
from upgrader.core.ports import Cluster
from upgrader.core.run.journal import Journal
from upgrader.drain.drainer import Drain, DrainObserver, DrainReport, DrainSettings
from upgrader.drain.surge import (
    HPA_KIND,
    RECORD_PREFIX,
    SurgedDrain,
    set_surged_value,
    surged_field,
    surged_value,
)
from upgrader.execute.steps.base import StepContext

RESTORED = "restored"


def run_drain(
    ctx: StepContext,
    nodes: Callable[[], list[Node]],
    settings: DrainSettings,
    observer: DrainObserver,
) -> DrainReport:
    """The step's drain: plain, or (with `--surge`) surged with its originals journaled. A
    surged drain that fails, or ends, leaves no recorded surge raised. Its rounds read the
    cluster from watches (`Cluster.watching`), not with a list of everything each time."""
    with ctx.ports.cluster.watching():
        return _drain(ctx, nodes, settings, observer)


def _drain(
    ctx: StepContext,
    nodes: Callable[[], list[Node]],
    settings: DrainSettings,
    observer: DrainObserver,
) -> DrainReport:
    cluster, clock = ctx.ports.cluster, ctx.ports.clock
    if not ctx.options.surge or ctx.dry_run:
        return Drain(cluster, clock, nodes, settings, observer).run()

    def record(key: str, value: int) -> None:
        ctx.remember_global(key, str(value))

    surged = SurgedDrain(cluster, clock, nodes, settings, observer=observer, record=record)
    try:
        report = surged.run()
    finally:
        restore_recorded(cluster, ctx.journal, ctx.intend, ctx.step.id)
    for conflict in report.conflicts:
        ctx.reporter.warning(f"surge not undone: {conflict}")
    if report.plan.surged:
        ctx.reporter.info(
            "surged "
            + ", ".join(str(s) for s in report.plan.surged)
            + f"; restored {len(report.restored)}"
        )
    if report.drain is None:  # pragma: no cover - run() either sets it or raises
        raise RuntimeError("surged drain ended without a report")
    return report.drain


def pending_surges(journal: Journal) -> dict[str, int]:
    """Recorded originals not yet marked restored: key -> original replicas."""
    found: dict[str, int] = {}
    for key, value in journal.state.memos.items():
        if key.startswith(RECORD_PREFIX) and value.isdigit():
            found[key] = int(value)
    return found


def restore_recorded(
    cluster: Cluster,
    journal: Journal,
    intend: Callable[[str], None],
    step: str | None = None,
) -> list[str]:
    """Put each recorded Deployment's replicas (or HPA's minReplicas) above its original back
    to it; returns what was put back. Every entry handled (put back, already at or below its
    original, or gone) is marked."""
    restored: list[str] = []
    for key, original in sorted(pending_surges(journal).items()):
        kind, namespace, name = key.removeprefix(RECORD_PREFIX).split("/", 2)
        if kind not in (WorkloadKind.DEPLOYMENT.value, HPA_KIND):
            continue
        current = surged_value(cluster, kind, namespace, name)
        if current is not None and current > original:
            intend(
                f"restore {kind} {namespace}/{name} {surged_field(kind)} {current} -> "
                f"{original} (raised by --surge)"
            )
            set_surged_value(cluster, kind, namespace, name, original)
            restored.append(key)
        journal.remember(key, RESTORED, step)
    return restored
