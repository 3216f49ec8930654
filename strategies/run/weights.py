"""Run a rollout: shift traffic step by step, prove each shift, bake, gate; roll back on failure.

Order of safety, on every path:
1. A weight change counts only once it is read back from the service (convergence).
2. An abort (failed gate, passed deadline, a shift that would not converge, a human's abort)
   puts all traffic back on stable first and reads it back; only then, after the provider's
   drain delay (stickiness, DNS TTL), is the candidate scaled down.
3. A side is never scaled down while the live weights still send it traffic; if traffic cannot
   be confirmed on stable, nothing is scaled down and the report says a human is needed.
4. Traffic is never sent to a stable Deployment that has no Ready pods: a rollback scales it
   back up and waits for it first.

The runner takes ports and plain values only (`TrafficProvider`, `Gate`, `Clock`, `Cluster`),
so the same code runs on AWS, on moto and on the sandbox. Its state lives in the app's
ConfigMap (`strategies.run.state`): every completed step, so a killed run resumes, and the
promote/abort requests other machines leave there, which a waiting run picks up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from strategies.gates.decide import GateFailedError, GateTally, await_gates
from strategies.gates.kinds import Gate, GateResult, gates_for
from strategies.registry import steps_of
from strategies.run.report import RolloutReport, RolloutStatus, ScaleDown, WeightChange
from strategies.run.state import Actor, Journal, Phase, Request, RolloutState
from strategies.spec import COMPUTE_STRATEGIES, RolloutSpec
from strategies.steps import (
    ALL_CANDIDATE,
    ALL_STABLE,
    Analysis,
    AwaitReady,
    Pause,
    Retire,
    RolloutStep,
    Scale,
    SetWeights,
    Step,
    Weights,
    weight_steps,
)
from strategies.traffic.base import TrafficProvider
from strategies.traffic.factory import provider_for
from upgrader.core.errors import EksupError, NotFoundError, PermanentError, RefusedError, UserError
from upgrader.core.kube import WorkloadKind
from upgrader.core.ports import Clock, Cluster, Dns, HttpProbe, LoadBalancers, Metrics

if TYPE_CHECKING:
    from strategies.run.pods import ComputeRunner

__all__ = [
    "Journal",
    "RolloutReport",
    "RolloutRunner",
    "RolloutStatus",
    "ScaleDown",
    "WeightChange",
    "build_runner",
]

_Reached = Callable[[Weights], bool]
Log = Callable[[str], None]

# Between two read-backs of a change that has not shown up yet.
CONVERGE_POLL_SECONDS = 5.0
# A waiting run renews its lock and looks for promote/abort requests this often; well inside
# the lock's 30 s renewal period, and a human's abort takes effect within it.
CHECK_EVERY_SECONDS = 10.0
# Between two reads of a stable Deployment coming back up.
READY_POLL_SECONDS = 5.0


class _AbortError(Exception):
    def __init__(self, reason: str, result: GateResult | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


class _StopError(Exception):
    """The lock was lost: stop at once, changing nothing more (not even a rollback)."""

    def __init__(self, error: EksupError) -> None:
        super().__init__(str(error))
        self.error = error


class _PromoteError(Exception):
    """A human asked to skip the remaining steps."""

    def __init__(self, by: Actor) -> None:
        super().__init__(f"promoted by {by.who}")
        self.by = by


@dataclass
class _State:
    started_at: float
    deadline: float
    steps_done: int = 0
    history: list[WeightChange] = field(default_factory=list)
    results: list[GateResult] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    scaled_down: list[ScaleDown] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _nothing(_: str) -> None:
    pass


class RolloutRunner:
    def __init__(
        self,
        spec: RolloutSpec,
        *,
        provider: TrafficProvider,
        gates: Sequence[Gate],
        clock: Clock,
        cluster: Cluster | None = None,
        journal: Journal | None = None,
        keepalive: Callable[[], None] | None = None,
        who: str = "eksup",
        log: Log = _nothing,
    ) -> None:
        self.spec = spec
        self.journal = journal
        self.provider = provider
        self.gates = tuple(gates)
        self.clock = clock
        self.cluster = cluster
        self.keepalive = keepalive  # renews the app's lock; raises once it is lost
        self.who = who
        self.log = log
        # The strategy's typed steps, and the weight steps people count among them.
        self.plan: list[RolloutStep] = steps_of(spec.strategy)
        self.steps: list[Step] = weight_steps(self.plan)
        self._listening = False  # act on requests from the ConfigMap
        self._promoting = False

    # ---------------------------------------------------------------- entry points

    def run(self, *, promote_by: Actor | None = None) -> RolloutReport:
        """Run (or resume) the rollout; with `promote_by`, skip its remaining steps."""
        try:
            return self._run(promote_by)
        except _StopError as stop:
            raise stop.error from None

    def _run(self, promote_by: Actor | None) -> RolloutReport:
        state = self._new_state()
        self._begin(state)
        self._listening = True
        try:
            try:
                if promote_by is not None:
                    raise _PromoteError(promote_by)
                self._checkpoint()
                for step in self.plan:
                    if self._pending(step, state.steps_done):
                        self._do(state, step)
            except _PromoteError as promote:
                self._promote_now(state, promote.by)
                self._retire(state, "stable", scale_down_delay(self.spec))
        except _AbortError as abort:
            report = self._roll_back(state, abort)
        except KeyboardInterrupt:
            last = state.history[-1].weights if state.history else None
            self._journal(state.steps_done, Phase.PAUSED, last, reason="interrupted")
            raise
        else:
            report = self._report(state, RolloutStatus.SUCCEEDED, "", None)
        self._journal(
            report.steps_done, Phase(report.status.value), report.final_weights, report.reason
        )
        return report

    @staticmethod
    def _pending(step: RolloutStep, done: int) -> bool:
        """Whether a (resumed) run still does `step` after `done` completed steps: the later
        ones, the gates of the last completed one (traffic moves again only once the
        candidate is healthy and alarms are quiet) and the final scale-down."""
        if isinstance(step, Retire):
            return step.number >= done
        if step.number == done:
            return done == 0 or isinstance(step, Analysis)
        return step.number > done

    def _do(self, state: _State, step: RolloutStep) -> None:
        if isinstance(step, SetWeights):
            self._shift(state, step.number, step.weights)
        elif isinstance(step, Pause):
            self._pause(state, step.number, step.seconds)
        elif isinstance(step, Analysis):
            self._gate(state, step.number)
            if step.number > 0:
                state.steps_done = step.number
                self._journal(step.number, Phase.RUNNING, state.history[-1].weights)
        elif isinstance(step, Scale | AwaitReady):
            if isinstance(step, Scale):  # AwaitReady: the scale-up below waits for it
                self._scale_up_candidate(state)
        elif isinstance(step, Retire):
            self._retire(state, step.side, step.delay)
        else:
            raise UserError(f"{self.spec.strategy.kind} cannot run a {type(step).__name__} step")

    def _scale_up_candidate(self, state: _State) -> None:
        """Blue/green: the candidate at stable's replicas and Ready before the switch."""
        if self.cluster is None:
            return
        from strategies.run.pods import AbortError, scale_candidate_to_stable

        give_up = min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)
        try:
            note = scale_candidate_to_stable(self.spec, self.cluster, self.clock, give_up)
        except (AbortError, EksupError) as error:
            raise _AbortError(f"scaling the candidate up before the switch: {error}") from None
        if note is not None:
            state.notes.append(note)

    def promote(self, by: Actor) -> RolloutReport:
        """All traffic to the candidate now, for a rollout in progress that no run drives."""
        current = self._recorded()
        if current is None or not current.resumable:
            status = "none recorded" if current is None else current.phase.value
            raise UserError(
                f"no rollout of {self._app} in progress to promote ({status}); "
                "start one with `eksup rollout run`"
            )
        return self.run(promote_by=by)

    def abort(self, by: Actor, *, record: bool = True, retire: bool = False) -> RolloutReport:
        """All traffic back on stable now, read back; the candidate is left running, or with
        `retire` scaled down after the drain delay (ending a rollout whose run died).

        `record=False` when a run holding the lock will record the outcome itself."""
        try:
            return self._abort(by, record, retire)
        except _StopError as stop:
            raise stop.error from None

    def _abort(self, by: Actor, record: bool, retire: bool = False) -> RolloutReport:
        state = self._new_state()
        self._refuse_if_stable_cannot_serve()
        current = self._recorded()
        state.steps_done = current.step if current is not None else 0
        try:
            self._converge(state, -1, ALL_STABLE, lambda live: live.only_stable)
        except (_AbortError, EksupError) as error:
            if record:
                self._journal(state.steps_done, Phase.FAILED, None, f"abort: {error}")
            raise PermanentError(f"traffic not confirmed on stable: {error}") from None
        reason = f"aborted by {by.who}"
        if retire:
            self._retire(state, "candidate")
        if record and self.journal is not None:
            self._journal(state.steps_done, Phase.ROLLED_BACK, state.history[-1].weights, reason)
            self.journal.record_action("aborted", by)
        if not state.scaled_down:
            state.notes.append("the candidate was left running")
        return self._report(state, RolloutStatus.ROLLED_BACK, reason, None)

    def rollback(self, by: Actor) -> RolloutReport:
        """Undo a finished rollout: stable back up to its recorded size and Ready, then all
        traffic to it in one change, read back; the candidate retired after the drain delay."""
        try:
            return self._rollback(by)
        except _StopError as stop:
            raise stop.error from None

    def _rollback(self, by: Actor) -> RolloutReport:
        current = self._recorded()
        if current is None:
            raise UserError(f"nothing to roll back: no rollout of {self._app} is recorded")
        if current.phase is not Phase.SUCCEEDED:
            hint = "; stop it with `eksup rollout abort`" if current.resumable else ""
            raise UserError(
                f"nothing to roll back: the last rollout of {self._app} is "
                f"{current.phase.value}, not succeeded{hint}"
            )
        state = self._new_state()
        state.steps_done = current.step
        if state.history[0].weights.only_stable:
            raise UserError(f"nothing to roll back: all traffic of {self._app} is on stable")
        self._restore_stable(state, current)
        reason = f"rolled back by {by.who}"
        try:
            self._converge(state, -1, ALL_STABLE, lambda live: live.only_stable)
        except (_AbortError, EksupError) as error:
            state.notes.append(f"traffic NOT confirmed back on stable ({error})")
            report = self._report(state, RolloutStatus.FAILED, reason, None)
        else:
            self._retire(state, "candidate")
            report = self._report(state, RolloutStatus.ROLLED_BACK, reason, None)
        self._journal(state.steps_done, Phase(report.status.value), report.final_weights, reason)
        if self.journal is not None:
            self.journal.record_action("rolled-back", by)
        return report

    # ---------------------------------------------------------------- state

    @property
    def _app(self) -> str:
        return f"{self.spec.app.namespace}/{self.spec.app.name}"

    def _new_state(self) -> _State:
        now = self.clock.now()
        state = _State(started_at=now, deadline=now + self.spec.deadlines.total_seconds)
        # Reading first also proves the spec matches the service (records exist, the rule
        # forwards only to the two groups) before anything changes.
        state.history.append(WeightChange(now, 0, self.provider.read()))
        return state

    def _recorded(self) -> RolloutState | None:
        return self.journal.read() if self.journal is not None else None

    def _begin(self, state: _State) -> None:
        if self.journal is None:
            return
        current = self.journal.read()
        if current is not None and current.resumable:
            state.steps_done = current.step
            if state.steps_done:
                state.notes.append(f"resumed after step {state.steps_done}")
            self.journal.record(state.steps_done, Phase.RUNNING, None, self.clock.now(), reason="")
        else:
            self.journal.start(len(self.steps), Actor(self.who, self.clock.now()))

    def _journal(
        self, step: int, status: Phase, weights: Weights | None, reason: str | None = None
    ) -> None:
        if self.journal is not None:
            self.journal.record(step, status.value, weights, self.clock.now(), reason=reason)

    def _checkpoint(self) -> None:
        """Renew the lock; act on a request another machine left in the ConfigMap."""
        if self.keepalive is not None:
            try:
                self.keepalive()
            except EksupError as error:
                raise _StopError(error) from None
        if self.journal is None or not self._listening:
            return
        current = self.journal.read()
        if current is None or current.request is None:
            return
        by = current.requested_by or Actor("unknown", self.clock.now())
        if current.request is Request.ABORT:
            self.journal.clear_request()
            self.journal.record_action("aborted", by)
            raise _AbortError(f"aborted by {by.who}")
        if not self._promoting:
            self.journal.clear_request()
            raise _PromoteError(by)

    def _sleep(self, seconds: float) -> None:
        """Sleep through the Clock in slices, checking in between (lock, requests)."""
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self.clock.sleep(min(left, CHECK_EVERY_SECONDS))
            self._checkpoint()

    # ---------------------------------------------------------------- steps

    def _shift(self, state: _State, number: int, weights: Weights) -> None:
        try:
            self._converge(state, number, weights, lambda live: live == weights)
        except EksupError as error:
            raise _AbortError(f"step {number} ({weights}): {error}") from None

    def _converge(
        self,
        state: _State,
        number: int,
        weights: Weights,
        reached: _Reached,
    ) -> None:
        """Write `weights` (unless the service already has them), then read back until they
        show; raises _AbortError past `converge_seconds`."""
        live = self.provider.read()
        if not reached(live):
            # Checked on both sides of the write: an abort requested while the write was on
            # its way is seen before the run goes on, and undoes the write.
            self._checkpoint()
            self.log(f"set weights {weights}: {self.provider.describe_change(weights)}")
            self.provider.apply(weights)
            self._checkpoint()
        give_up = self.clock.now() + self.spec.deadlines.converge_seconds
        while True:
            live = self.provider.read()
            if reached(live):
                state.history.append(WeightChange(self.clock.now(), number, live))
                return
            if self.clock.now() + CONVERGE_POLL_SECONDS > give_up:
                raise _AbortError(f"wrote {weights} but the service still reads {live}")
            self._sleep(CONVERGE_POLL_SECONDS)

    def _pause(self, state: _State, number: int, seconds: float) -> None:
        remaining = state.deadline - self.clock.now()
        if seconds > remaining:
            self._sleep(max(remaining, 0.0))
            raise _AbortError(f"the rollout deadline passed during the pause of step {number}")
        self._sleep(seconds)

    def _gate(self, state: _State, number: int) -> None:
        """Evaluate every gate until all pass; a gate at its failure limit, or the step or
        rollout deadline passing while gates pause or re-check, aborts."""
        give_up = min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)
        tally = GateTally(state.results, state.failures)
        try:
            await_gates(self.gates, self.clock, give_up, f"step {number}", tally, sleep=self._sleep)
        except GateFailedError as failed:
            raise _AbortError(failed.reason, failed.result) from None

    # ---------------------------------------------------------------- endings

    def _promote_now(self, state: _State, by: Actor) -> None:
        """Skip the remaining steps: all traffic on the candidate, read back. A human's abort
        still counts while this converges and while stable waits to be retired."""
        self._promoting = True
        if self.journal is not None:
            self.journal.record_action("promoted", by)
        total = len(self.steps)
        done = state.steps_done
        try:
            self._converge(state, total, ALL_CANDIDATE, lambda live: live.only_candidate)
        except EksupError as error:
            raise _AbortError(f"promote ({ALL_CANDIDATE}): {error}") from None
        state.notes.append(f"promoted by {by.who} after step {done} of {total} had passed")
        state.steps_done = total
        self._journal(total, Phase.RUNNING, state.history[-1].weights)

    def _roll_back(self, state: _State, abort: _AbortError) -> RolloutReport:
        self._listening = False  # already on the way back: no request changes that
        failed = abort.result
        status = RolloutStatus.ROLLED_BACK
        reason = abort.reason
        try:
            self._converge(state, -1, ALL_STABLE, lambda live: live.only_stable)
        except (_AbortError, EksupError) as error:
            status = RolloutStatus.FAILED
            state.notes.append(
                f"traffic NOT confirmed back on stable ({error}); the candidate was left "
                "running: set the weights by hand, then scale it down"
            )
        else:
            self._retire(state, "candidate")
        return self._report(state, status, reason, failed)

    def _refuse_if_stable_cannot_serve(self) -> None:
        deployment = self.spec.app.stable.deployment
        if deployment is None or self.cluster is None:
            return
        namespace = self.spec.app.namespace
        try:
            workload = self.cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, deployment)
        except NotFoundError:
            raise RefusedError(
                f"stable Deployment {namespace}/{deployment} not found: no traffic was moved"
            ) from None
        if workload.ready_replicas == 0:
            raise RefusedError(
                f"stable Deployment {namespace}/{deployment} has no Ready pods: sending it all "
                "traffic would fail every request; no traffic was moved. After a finished "
                "rollout use `eksup rollout rollback`, which scales it back up first"
            )

    def _restore_stable(self, state: _State, current: RolloutState) -> None:
        """Scale stable back to its size before the rollout and wait until it is Ready."""
        deployment = self.spec.app.stable.deployment
        if deployment is None or self.cluster is None:
            return
        namespace = self.spec.app.namespace
        name = f"stable Deployment {namespace}/{deployment}"
        try:
            workload = self.cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, deployment)
        except NotFoundError:
            raise UserError(f"{name} not found: nothing was changed") from None
        want = current.stable_replicas
        if want is None:
            want = workload.replicas or 0
        if want == 0:
            raise UserError(
                f"{name} has 0 replicas and no count was recorded before the rollout: scale it "
                "up by hand, then run rollback again; nothing was changed"
            )
        if (workload.replicas or 0) < want:
            self.log(f"scale {name} from {workload.replicas} to {want} replicas")
            self.cluster.scale_workload(WorkloadKind.DEPLOYMENT, namespace, deployment, want)
            state.notes.append(f"{name} scaled back to {want} replicas")
        give_up = self.clock.now() + self.spec.deadlines.step_seconds
        while True:
            workload = self.cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, deployment)
            if workload.ready_replicas >= want:
                return
            if self.clock.now() + READY_POLL_SECONDS > give_up:
                raise PermanentError(
                    f"{name}: {workload.ready_replicas}/{want} pods Ready after "
                    f"{self.spec.deadlines.step_seconds:g}s; traffic left on the candidate"
                )
            self._sleep(READY_POLL_SECONDS)

    def _retire(self, state: _State, side: str, delay: float = 0.0) -> None:
        """Scale down `side` after the drain delay, if the spec names its Deployment and the
        live weights, read again after the delay, send it nothing."""
        app = self.spec.app
        deployment = (app.candidate if side == "candidate" else app.stable).deployment
        if deployment is None or self.cluster is None:
            return
        delay = max(self.provider.drain_seconds, delay)
        self._sleep(delay)
        try:
            live = self.provider.read()
        except EksupError as error:
            state.notes.append(f"{side} {deployment} kept: cannot read the weights ({error})")
            return
        if (live.candidate if side == "candidate" else live.stable) != 0:
            state.notes.append(f"{side} {deployment} kept: it still receives traffic ({live})")
            return
        try:
            before = self.cluster.get_workload(WorkloadKind.DEPLOYMENT, app.namespace, deployment)
            if side == "stable" and self.journal is not None:
                # Kept before it changes: the one fact a rollback cannot re-derive.
                self.journal.record_stable_replicas(deployment, before.replicas)
            self.log(f"scale {side} Deployment {app.namespace}/{deployment} to 0")
            self.cluster.scale_workload(WorkloadKind.DEPLOYMENT, app.namespace, deployment, 0)
        except NotFoundError:
            state.notes.append(f"{side} Deployment {app.namespace}/{deployment} not found")
            return
        except EksupError as error:
            state.notes.append(f"{side} {deployment} not scaled down: {error}")
            return
        state.scaled_down.append(
            ScaleDown(app.namespace, deployment, before.replicas, self.clock.now())
        )

    def _report(
        self, state: _State, status: RolloutStatus, reason: str, failed: GateResult | None
    ) -> RolloutReport:
        return RolloutReport(
            app=self.spec.app.name,
            status=status,
            steps_done=state.steps_done,
            steps_total=len(self.steps),
            history=tuple(state.history),
            reason=reason,
            failed_gate=failed.gate if failed is not None else None,
            culprits=failed.culprits if failed is not None else (),
            scaled_down=tuple(state.scaled_down),
            gate_results=tuple(state.results),
            notes=tuple(state.notes),
            started_at=state.started_at,
            finished_at=self.clock.now(),
        )


def scale_down_delay(spec: RolloutSpec) -> float:
    return float(getattr(spec.strategy, "scale_down_delay_seconds", 0.0))


def build_runner(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    dns: Dns,
    metrics: Metrics,
    clock: Clock,
    cluster: Cluster | None = None,
    journal: bool = False,
    keepalive: Callable[[], None] | None = None,
    who: str = "eksup",
    log: Log = _nothing,
    http: HttpProbe | None = None,
) -> RolloutRunner | ComputeRunner:
    """Wire a runner from a spec and the ports; refuses impossible strategy/provider pairs.

    `journal=True` (needs `cluster`) records each completed step in a ConfigMap and resumes
    an unfinished rollout of the same app from its last completed step (traffic strategies;
    rolling and recreate refuse to start over a half-done rollout instead)."""
    if isinstance(spec.strategy, COMPUTE_STRATEGIES):
        from strategies.run.pods import build_compute_runner

        return build_compute_runner(
            spec,
            metrics=metrics,
            load_balancers=load_balancers,
            clock=clock,
            cluster=cluster,
            http=http,
        )
    provider = provider_for(
        spec, load_balancers=load_balancers, dns=dns, clock=clock, cluster=cluster
    )
    gates = gates_for(
        spec,
        metrics=metrics,
        load_balancers=load_balancers,
        clock=clock,
        cluster=cluster,
        http=http,
    )
    state = None
    if journal:
        if cluster is None:
            raise UserError("a rollout journal lives in the cluster: give a cluster")
        state = Journal(cluster, spec.app.namespace, spec.app.name)
    return RolloutRunner(
        spec,
        provider=provider,
        gates=gates,
        clock=clock,
        cluster=cluster,
        journal=state,
        keepalive=keepalive,
        who=who,
        log=log,
    )
