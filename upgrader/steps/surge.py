"""`--surge` in the steps: `SurgedDrain` instead of `Drain`, its originals in the journal.

Each original replica count is journaled (global memo `surge/Deployment/<ns>/<name>`) before
the Deployment is scaled up, so a crash mid-surge never leaves replicas raised: `--resume`
(and a step that fails) restores every recorded surge whose Deployment has more replicas than
its original, then marks the memo `restored`. A count at or below the original is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from upgrader.drain import Drain, DrainObserver, DrainReport, DrainSettings
from upgrader.drain_surge import RECORD_PREFIX, SurgedDrain
from upgrader.errors import NotFoundError
from upgrader.journal import Journal
from upgrader.kube import Node, WorkloadKind
from upgrader.ports import Cluster
from upgrader.steps.base import StepContext

RESTORED = "restored"


def run_drain(
    ctx: StepContext,
    nodes: Callable[[], list[Node]],
    settings: DrainSettings,
    observer: DrainObserver,
) -> DrainReport:
    """The step's drain: plain, or (with `--surge`) surged with its originals journaled. A
    surged drain that fails, or ends, leaves no recorded surge raised."""
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
            + ", ".join(
                f"{s.namespace}/{s.name} {s.original}->{s.surged}" for s in report.plan.surged
            )
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
    """Scale each recorded Deployment above its original back to it; returns what was scaled.
    Every entry handled (scaled, already at or below its original, or gone) is marked."""
    restored: list[str] = []
    for key, original in sorted(pending_surges(journal).items()):
        kind, namespace, name = key.removeprefix(RECORD_PREFIX).split("/", 2)
        if kind != WorkloadKind.DEPLOYMENT.value:
            continue
        try:
            current = cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, name)
        except NotFoundError:
            journal.remember(key, RESTORED, step)
            continue
        if current.replicas is not None and current.replicas > original:
            intend(
                f"restore {kind} {namespace}/{name} replicas {current.replicas} -> {original} "
                "(raised by --surge)"
            )
            cluster.scale_workload(WorkloadKind.DEPLOYMENT, namespace, name, original)
            restored.append(key)
        journal.remember(key, RESTORED, step)
    return restored
