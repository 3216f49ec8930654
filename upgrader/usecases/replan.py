"""`eksup execute --replan`: a stale plan is made again from the cluster as it is now.

A plan refused for a stale fingerprint is usually stale for a harmless reason (someone upgraded
an add-on, a node was replaced). Rather than a round trip through `eksup plan`, `--replan`
plans again to the same target with the same node strategy, reports how the steps changed, keeps
the old plan beside the new one (`<plan>.stale.json`), and runs the new plan: the person still
confirms it (or `--yes`), and a NOT READY verdict still stops it.

What it refuses: a plan whose journal shows a run that changed the cluster and did not finish.
That journal holds what a resumed run needs (an in-flight update, a suspended autoscaler's
replica count, surged replicas); a new plan would start a journal without it. `--resume` first.
A journal of a finished run, or of runs that changed nothing, is kept aside with the old plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from upgrader.core.errors import RefusedError, UserError
from upgrader.core.run.journal import JournalState, journal_path_for, load_records
from upgrader.plan.checks.config import Config
from upgrader.plan.document import Plan
from upgrader.usecases.plan import plan_target
from upgrader.usecases.targets import Target


@dataclass(frozen=True)
class Replanned:
    plan: Plan
    added: tuple[str, ...]  # step ids the new plan has and the old one had not
    dropped: tuple[str, ...]  # step ids the old plan had and the new one has not
    kept_at: Path | None  # where the old plan was kept (None: nothing written, a dry run)

    def summary(self) -> str:
        changes = []
        if self.dropped:
            changes.append(f"dropped {', '.join(self.dropped)}")
        if self.added:
            changes.append(f"added {', '.join(self.added)}")
        what = "; ".join(changes) or "the same steps"
        where = f"; the old plan is kept as {self.kept_at}" if self.kept_at else ""
        return f"re-planned {self.plan.cluster} to {self.plan.target_version}: {what}{where}"


def stale_path(plan_file: Path) -> Path:
    """`plan.json` -> `plan.stale.json`, beside it."""
    return plan_file.with_name(plan_file.stem + ".stale" + plan_file.suffix)


def replan(
    stale: Plan, plan_file: Path, target: Target, config: Config, *, write: bool
) -> Replanned:
    """The plan made again; with `write`, the old plan and its journal moved aside and the new
    plan written to `plan_file` (so `--resume` and `eksup status` find it)."""
    journal = journal_path_for(plan_file)
    records, source = load_records(journal, None)
    state = JournalState(tuple(records))
    if state.changed_anything and not state.completed:
        raise RefusedError(
            f"{source} shows a run of this plan that changed the cluster and did not finish: "
            "--resume it (a new plan would lose what its journal holds)"
        )
    fresh = plan_target(
        target,
        stale.target_version,
        node_strategy=stale.node_strategy,
        config=config,
    )
    if fresh.blocking:
        raise RefusedError(
            f"the new plan for {fresh.cluster} is NOT READY: run `eksup plan --to "
            f"{fresh.target_version}` to see its blocking findings"
        )
    old_ids = [s.id for s in stale.steps]
    new_ids = [s.id for s in fresh.steps]
    kept_at = None
    if write:
        kept_at = stale_path(plan_file)
        # Written beside first: a disk that refuses leaves the old plan where it was.
        new_file = plan_file.with_name(plan_file.name + ".new")
        try:
            new_file.write_text(fresh.to_json(), encoding="utf-8")
            plan_file.replace(kept_at)
            if journal.exists():
                journal.replace(journal_path_for(kept_at))
            new_file.replace(plan_file)
        except OSError as error:
            raise UserError(f"{plan_file}: cannot write the new plan: {error}") from None
    return Replanned(
        fresh,
        added=tuple(i for i in new_ids if i not in old_ids),
        dropped=tuple(i for i in old_ids if i not in new_ids),
        kept_at=kept_at,
    )
