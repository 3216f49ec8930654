"""What every node replacement does to the nodes it retires: taint and cordon them, and watch
their drain (progress to the reporter, the lock renewed each round).

Shared by the blue/green managed node group step and the self-managed group step, so both
retire nodes the same way.
"""

from __future__ import annotations

from upgrader.core.kube import Node, Taint
from upgrader.core.run.journal import Phase
from upgrader.execute.progress import HEARTBEAT_SECONDS, DrainTally
from upgrader.execute.steps.base import StepContext


def taint_and_cordon(ctx: StepContext, what: str, nodes: list[Node], taint: Taint) -> None:
    """`what` names the nodes for the log, e.g. "nodes of general" or "old nodes of legacy"."""
    todo = [n for n in nodes if taint not in n.taints or not n.unschedulable]
    if not todo:
        return
    ctx.intend(
        f"taint {taint} and cordon {len(todo)} {what}: "
        + ", ".join(n.name for n in todo[:5])
        + (f" (and {len(todo) - 5} more)" if len(todo) > 5 else "")
    )
    cluster = ctx.ports.cluster
    for node in todo:
        # The taint first: a cordon alone lets DaemonSet-style tolerating pods land; and a
        # failure of either stops the step here (kubectl ignores cordon errors; we do not).
        if taint not in node.taints:
            cluster.add_taint(node.name, taint)
        if not node.unschedulable:
            cluster.set_unschedulable(node.name, True)


class DrainProgress:
    """The drain's observer: progress to the reporter, and the lock renewed each round."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self._sampled: float | None = None

    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: dict[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None:
        self.ctx.reporter.drain_progress(nodes, pods_left, evicted, waiting, tally=tally)
        now = self.ctx.ports.clock.now()
        due = self._sampled is None or now - self._sampled >= HEARTBEAT_SECONDS or not pods_left
        if tally is not None and due and not self.ctx.dry_run:
            # The drain over time, for `eksup status --html`: one sample per heartbeat.
            self._sampled = now
            self.ctx.journal.append(
                Phase.PROGRESS, self.ctx.step.id, data=tally.as_data(pods_left, evicted)
            )
        self.ctx.heartbeat()
