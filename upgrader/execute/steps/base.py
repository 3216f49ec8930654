"""What every step gets from the engine: the ports, the journal, the reporter, and waiting.

A step is a function `StepContext -> StepResult`. It reads fresh state first and returns
`StepResult(already_done=True)` when there is nothing left to do, which is what makes re-running
a step (after a crash, on `--resume`) safe. Before any change it calls `ctx.intend(...)`, which
writes the change to the journal and tells the reporter, so the record exists even if the
process dies during the call. Facts it must not lose in a crash go through `ctx.remember`.

Every wait goes through `Waiter.until`: a deadline, a reason the person watching can read, a
poll interval that backs off, the lock renewed on each round, and transient read errors
(throttling, a 5xx) absorbed as "not yet".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from upgrader.core.aws import EksUpdate, UpdateStatus
from upgrader.core.errors import EksupError, PermanentError, RefusedError, TemporaryError
from upgrader.core.ports import Clock, Cluster, Compute, ControlPlane
from upgrader.core.run.journal import Journal, Phase
from upgrader.execute.eks_estimate import (
    UpdateEstimate,
    UpdateKind,
    estimate,
    per_round,
    record_key,
)
from upgrader.execute.progress import TICK_SECONDS
from upgrader.execute.reporter import Reporter
from upgrader.plan.document import Plan, Step


@dataclass(frozen=True)
class Ports:
    """The outside world of an execution. `Sandbox().aws` serves as both AWS ports."""

    cluster: Cluster
    control_plane: ControlPlane
    compute: Compute
    clock: Clock
    # The cluster again, with every write validated by the API server and not kept
    # (dryRun=All): what a dry run sends its changes through. None: no such server (sandbox).
    server_dry_run: Cluster | None = None


@dataclass(frozen=True)
class Timeouts:
    """Seconds each kind of wait may take before the step fails. AWS's typical durations are
    in the comments; the limits are a few times those, so a slow day is not a failure."""

    control_plane: float = 3600.0  # a minor update takes 8-10 min, rarely 30
    addon: float = 1800.0  # an add-on update takes 1-2 min
    nodegroup_create: float = 2400.0  # CREATING takes 3-5 min; EKS gives up near 30
    nodes_ready: float = 1200.0  # after ACTIVE, nodes join within a couple of minutes
    nodegroup_delete: float = 2400.0  # DELETING takes 5-10 min
    nodegroup_update: float = 4 * 3600.0  # in place, node by node: long for large groups
    workloads_ready: float = 900.0  # displaced pods Ready on green after the drain
    autoscaler: float = 300.0  # Cluster Autoscaler's pods stop or start


@dataclass(frozen=True)
class ExecuteOptions:
    """How `execute` runs a plan; the CLI's flags map onto these one to one."""

    dry_run: bool = False
    resume: bool = False
    yes: bool = False  # no confirmation before the first change
    take_over_lock: bool = False  # take a stale (expired) lease held by another run
    skip_fingerprint: bool = False  # for --replan flows: the plan was just made again
    # The drain, as `kubectl drain` spells it.
    force: bool = False  # evict pods no controller owns (they are gone for good)
    delete_emptydir_data: bool = False
    grace_period_seconds: int | None = None  # None: each pod's own
    max_grace_period_seconds: int | None = None
    drain_timeout_seconds: float | None = None  # None: the plan's
    taint: str | None = None  # None: the plan's (eksup.io/upgrade=blue:NoSchedule)
    drain_poll_seconds: float = 2.0  # how often budgets are re-read during a drain
    surge: bool = False  # raise PDB-bound Deployments before a drain (upgrader.drain.surge)
    skip_wait_for_delete_timeout_seconds: int = 0  # 0: wait for every terminating pod
    disable_eviction: bool = False  # DELETE pods instead of evicting: no PDB is asked
    pod_selector: str | None = None  # drain only the pods this label selector matches
    holder: str | None = None  # who holds the lock, e.g. "alice@laptop"; default: the run id
    lock_duration_seconds: int = 120
    timeouts: Timeouts = field(default_factory=Timeouts)
    # How the CLI reached the cluster (e.g. ("--sandbox",), ("--context", "prod")): repeated
    # in the commands printed for resuming (upgrader.execute.steps.consent.resume_command).
    target_flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepResult:
    detail: str = ""
    already_done: bool = False  # nothing was left to do: fresh state showed it done


class StepFailedError(PermanentError):
    """The step could not do its work; the message says what happened and how to go on."""


class PreconditionError(RefusedError):
    """The step's precondition does not hold; the step changed nothing."""


class WaitTimeoutError(TemporaryError):
    """A wait reached its deadline."""


class GateDeclinedError(EksupError):
    """A person declined an approval or has not done a manual step yet: stop, resumable."""

    exit_code = 4


class Waiter:
    """Waits for a condition with a deadline, through the clock; see the module docstring."""

    def __init__(
        self,
        clock: Clock,
        reporter: Reporter,
        heartbeat: Callable[[], None],
        *,
        dry_run: bool,
    ) -> None:
        self.clock = clock
        self.reporter = reporter
        self.heartbeat = heartbeat
        self.dry_run = dry_run

    def until(
        self,
        done: Callable[[], bool],
        *,
        reason: str | Callable[[], str],
        timeout: float,
        poll: float = 10.0,
        max_poll: float = 60.0,
    ) -> bool:
        """True once `done()` is; raises WaitTimeoutError at the deadline. In a dry run the
        condition is read once and, if false, the wait is reported and skipped (False)."""
        start = self.clock.now()
        deadline = start + timeout
        delay = poll
        while True:
            problem = ""
            try:
                if done():
                    return True
            except TemporaryError as error:
                problem = f" (last read failed, retrying: {error})"
            text = (reason() if callable(reason) else reason) + problem
            if self.dry_run:
                self.reporter.action(f"wait up to {timeout:.0f}s for {text}", dry_run=True)
                return False
            now = self.clock.now()
            remaining = deadline - now
            if remaining <= 0:
                raise WaitTimeoutError(f"gave up after {timeout:.0f}s waiting for {text}")
            self.reporter.waiting(text, now - start, remaining)
            self.heartbeat()
            self._sleep(min(delay, remaining), text, start, deadline)
            delay = min(delay * 1.5, max_poll)

    def _sleep(self, seconds: float, text: str, start: float, deadline: float) -> None:
        """Sleep between polls in slices of at most TICK_SECONDS, telling the reporter after
        each one: a 60 s poll interval must not leave a CI log silent for 60 s (the reporter
        decides whether a line is due; see `upgrader.execute.progress`)."""
        slices = max(1, math.ceil(seconds / TICK_SECONDS))
        for number in range(slices):
            self.clock.sleep(seconds / slices)
            if number < slices - 1:
                now = self.clock.now()
                self.reporter.waiting(text, now - start, deadline - now)


@dataclass
class StepContext:
    plan: Plan
    step: Step
    ports: Ports
    journal: Journal
    reporter: Reporter
    waiter: Waiter
    options: ExecuteOptions
    heartbeat: Callable[[], None]  # renews the lock; raises LockLostError if it was taken
    confirm: Callable[[str], bool] = lambda _: False  # asks the person, always
    checks: Callable[[], list[str]] | None = None  # blocking pre-flight findings, re-read
    plan_file: str = "plan.json"  # as the person typed it: for the commands we print

    @property
    def cluster_name(self) -> str:
        return self.plan.cluster

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def intend(self, description: str) -> None:
        """Record a change before making it: in the journal (so a crash leaves a trace of what
        was under way) and on the reporter. A dry run's reporter hears of the calls themselves,
        as they are recorded, so the intent would only repeat them."""
        self.journal.append(Phase.ACTION, self.step.id, detail=description)
        if not self.dry_run:
            self.reporter.action(description, dry_run=False)

    def remember(self, key: str, value: str) -> None:
        """A fact of this step that must survive a crash, e.g. an update id."""
        self.journal.remember(f"{self.step.id}/{key}", value, self.step.id)

    def recall(self, key: str) -> str | None:
        return self.journal.recall(f"{self.step.id}/{key}")

    def remember_global(self, key: str, value: str) -> None:
        """A fact another step reads, e.g. the replica count the resume step restores."""
        self.journal.remember(key, value, self.step.id)

    def recall_global(self, key: str) -> str | None:
        return self.journal.recall(key)


StepHandler = Callable[[StepContext], StepResult]


def wait_for_update(
    ctx: StepContext,
    update_id: str,
    *,
    what: str,
    timeout: float,
    nodegroup: str | None = None,
    addon: str | None = None,
    kind: UpdateKind | None = None,
    rounds: int = 1,
) -> EksUpdate:
    """Poll an EKS update until it ends; Failed or Cancelled is a StepFailedError with the
    update's own errors. The progress line carries an estimate: this run's last update of the
    same `kind` (per batch: `rounds` for a node group), else the typical one; a successful
    update's duration is kept in the journal for the next wait of its kind."""
    kind = kind or update_kind(nodegroup, addon)
    expected = estimate(kind, rounds, ctx.recall_global(record_key(kind)))
    started = ctx.waiter.clock.now()
    update = wait_for_eks_update(
        ctx.ports.control_plane,
        ctx.cluster_name,
        ctx.waiter,
        update_id,
        what=what,
        timeout=timeout,
        nodegroup=nodegroup,
        addon=addon,
        estimate=expected,
    )
    if not ctx.dry_run and update.status is UpdateStatus.SUCCESSFUL:
        now = ctx.waiter.clock.now()
        # EKS's own createdAt spans a crash and a --resume; our start does not.
        began = update.created_at if 0 < update.created_at <= started else started
        ctx.remember_global(record_key(kind), per_round(now - began, rounds))
    return update


def update_kind(nodegroup: str | None, addon: str | None) -> UpdateKind:
    if addon is not None:
        return UpdateKind.ADDON
    return UpdateKind.NODEGROUP if nodegroup is not None else UpdateKind.CONTROL_PLANE


def _typical(kind: UpdateKind) -> UpdateEstimate:
    return estimate(kind)


RESUME_HINT = "fix the cause, then re-run with --resume (the step starts a new update)"


def wait_for_eks_update(
    eks: ControlPlane,
    cluster: str,
    waiter: Waiter,
    update_id: str,
    *,
    what: str,
    timeout: float,
    nodegroup: str | None = None,
    addon: str | None = None,
    hint: str = RESUME_HINT,
    estimate: UpdateEstimate | None = None,
) -> EksUpdate:
    """`wait_for_update` for callers outside a plan's step (e.g. `upgrader.usecases.rollback`);
    `hint` ends the failure message with what to do next; `estimate` defaults to the typical
    duration of the update's kind."""
    expected = estimate or _typical(update_kind(nodegroup, addon))
    seen: list[EksUpdate] = []

    def finished() -> bool:
        update = eks.describe_update(cluster, update_id, nodegroup=nodegroup, addon=addon)
        seen.append(update)
        return update.status.finished

    def reason() -> str:
        status = seen[-1].status.value if seen else "not read yet"
        return f"{what}: EKS update {update_id} is {status}; {expected.text()}"

    waiter.until(finished, reason=reason, timeout=timeout, poll=15.0, max_poll=60.0)
    if not seen:  # a dry run whose single read failed transiently
        return EksUpdate(update_id, "", UpdateStatus.SUCCESSFUL)
    update = seen[-1]
    if update.status is UpdateStatus.SUCCESSFUL or not update.status.finished:
        return update
    errors = "; ".join(update.errors) or "EKS gave no error details"
    raise StepFailedError(
        f"{what}: EKS update {update_id} ended {update.status.value}: {errors}. Nothing more "
        f"was changed; {hint}"
    )
