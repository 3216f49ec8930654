"""`execute`: runs a plan's steps in order, safely enough to be killed at any moment.

Around the steps (`upgrader.execute.steps`) the engine adds what makes an unattended upgrade safe:
- refusals before any change (exit 3): an unsupported step kind or a bad parameter, a plan
  the checks called NOT READY, a stale plan (fingerprint), a journal left by an earlier run
  without `--resume` (these in `upgrader.execute.refusals`), a cluster locked by another run,
  a person saying no;
- the lock (`upgrader.core.run.lock`), held for the run and renewed during every wait;
- the journal (`upgrader.core.run.journal`): each step's start and end, each change before it is
  made, and what a resumed run must know; `--resume` skips what the journal says is finished and
  re-runs the rest, each step checking fresh state first so nothing destructive is repeated;
- approval gates (`upgrader.execute.steps.gates`): a gate nobody approved with `eksup approve` stops
  the run there (exit 4, "waiting" in the journal), `--yes` or not; `--resume` also honours an
  approval recorded only in the cluster's ConfigMap, i.e. given on another machine;
- Ctrl-C: a `should_stop` flag (the CLI's SIGINT handler sets it) stops between steps; a
  second Ctrl-C (KeyboardInterrupt) stops inside one. Either way the journal says where, the
  lock is released and the result says which step `--resume` continues with (exit 4);
- dry run (`upgrader.execute.dry_run`): the same steps on wrapped ports; nothing is written.

Unexpected exceptions (bugs, or a test's injected crash) are journaled as a failure when they
are `Exception`s and propagate; the lock is released on the way out either way.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from upgrader.core.errors import EksupError, RefusedError
from upgrader.core.run.journal import (
    ConfigMapMirror,
    Journal,
    JournalState,
    Phase,
)
from upgrader.core.run.lock import ClusterLock
from upgrader.core.run.lock_holder import holder_name
from upgrader.core.run.status import RunStatus
from upgrader.execute.dry_run import (
    DryRunCluster,
    DryRunCompute,
    DryRunControlPlane,
    Recorder,
)
from upgrader.execute.integrity import check_approvals, check_run_digest
from upgrader.execute.refusals import check_fingerprint, earlier_records, refuse_unrunnable
from upgrader.execute.reporter import Reporter
from upgrader.execute.run_result import RunResult, StepOutcome, StepRecord
from upgrader.execute.steps import HANDLERS
from upgrader.execute.steps.base import (
    ExecuteOptions,
    GateDeclinedError,
    Ports,
    PreconditionError,
    StepContext,
    StepResult,
    Timeouts,
    Waiter,
)
from upgrader.execute.steps.consent import consent_data, resume_command, resumed
from upgrader.execute.steps.gates import (
    READY_WORKLOADS,
    ApprovalPendingError,
    ready_workloads,
    require_approval,
)
from upgrader.execute.steps.surge import pending_surges, restore_recorded
from upgrader.plan.document import Plan, Step, StepKind

__all__ = [
    "ExecuteOptions",
    "Ports",
    "RunResult",
    "RunStatus",
    "StepOutcome",
    "StepRecord",
    "Timeouts",
    "execute",
]


@dataclass
class _Run:
    """The mutable state of one `execute` call."""

    plan: Plan
    ports: Ports
    options: ExecuteOptions
    reporter: Reporter
    confirm: Callable[[str], bool]
    journal: Journal
    lock: ClusterLock | None
    run_id: str
    started_at: float
    records: list[StepRecord] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)
    plan_file: str = "plan.json"
    waiting_for: str | None = None

    def heartbeat(self) -> None:
        if self.lock is not None:
            self.lock.renew()


def execute(
    plan: Plan,
    ports: Ports,
    *,
    journal_path: Path,
    options: ExecuteOptions,
    reporter: Reporter,
    confirm: Callable[[str], bool],
    should_stop: Callable[[], bool] = lambda: False,
    checks: Callable[[Step], list[str]] | None = None,
    plan_file: str = "plan.json",
) -> RunResult:
    """Run `plan` against `ports`. Raises RefusedError (exit 3) when it refuses before any
    change; everything after the first step is reported in the returned `RunResult`.

    `confirm` asks a person a yes/no question (never called with `options.yes`, except for
    manual steps); `should_stop` is polled between steps; `checks(step)` returns the blocking
    findings of a fresh read: all of them for a pre-flight step, the ones `step.verifies`
    names for any other step that names some (called right before that step runs);
    `plan_file` is the plan's path as the person typed it, for the commands printed."""
    run_id = f"r-{uuid.uuid4().hex[:8]}"
    refuse_unrunnable(plan)
    recorder = Recorder(reporter) if options.dry_run else None
    if recorder is not None:
        ports = Ports(
            cluster=DryRunCluster(ports.cluster, recorder, validator=ports.server_dry_run),
            control_plane=DryRunControlPlane(ports.control_plane, recorder),
            compute=DryRunCompute(ports.compute, recorder),
            clock=ports.clock,
        )
    mirror = ConfigMapMirror(ports.cluster, plan.cluster, reporter.warning)
    earlier = earlier_records(plan, journal_path, mirror, options, plan_file)
    state = JournalState(tuple(earlier))
    check_approvals(plan, earlier)  # the more telling of the two when both hold
    check_run_digest(plan, earlier, str(journal_path))
    if options.resume and earlier:
        options, reused = resumed(options, earlier)
        if reused:
            reporter.info(reused)
    if not (options.resume and earlier) and not options.skip_fingerprint:
        check_fingerprint(plan, ports)
    journal = Journal(
        ports.clock,
        run_id,
        path=None if options.dry_run else journal_path,
        mirror=None if options.dry_run else mirror,
        earlier=earlier,
    )
    holder = options.holder or holder_name(run_id)
    lock = ClusterLock(
        ports.cluster,
        ports.clock,
        holder,
        duration_seconds=options.lock_duration_seconds,
        take_over_stale=options.take_over_lock,
    )
    run = _Run(plan, ports, options, reporter, confirm, journal, None, run_id, ports.clock.now())
    run.plan_file = plan_file
    pending = [s for s in plan.steps if state.finished(s.id) is None]

    blocker = lock.blocker()
    if options.dry_run:
        if blocker is not None:
            run.blockers.append(blocker)
    else:
        if blocker is not None:
            raise RefusedError(blocker)
        if any(s.mutating for s in pending) and not options.yes:
            question = (
                f"Execute {len(pending)} steps on cluster {plan.cluster} "
                f"({plan.current_version} -> {plan.target_version})?"
            )
            if options.disable_eviction:
                question = question[:-1] + (
                    ", DELETING drained pods without the Eviction API (--disable-eviction: "
                    "PodDisruptionBudgets are NOT honoured)?"
                )
            if not confirm(question):
                raise RefusedError("not confirmed; nothing was changed")
        lock.acquire()
        run.lock = lock
        if lock.notice is not None:
            reporter.warning(lock.notice)
    try:
        # One watch scope for the whole run: every step's drain and waits read nodes, pods by
        # node, budgets and workloads from the same informers (a second node group's drain
        # reuses the node informer), instead of re-listing them every round.
        with ports.cluster.watching():
            return _run_steps(run, state, should_stop, checks, recorder)
    finally:
        if run.lock is not None:
            try:
                run.lock.release()
            except EksupError as error:
                reporter.warning(f"could not release the lock: {error}")


def _run_steps(
    run: _Run,
    state: JournalState,
    should_stop: Callable[[], bool],
    checks: Callable[[Step], list[str]] | None,
    recorder: Recorder | None,
) -> RunResult:
    plan, journal, reporter, options = run.plan, run.journal, run.reporter, run.options
    resuming = bool(state.records)
    reporter.run_started(plan, run.run_id, dry_run=options.dry_run, resume=resuming)
    journal.append(
        Phase.RUN_STARTED,
        detail="dry run" if options.dry_run else ("resume" if resuming else "start"),
        data={
            "plan_fingerprint": plan.fingerprint,
            "plan_created": plan.created_at,
            "plan_digest": plan.digest,
            "holder": run.lock.holder if run.lock is not None else "",
            "cluster": plan.cluster,
            **consent_data(options),
        },
    )
    if journal.recall(READY_WORKLOADS) is None:
        # What the verify step expects Ready again: read once, before the first change.
        journal.remember(READY_WORKLOADS, json.dumps(ready_workloads(run.ports.cluster)))

    if resuming and not options.dry_run and pending_surges(journal):
        _restore_surges(run)
    changed_before = state.changed_anything
    total = len(plan.steps)
    for index, step in enumerate(plan.steps, start=1):
        finished = state.finished(step.id)
        # Pre-flight reads only, and what it checks may have changed while the run was
        # stopped: it runs again on every resume.
        if finished is not None and step.kind is not StepKind.PREFLIGHT:
            reason = f"finished by run {finished.run}"
            reporter.step_skipped(step, reason)
            journal.append(Phase.SKIPPED, step.id, outcome="skipped", detail=reason)
            run.records.append(StepRecord(step.id, step.kind.value, StepOutcome.SKIPPED, reason))
            continue
        if should_stop():
            journal.append(Phase.STOPPED, step.id, detail="stop requested before the step")
            return _finish(run, RunStatus.STOPPED, step, "stopped on request", recorder)
        outcome = _run_one(run, step, index, total, checks)
        if outcome is None:
            continue
        status, error = outcome
        if status is RunStatus.WOULD_BLOCK:
            continue  # a dry run goes on, to find every blocker in one go
        if status is RunStatus.REFUSED and (changed_before or _changed_in(run)):
            status = RunStatus.FAILED
        return _finish(run, status, step, error, recorder)
    status = RunStatus.WOULD_BLOCK if run.blockers else RunStatus.SUCCEEDED
    return _finish(run, status, None, None, recorder)


def _restore_surges(run: _Run) -> None:
    """A run that died mid-surge left Deployments raised: put the journaled originals back
    before anything else (a step that surges again records them again)."""

    def intend(description: str) -> None:
        run.journal.append(Phase.ACTION, None, detail=description)
        run.reporter.action(description, dry_run=False)

    try:
        restore_recorded(run.ports.cluster, run.journal, intend)
    except EksupError as error:
        run.reporter.warning(f"could not restore the replicas --surge raised: {error}")


def _changed_in(run: _Run) -> bool:
    return any(r.phase is Phase.ACTION and r.run == run.run_id for r in run.journal.records)


def _step_checks(
    run: _Run, step: Step, checks: Callable[[Step], list[str]] | None
) -> Callable[[], list[str]] | None:
    if checks is None:
        return None
    if step.kind is StepKind.PREFLIGHT and run.journal.state.changed_anything:
        # Part-way, the full set judges a half-upgraded cluster ("already on the target"):
        # each step re-checks the ones it names, and pre-flight keeps its drain rules.
        return None
    return lambda: checks(step)


def _context(run: _Run, step: Step, checks: Callable[[Step], list[str]] | None) -> StepContext:
    waiter = Waiter(run.ports.clock, run.reporter, run.heartbeat, dry_run=run.options.dry_run)
    return StepContext(
        plan=run.plan,
        step=step,
        ports=run.ports,
        journal=run.journal,
        reporter=run.reporter,
        waiter=waiter,
        options=run.options,
        heartbeat=run.heartbeat,
        confirm=run.confirm,
        checks=_step_checks(run, step, checks),
        plan_file=run.plan_file,
    )


def _run_one(
    run: _Run, step: Step, index: int, total: int, checks: Callable[[Step], list[str]] | None
) -> tuple[RunStatus, str] | None:
    """Runs one step; None when it finished, else how the run ends and why."""
    journal, reporter, clock = run.journal, run.reporter, run.ports.clock
    started = clock.now()
    reporter.step_started(step, index, total)
    journal.append(Phase.STARTED, step.id, detail=step.title or step.description)
    try:
        run.heartbeat()
        context = _context(run, step, checks)
        _gate(context)
        result: StepResult = HANDLERS[step.kind](context)
    except KeyboardInterrupt:
        journal.append(Phase.STOPPED, step.id, detail="interrupted (Ctrl-C) during the step")
        reporter.step_failed(step, "interrupted")
        return RunStatus.STOPPED, f"interrupted during {step.id}"
    except ApprovalPendingError as error:
        journal.append(Phase.WAITING, step.id, outcome="waiting for approval", detail=str(error))
        reporter.warning(str(error))
        run.waiting_for = error.step_id
        return RunStatus.STOPPED, str(error)
    except GateDeclinedError as error:
        journal.append(Phase.STOPPED, step.id, detail=str(error))
        reporter.step_failed(step, str(error))
        return RunStatus.STOPPED, str(error)
    except EksupError as error:
        return _step_failed(run, step, error, started)
    except Exception as error:
        journal.append(Phase.FAILED, step.id, outcome="crashed", detail=repr(error))
        raise
    seconds = clock.now() - started
    outcome = StepOutcome.ALREADY_DONE if result.already_done else StepOutcome.DONE
    journal.append(Phase.FINISHED, step.id, outcome=outcome.value, detail=result.detail)
    reporter.step_finished(step, result.detail, seconds)
    run.records.append(StepRecord(step.id, step.kind.value, outcome, result.detail, seconds))
    return None


def _gate(ctx: StepContext) -> None:
    """What must hold before any step: its approval, when the plan asks for one (an approval
    step checks its own), and the checks it names, re-read now."""
    step = ctx.step
    if step.approval and step.kind is not StepKind.APPROVAL:
        require_approval(ctx)
    if ctx.checks is not None and step.verifies and step.kind is not StepKind.PREFLIGHT:
        blocking = ctx.checks()
        if blocking:
            raise PreconditionError(
                f"checks {', '.join(step.verifies)} block step {step.id}: " + "; ".join(blocking)
            )


def _step_failed(run: _Run, step: Step, error: EksupError, started: float) -> tuple[RunStatus, str]:
    message = str(error)
    seconds = run.ports.clock.now() - started
    run.reporter.step_failed(step, message)
    if run.options.dry_run:
        run.journal.append(Phase.FAILED, step.id, outcome="would-fail", detail=message)
        run.blockers.append(f"{step.id}: {message}")
        run.records.append(
            StepRecord(step.id, step.kind.value, StepOutcome.WOULD_FAIL, message, seconds)
        )
        return RunStatus.WOULD_BLOCK, message
    run.journal.append(Phase.FAILED, step.id, outcome=type(error).__name__, detail=message)
    run.records.append(StepRecord(step.id, step.kind.value, StepOutcome.FAILED, message, seconds))
    status = RunStatus.REFUSED if isinstance(error, RefusedError) else RunStatus.FAILED
    return status, f"{step.id}: {message}"


def _finish(
    run: _Run,
    status: RunStatus,
    step: Step | None,
    error: str | None,
    recorder: Recorder | None,
) -> RunResult:
    if step is not None:
        seen = {r.step_id for r in run.records}
        if step.id not in seen:
            run.records.append(
                StepRecord(step.id, step.kind.value, StepOutcome.STOPPED, error or "")
            )
        seen = {r.step_id for r in run.records}
        run.records.extend(
            StepRecord(s.id, s.kind.value, StepOutcome.NOT_RUN)
            for s in run.plan.steps
            if s.id not in seen
        )
    run.journal.append(Phase.RUN_FINISHED, outcome=status.value, detail=error or "")
    result = RunResult(
        run_id=run.run_id,
        status=status,
        steps=tuple(run.records),
        dry_run=run.options.dry_run,
        resume_from=step.id if step is not None else None,
        error=error,
        blockers=tuple(run.blockers),
        intended_calls=tuple(recorder.calls) if recorder is not None else (),
        started_at=run.started_at,
        finished_at=run.ports.clock.now(),
        waiting_for=run.waiting_for,
        resume_command=(
            resume_command(run.plan_file, run.options, run.options.target_flags)
            if step is not None and not run.options.dry_run
            else None
        ),
    )
    run.reporter.run_finished(result)
    return result
