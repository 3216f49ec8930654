"""`eksup fleet run --dry-run`: every member's `eksup execute <its plan> --dry-run`, in the order
the coordinator would run them, and where the real run would stop.

The walk is the local engine's: stages in order, their groups in order, a cluster after its
upstream (always in an earlier stage). Each member goes through the same use case as
`execute --dry-run` (`upgrader.usecases.execute.run_plan`: admission, fresh checks, the engine
on dry-run ports) with its own plan, its own target (opened as the local engine opens it) and
the execute options fleet.yaml gave it. Nothing is written: no fleet journal, no fleet lock,
no cluster journal, ConfigMap or Lease, so a later `eksup fleet run` starts as if this never
happened.

The coordinator's rules are asked, not copied (`upgrader.fleet.policy`): with every member's
finding folded into a `FleetState` as the real run would record it (would run = succeeded,
blocked = failed), the same `policy_failed` and `upstream_blocker` say which stage the real run
would fail and which clusters it would not start. Approval gates, soaks and maintenance windows
are the run document's, told as text: a dry run waits for none of them.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from upgrader.core.errors import EksupError, RefusedError
from upgrader.core.exit_codes import ExitCode
from upgrader.fleet.policy import policy_failed, upstream_blocker
from upgrader.fleet.run_doc import ClusterVerdict, FleetRun, RunCluster, RunGroup, RunStage
from upgrader.fleet.state import ClusterStatus, FleetState, state_dir
from upgrader.fleet.windows import describe, is_open, next_open
from upgrader.plan.checks.config import Config
from upgrader.plan.document import Step, StepKind
from upgrader.usecases.fleet.leaf import LineReporter, cluster_plan_file, execute_options
from upgrader.usecases.fleet.targets import Address
from upgrader.usecases.targets import Target

Opener = Callable[[Address], AbstractContextManager[Target]]


class Finding(StrEnum):
    WOULD_RUN = "would run"
    SKIPPED = "skipped"  # at the target at plan time, or skipped by a person: not run
    BLOCKED = "blocked"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"  # as `execute --dry-run` refuses (stale plan, another cluster): exit 3


# How each finding enters the state the coordinator's rules read.
_AS_STATUS = {
    Finding.WOULD_RUN: ClusterStatus.SUCCEEDED,
    Finding.SKIPPED: ClusterStatus.SKIPPED,
    Finding.BLOCKED: ClusterStatus.FAILED,
    Finding.UNREACHABLE: ClusterStatus.FAILED,
    Finding.REFUSED: ClusterStatus.FAILED,
}


@dataclass(frozen=True)
class MemberDryRun:
    name: str
    group: str
    finding: Finding
    detail: str  # one line: what its dry run found
    lines: tuple[str, ...] = ()  # the blockers, one each
    notes: tuple[str, ...] = ()  # where the real run would wait for it, or not start it


@dataclass
class StageDryRun:
    stage: RunStage
    before: list[str] = field(default_factory=list)  # what the real run waits for first
    members: list[MemberDryRun] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # gates and soak before the next stage
    fails: str = ""  # why the real run would fail this stage, if it would


@dataclass
class FleetDryRun:
    run: FleetRun
    stages: list[StageDryRun] = field(default_factory=list)

    def members(self) -> Iterator[MemberDryRun]:
        for stage in self.stages:
            yield from stage.members

    def named(self, finding: Finding) -> list[str]:
        return [m.name for m in self.members() if m.finding is finding]

    @property
    def exit_code(self) -> ExitCode:
        """3 when any member's dry run refused (as `execute --dry-run` does: re-plan it),
        else 2 when any is blocked or unreachable, else 0."""
        if self.named(Finding.REFUSED):
            return ExitCode.REFUSED
        if self.named(Finding.BLOCKED) or self.named(Finding.UNREACHABLE):
            return ExitCode.BLOCKED
        return ExitCode.OK


def started_refusal(run: FleetRun, run_file: Path, started: bool) -> str | None:
    """A dry run previews a run from its start; one under way is `eksup fleet status`'s."""
    if not started:
        return None
    return (
        f"run {run.run_id} has started already ({state_dir(run_file)}): a dry run previews a "
        "run from its start; `eksup fleet status` shows where it stands"
    )


def dry_run_fleet(
    run: FleetRun,
    run_file: Path,
    opener: Opener,
    state: FleetState,
    *,
    config: Config,
    now: float,
    log: Callable[[str], None],
) -> FleetDryRun:
    """Every member's dry run, one after the other in the coordinator's order. `state` is the
    fleet journal as read (skips a person asked for before the run); it is copied, never
    written."""
    walk = _Walk(run, run_file, opener, config, now, log, _skips_of(state))
    result = FleetDryRun(run)
    for stage in run.stages:
        shown = StageDryRun(stage, before=_before(stage, walk.arg))
        for group, name in _order(stage):
            log(f"{name}: dry run")
            member = walk.member(group, name)
            walk.state.cluster(name).status = _AS_STATUS[member.finding]
            shown.members.append(member)
        failed, why = policy_failed(run, stage, walk.state)
        shown.fails = why if failed else ""
        shown.after = _after(stage)
        result.stages.append(shown)
    return result


def _skips_of(state: FleetState) -> FleetState:
    """What of the journal the coordinator would honour before its first cluster: skips."""
    return FleetState(
        skipped_groups=dict(state.skipped_groups),
        clusters={
            name: replace(current)
            for name, current in state.clusters.items()
            if current.status is ClusterStatus.SKIPPED
        },
    )


def _order(stage: RunStage) -> list[tuple[RunGroup, str]]:
    """The stage's members in the order the coordinator starts them: groups in order, members
    in order. An upstream is always in an earlier stage (`upgrader.fleet.order` refuses
    anything else), so it has been walked by then."""
    return [(group, name) for group in stage.groups for name in group.members]


@dataclass
class _Walk:
    run: FleetRun
    run_file: Path
    opener: Opener
    config: Config
    now: float
    log: Callable[[str], None]
    state: FleetState  # the members walked so far, as the real run would record them

    @property
    def arg(self) -> str:
        return shlex.quote(str(self.run_file))

    def member(self, group: RunGroup, name: str) -> MemberDryRun:
        run, cluster = self.run, self.run.cluster(name)
        notes = _waits(run, self.arg, group, cluster, self.now)
        key = f"{cluster.stage}.{group.name}"

        def found(finding: Finding, detail: str) -> MemberDryRun:
            # A skipped cluster is not run: nothing to wait for.
            kept = () if finding is Finding.SKIPPED else notes
            return MemberDryRun(name, group.name, finding, detail, notes=kept)

        if key in self.state.skipped_groups:
            return found(Finding.SKIPPED, f"group {key} skipped: {self.state.skipped_groups[key]}")
        if self.state.cluster(name).status is ClusterStatus.SKIPPED:
            return found(Finding.SKIPPED, "skipped by a person (`eksup fleet skip`)")
        if cluster.verdict is ClusterVerdict.SKIPPED:
            return found(Finding.SKIPPED, cluster.reason or f"at {run.target_version}")
        blocker = upstream_blocker(run, name, self.state)
        if blocker is not None:
            why = blocker.removeprefix("not started: ")
            notes = (*notes, f"the real run would not start it: {why}")
        if cluster.verdict is ClusterVerdict.UNREACHABLE:
            return found(Finding.UNREACHABLE, f"unreachable at plan time: {cluster.reason}")
        if cluster.verdict is ClusterVerdict.BLOCKED or cluster.plan is None:
            return found(Finding.BLOCKED, f"blocked at plan time: {cluster.reason}")
        return replace(self._dry_run(cluster), group=group.name, notes=notes)

    def _dry_run(self, cluster: RunCluster) -> MemberDryRun:
        """`eksup execute <its plan> --dry-run` on the member, with fleet.yaml's options."""
        from upgrader.usecases.execute import run_plan

        plan = cluster.plan
        assert plan is not None
        # Where the real run keeps its plan: named in what the dry run prints, never written.
        plan_file = cluster_plan_file(state_dir(self.run_file), cluster.name)
        options = replace(execute_options(self.run, cluster), dry_run=True, resume=False)
        reporter = _DryRunLines(cluster.name, self.log)
        reporter.fleet_approves = self.run.cluster_approval == "fleet"
        name = cluster.name
        with ExitStack() as stack:
            try:
                target = stack.enter_context(self.opener(cluster))
            except Exception as error:  # any way of not reaching it: said, never a traceback
                return MemberDryRun(
                    name, "", Finding.UNREACHABLE, f"cannot be reached: {_said(error)}"
                )
            try:
                result = run_plan(
                    plan,
                    plan_file,
                    target,
                    options,
                    confirm=lambda _question: False,  # never asked: a dry run changes nothing
                    config=self.config,
                    reporter=reporter,
                )
            except RefusedError as error:
                return MemberDryRun(name, "", Finding.REFUSED, f"refused: {error}")
            except EksupError as error:
                return MemberDryRun(name, "", Finding.BLOCKED, f"cannot dry-run: {error}")
            except Exception as error:  # an SDK's own error escaping an adapter
                return MemberDryRun(
                    name, "", Finding.UNREACHABLE, f"cannot be reached: {_said(error)}"
                )
        if result.exit_code is ExitCode.STOPPED:  # Ctrl-C: the person wants it over
            raise KeyboardInterrupt
        steps = f"{len(plan.steps)} steps, {len(result.intended_calls)} changes it would make"
        if result.exit_code is ExitCode.OK:
            return MemberDryRun(name, "", Finding.WOULD_RUN, steps)
        if result.exit_code is ExitCode.REFUSED:
            return MemberDryRun(
                name, "", Finding.REFUSED, f"refused: {result.error}", result.blockers
            )
        lines = result.blockers or ((result.error,) if result.error else ())
        return MemberDryRun(name, "", Finding.BLOCKED, steps, tuple(lines))


def _said(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else '(no message)'}"


class _DryRunLines(LineReporter):
    """The member's dry run on the shared terminal, each line prefixed with its cluster: the
    steps it went through, what would fail, the warnings and each change it would make."""

    fleet_approves = True  # clusterApproval: fleet: the run approves the plan's own gate

    def step_finished(self, step: Step, detail: str, seconds: float) -> None:
        del seconds  # a dry run waits for nothing
        self.last = step.id
        if step.kind is StepKind.APPROVAL and self.fleet_approves:
            detail = "approved by the fleet run (clusterApproval: fleet)"
        self.log(f"{self.cluster}: {step.id}: {detail}")

    def step_failed(self, step: Step, error: str) -> None:
        self.log(f"{self.cluster}: would fail {step.id}: {error}")

    def action(self, description: str, *, dry_run: bool) -> None:
        del dry_run  # always one here
        if self.fleet_approves and description.startswith("wait for approval of "):
            return  # the fleet run approves it, as its step's line says
        self.log(f"{self.cluster}: would {description}")


def _before(stage: RunStage, arg: str) -> list[str]:
    return [
        f"waits for approval {gate}: `eksup fleet approve {arg} --gate {gate}`"
        for gate in stage.before_gates
    ]


def _waits(
    run: FleetRun, arg: str, group: RunGroup, cluster: RunCluster, now: float
) -> tuple[str, ...]:
    """Where the real run would wait before or during this cluster."""
    notes = [
        f"waits for approval {gate} (group {group.name}): `eksup fleet approve {arg} --gate {gate}`"
        for gate in group.before_gates
    ]
    if cluster.upstream:
        notes.append(f"starts after its upstream {cluster.upstream} reached {run.target_version}")
    if cluster.window is not None:
        note = f"runs in its maintenance window {describe(cluster.window)}"
        if not is_open(cluster.window, now):
            opens = dt.datetime.fromtimestamp(next_open(cluster.window, now), tz=dt.UTC)
            note += f" (closed now; opens {opens:%Y-%m-%d %H:%M} UTC)"
        notes.append(note)
    if cluster.soak_after_control_plane_seconds:
        notes.append(
            f"soaks {cluster.soak_after_control_plane_seconds / 3600:g}h between its control "
            "plane and its nodes"
        )
    if run.cluster_approval != "fleet" and cluster.plan is not None:
        gates = [s.id for s in cluster.plan.steps if s.approval]
        if gates:
            notes.append(
                f"waits at its own approval gate {gates[0]} (clusterApproval: each): "
                f"`eksup fleet approve {arg} --cluster {cluster.name}`"
            )
    return tuple(notes)


def _after(stage: RunStage) -> list[str]:
    after = [f"waits for approval {g}" for grp in stage.groups for g in grp.after_gates]
    after += [f"waits for approval {g}" for g in stage.after_gates]
    if stage.after_wait_seconds:
        after.append(f"soaks {stage.after_wait_seconds / 3600:g}h before the next stage")
    return after
