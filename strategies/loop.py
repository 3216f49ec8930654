"""The one step loop: any strategy's typed steps, run over the app's `TrafficRouter`.

A strategy (`strategies/<name>.py`) is a list of typed steps; this loop runs them whatever the
strategy: weights set and read back, routes turned on and read back, Deployments scaled and
waited for, pauses, gates, the retired side scaled down. Nothing here asks which strategy it
runs: a router that cannot do a step says so, and the way back is what the steps changed
(weights back on stable, the route removed, stable's pods restored).

Order of safety, on every path:
1. A change counts only once it is read back from the service (convergence).
2. An abort (failed gate, passed deadline, a change that would not converge, a human's abort)
   puts all traffic back on stable first and reads it back; only then, after the router's
   drain delay (stickiness, DNS TTL), is the candidate scaled down. Pods go back the same
   way: stable restored and Ready before the candidate goes to 0.
3. A side is never scaled down while the live weights still send it traffic; if traffic cannot
   be confirmed on stable, nothing is scaled down and the report says a human is needed.
4. Traffic is never sent to a stable Deployment that has no Ready pods: a rollback scales it
   back up and waits for it first.

The loop takes ports and plain values only (`TrafficRouter`, `Gate`, `Clock`, `Cluster`), so
the same code runs on AWS, on moto and on the sandbox. Its state lives in the app's journal
(`strategies.run.state`): every completed step, so a killed run resumes, and the
promote/abort requests other machines leave there, which a waiting run picks up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from strategies.gates.kinds import Gate, GateResult, gates_for
from strategies.registry import steps_of
from strategies.run.deployments import Deployments
from strategies.run.outcome import AbortError, RunState, analyse
from strategies.run.report import (
    ExperimentReport,
    RolloutReport,
    RolloutStatus,
    RouteEvent,
    ScaleDown,
    WeightChange,
)
from strategies.run.state import Actor, Journal, Phase, Request, RolloutState
from strategies.spec import RolloutSpec
from strategies.steps import (
    ALL_CANDIDATE,
    ALL_STABLE,
    Analysis,
    AwaitGone,
    AwaitReady,
    AwaitRoom,
    Pause,
    Retire,
    RolloutStep,
    RouteKind,
    Scale,
    SetRoute,
    SetWeights,
    Side,
    Step,
    Weights,
    weight_steps,
)
from strategies.traffic.base import TrafficRouter, verified
from strategies.traffic.factory import router_for
from upgrader.core.errors import EksupError, NotFoundError, PermanentError, RefusedError, UserError
from upgrader.core.ports import Clock, Cluster, Dns, HttpProbe, LoadBalancers, Metrics

Log = Callable[[str], None]

# Between two read-backs of a change that has not shown up yet.
CONVERGE_POLL_SECONDS = 5.0
# A waiting run renews its lock and looks for promote/abort requests this often; well inside
# the lock's 30 s renewal period, and a human's abort takes effect within it.
CHECK_EVERY_SECONDS = 10.0

Report = RolloutReport | ExperimentReport


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


def _nothing(_: str) -> None:
    pass


class StepLoop:
    """Runs one rollout of any strategy: `run`, and for a rollout that moves weights,
    `promote`, `abort` and `rollback`."""

    def __init__(
        self,
        spec: RolloutSpec,
        *,
        router: TrafficRouter,
        gates: Sequence[Gate],
        clock: Clock,
        cluster: Cluster | None = None,
        journal: Journal | None = None,
        keepalive: Callable[[], None] | None = None,
        who: str = "eksup",
        log: Log = _nothing,
    ) -> None:
        self.spec = spec
        self.router = router
        self.gates = tuple(gates)
        self.clock = clock
        self.cluster = cluster
        self.journal = journal
        self.keepalive = keepalive  # renews the app's lock; raises once it is lost
        self.who = who
        self.log = log
        self.pods = Deployments(spec, cluster, clock, log) if cluster is not None else None
        # What the steps do, read from their shape (a strategy sized for one pod).
        shape = steps_of(spec.strategy, 1)
        routes = [s for s in shape if isinstance(s, SetRoute)]
        self.route: RouteKind | None = routes[0].kind if routes else None
        # Steps that scale as the traffic split (rolling, recreate): replicas are the weights.
        self.moves_pods = any(isinstance(s, Scale) and s.number > 0 for s in shape)
        self.empties_a_side = any(isinstance(s, AwaitGone) for s in shape)
        if self.moves_pods:
            self._need_pods()  # refused at once: there is nothing to move without a cluster
        # Pod strategies size their steps from stable's replicas, read again when a run starts.
        self.plan: list[RolloutStep] = []
        self.steps: list[Step] = []
        self._ends: dict[int, RolloutStep] = {}
        self._replan(self._stable_replicas())
        self._listening = False  # act on requests from the journal
        self._promoting = False

    @property
    def steps_total(self) -> int:
        return max((s.number for s in self.plan), default=0)

    def _stable_replicas(self) -> int:
        """What pod strategies size their batches by (0 when no Deployment is read)."""
        if self.pods is None or self.spec.app.stable.deployment is None:
            return 0
        try:
            return self.pods.get("stable").replicas or 0
        except UserError:
            return 0

    # ---------------------------------------------------------------- entry points

    def run(self, *, promote_by: Actor | None = None) -> Report:
        """Run (or resume) the rollout; with `promote_by`, skip its remaining steps."""
        try:
            return self._run(promote_by)
        except _StopError as stop:
            raise stop.error from None

    def _run(self, promote_by: Actor | None) -> Report:
        state = self._new_state()
        self._begin(state)
        self._listening = True
        report: Report
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
                self._retire(state, "stable", _scale_down_delay(self.spec))
        except _RouteStuckError as stuck:
            # Shadow's end: the mirror would not go; trying again on the way back is no use.
            report = self._route_report(state, RolloutStatus.FAILED, stuck.reason, None, on=True)
        except AbortError as abort:
            report = self._roll_back(state, abort)
        except KeyboardInterrupt:
            self._journal(state.steps_done, Phase.PAUSED, self._last(state), reason="interrupted")
            raise
        else:
            report = self._succeeded(state)
        self._journal(
            state.steps_done, Phase(report.status.value), self._last(state), report.reason
        )
        return report

    def promote(self, by: Actor) -> Report:
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
            self._converge(state, -1, ALL_STABLE)
        except (AbortError, EksupError) as error:
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
        return self._weights_report(state, RolloutStatus.ROLLED_BACK, reason, None)

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
            self._converge(state, -1, ALL_STABLE)
        except (AbortError, EksupError) as error:
            state.notes.append(f"traffic NOT confirmed back on stable ({error})")
            report = self._weights_report(state, RolloutStatus.FAILED, reason, None)
        else:
            self._retire(state, "candidate")
            report = self._weights_report(state, RolloutStatus.ROLLED_BACK, reason, None)
        self._journal(state.steps_done, Phase(report.status.value), report.final_weights, reason)
        if self.journal is not None:
            self.journal.record_action("rolled-back", by)
        return report

    def end_route(self) -> str:
        """`rollout abort` of A/B and shadow: the route removed now and read back gone."""
        if self.route is None:
            raise UserError(f"the {self.spec.strategy.kind} strategy turns no route on")
        state = RunState.starting(self.clock, self.spec.deadlines.total_seconds)
        try:
            self._converge_route(state, self.route, on=False)
        except AbortError:
            reading = self.router.read_route(self.route)
            raise UserError(
                f"route not confirmed off: {self.router.name} reads {reading.detail}"
            ) from None
        detail = state.events[-1].detail
        return f"{self.spec.app.name}: {self.spec.strategy.kind} route off ({detail})"

    # ---------------------------------------------------------------- state

    @property
    def _app(self) -> str:
        return f"{self.spec.app.namespace}/{self.spec.app.name}"

    def _new_state(self) -> RunState:
        """Reading first also proves the spec matches the service (records exist, the rule
        forwards only to the two groups, the Deployments exist) before anything changes."""
        state = RunState.starting(self.clock, self.spec.deadlines.total_seconds)
        now = state.started_at
        if self.route is not None:
            found = self.router.read_route(self.route)
            state.events.append(RouteEvent(now, "found", found.detail))
        elif self.moves_pods:
            plan = self._need_pods().plan()
            if plan.refusal is not None:
                raise UserError(plan.refusal)
            state.original = plan.original
            self._replan(plan.original)
            self.router.set_weights(Weights(plan.original, 0))
            state.history.append(WeightChange(now, 0, self.router.read_weights()))
        else:
            state.history.append(WeightChange(now, 0, self.router.read_weights()))
        return state

    def _replan(self, replicas: int) -> None:
        self.plan = steps_of(self.spec.strategy, replicas)
        self.steps = weight_steps(self.plan)
        # A step is done once its last typed step is (the final scale-down apart).
        self._ends = {s.number: s for s in self.plan if not isinstance(s, Retire)}

    def _recorded(self) -> RolloutState | None:
        return self.journal.read() if self.journal is not None else None

    def _last(self, state: RunState) -> Weights | None:
        return state.history[-1].weights if state.history else None

    def _begin(self, state: RunState) -> None:
        if self.journal is None:
            return
        current = self.journal.read()
        if current is not None and current.resumable and not self.moves_pods:
            state.steps_done = current.step
            if state.steps_done:
                state.notes.append(f"resumed after step {state.steps_done}")
            self.journal.record(state.steps_done, Phase.RUNNING, None, self.clock.now(), reason="")
        else:
            # Pod strategies start over: their batches are sized from what they read now, and
            # `_new_state` refused a half-done one (the candidate already has replicas).
            self.journal.start(self.steps_total, Actor(self.who, self.clock.now()))

    def _journal(
        self, step: int, status: Phase, weights: Weights | None, reason: str | None = None
    ) -> None:
        if self.journal is not None:
            self.journal.record(step, status.value, weights, self.clock.now(), reason=reason)

    def _checkpoint(self) -> None:
        """Renew the lock; act on a request another machine left in the journal."""
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
            raise AbortError(f"aborted by {by.who}")
        if not self._promoting:
            self.journal.clear_request()
            raise _PromoteError(by)

    def _sleep(self, seconds: float) -> None:
        """Sleep through the Clock in slices, checking in between (lock, requests)."""
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self.clock.sleep(min(left, CHECK_EVERY_SECONDS))
            self._checkpoint()

    def _give_up(self, state: RunState) -> float:
        return min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)

    # ---------------------------------------------------------------- steps

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

    def _do(self, state: RunState, step: RolloutStep) -> None:
        number = step.number
        if number != state.current:
            state.current = number
            state.give_up = self._give_up(state)
        if isinstance(step, SetWeights):
            try:
                self._converge(state, number, step.weights)
            except EksupError as error:
                raise AbortError(f"step {number} ({step.weights}): {error}") from None
        elif isinstance(step, SetRoute):
            self._set_route(state, step)
        elif isinstance(step, Scale | AwaitRoom | AwaitGone | AwaitReady):
            try:
                self._pod_step(state, step)
            except EksupError as error:
                # A Deployment gone or a scale refused mid-way: back to stable like a gate.
                raise AbortError(str(error)) from None
        elif isinstance(step, Pause):
            self._pause(state, number, step.seconds)
        elif isinstance(step, Analysis):
            analyse(
                self.gates,
                self.clock,
                give_up=self._give_up(state),
                label=step.label,
                tally=state.tally,
                sleep=self._sleep,
            )
        else:
            self._retire(state, step.side, step.delay)
        if number > 0 and step is self._ends.get(number):
            state.steps_done = number
            if self.journal is not None:
                self._journal(number, Phase.RUNNING, self._last(state))

    def _pod_step(self, state: RunState, step: Scale | AwaitRoom | AwaitGone | AwaitReady) -> None:
        if isinstance(step, Scale):
            self._scale(state, step)
        elif isinstance(step, AwaitRoom):
            self._need_pods().wait_for_room(
                state, step.number, step.stable_after, step.min_ready, state.give_up
            )
        elif isinstance(step, AwaitGone):
            self._need_pods().wait_gone(state, step.side, state.give_up)
        else:
            self._await_ready(state, step)

    def _need_pods(self) -> Deployments:
        if self.pods is None:
            raise UserError(
                f"the {self.spec.strategy.kind} strategy scales Deployments: give a cluster"
            )
        return self.pods

    def _converge(self, state: RunState, number: int, weights: Weights) -> None:
        """Write `weights` (unless the service already has them), then read back until they
        show; raises AbortError past `converge_seconds`."""
        live = self.router.read_weights()
        if not verified(weights, live):
            # Checked on both sides of the write: an abort requested while the write was on
            # its way is seen before the run goes on, and undoes the write.
            self._checkpoint()
            self.log(f"set weights {weights}: {self.router.describe_weights(weights)}")
            self.router.set_weights(weights)
            self._checkpoint()
        give_up = self.clock.now() + self.spec.deadlines.converge_seconds
        while True:
            live = self.router.read_weights()
            if verified(weights, live):
                state.history.append(WeightChange(self.clock.now(), number, live))
                return
            if self.clock.now() + CONVERGE_POLL_SECONDS > give_up:
                raise AbortError(f"wrote {weights} but the service still reads {live}")
            self._sleep(CONVERGE_POLL_SECONDS)

    def _set_route(self, state: RunState, step: SetRoute) -> None:
        if not step.on:
            if not self._route_off(state):
                raise _RouteStuckError
            return
        try:
            self._converge_route(state, step.kind, on=True)
        except UserError as error:
            # Refused before anything was written (a taken priority, too many conditions, no
            # rule forwarding to stable): a spec to fix, not an experiment that failed.
            if self.router.read_route(step.kind).off:
                raise
            raise AbortError(f"turning the route on: {error}") from None
        except EksupError as error:
            raise AbortError(f"turning the route on: {error}") from None

    def _converge_route(self, state: RunState, kind: RouteKind, *, on: bool) -> None:
        """Turn the route on or off (unless the service has it so already), then read back
        until it shows; raises AbortError past `converge_seconds`."""
        change = "on" if on else "off"

        def reached() -> tuple[bool, str]:
            reading = self.router.read_route(kind)
            return (reading.on if on else reading.off), reading.detail

        if not reached()[0]:
            if kind == "header":
                self.router.set_header_route(on)
            else:
                self.router.set_mirror_route(on)
        give_up = self.clock.now() + self.spec.deadlines.converge_seconds
        while True:
            done, detail = reached()
            if done:
                state.events.append(RouteEvent(self.clock.now(), change, detail))
                return
            if self.clock.now() + CONVERGE_POLL_SECONDS > give_up:
                raise AbortError(f"turned the route {change} but it reads: {detail}")
            self.clock.sleep(CONVERGE_POLL_SECONDS)

    def _route_off(self, state: RunState) -> bool:
        assert self.route is not None
        try:
            self._converge_route(state, self.route, on=False)
        except (AbortError, EksupError) as error:
            reason = error.reason if isinstance(error, AbortError) else str(error)
            state.notes.append(
                f"route NOT confirmed off ({reason}); remove it by hand: "
                f"{self.router.describe_route(self.route, False)}"
            )
            return False
        return True

    def _scale(self, state: RunState, step: Scale) -> None:
        if step.replicas is None:
            if self.pods is None or None in self.pods.names.values():
                return  # nothing to bring up: the spec names no Deployments, or no cluster
            pods = self.pods
            # Blue/green: the candidate at stable's replicas before the switch, never less.
            want = pods.get("stable").replicas or 0
            have = pods.get(step.side).replicas or 0
            if have < want:
                pods.scale(state, step.number, step.side, want)
                state.pending_note = (
                    f"candidate {pods.name(step.side)} scaled from {have} to {want} replicas "
                    "(stable's) and Ready before the switch"
                )
            return
        pods = self._need_pods()
        pods.scale(state, step.number, step.side, step.replicas)
        if self.moves_pods:
            self.router.set_weights(pods.record(state, step.number, step.side, step.replicas))

    def _await_ready(self, state: RunState, step: AwaitReady) -> None:
        if step.replicas is None and state.pending_note is None:
            return  # nothing was scaled: the candidate had enough already
        pods = self._need_pods()
        # None: the candidate at stable's replicas (blue/green before its switch).
        want = step.replicas if step.replicas is not None else pods.get("stable").replicas or 0
        if self.empties_a_side:
            pods.wait_first_ready(state, step.side, state.give_up)
        try:
            pods.wait_ready(step.side, want, state.give_up)
        except AbortError as error:
            if step.number == 0:
                raise AbortError(f"scaling the candidate up before the switch: {error}") from None
            raise
        if state.pending_note is not None:
            state.notes.append(state.pending_note)
            state.pending_note = None

    def _pause(self, state: RunState, number: int, seconds: float) -> None:
        remaining = state.deadline - self.clock.now()
        if seconds > remaining:
            self._sleep(max(remaining, 0.0))
            raise AbortError(f"the rollout deadline passed during the pause of step {number}")
        self._sleep(seconds)

    # ---------------------------------------------------------------- endings

    def _promote_now(self, state: RunState, by: Actor) -> None:
        """Skip the remaining steps: all traffic on the candidate, read back. A human's abort
        still counts while this converges and while stable waits to be retired."""
        self._promoting = True
        if self.journal is not None:
            self.journal.record_action("promoted", by)
        total = len(self.steps)
        done = state.steps_done
        try:
            self._converge(state, total, ALL_CANDIDATE)
        except EksupError as error:
            raise AbortError(f"promote ({ALL_CANDIDATE}): {error}") from None
        state.notes.append(f"promoted by {by.who} after step {done} of {total} had passed")
        state.steps_done = total
        self._journal(total, Phase.RUNNING, state.history[-1].weights)

    def _roll_back(self, state: RunState, abort: AbortError) -> Report:
        """The way back is what the steps changed: the route removed, the weights back on
        stable (then the candidate retired), stable's pods restored (then the candidate to 0)."""
        self._listening = False  # already on the way back: no request changes that
        if self.route is not None:
            off = self._route_off(state)
            status = RolloutStatus.ROLLED_BACK if off else RolloutStatus.FAILED
            return self._route_report(state, status, abort.reason, abort.result, on=not off)
        if self.moves_pods:
            return self._restore_pods(state, abort)
        status = RolloutStatus.ROLLED_BACK
        try:
            self._converge(state, -1, ALL_STABLE)
        except (AbortError, EksupError) as error:
            status = RolloutStatus.FAILED
            state.notes.append(
                f"traffic NOT confirmed back on stable ({error}); the candidate was left "
                "running: set the weights by hand, then scale it down"
            )
        else:
            self._retire(state, "candidate")
        return self._weights_report(state, status, abort.reason, abort.result)

    def _restore_pods(self, state: RunState, abort: AbortError) -> RolloutReport:
        pods = self._need_pods()
        status = RolloutStatus.ROLLED_BACK
        give_up = self.clock.now() + self.spec.deadlines.step_seconds
        try:
            self._scale(state, Scale(-1, "stable", state.original))
            pods.wait_ready("stable", state.original, give_up)
        except (AbortError, EksupError) as error:
            status = RolloutStatus.FAILED
            state.notes.append(
                f"stable NOT confirmed back at {state.original} Ready pods ({error}); the "
                "candidate was left running: scale it down by hand once stable serves"
            )
        else:
            try:
                self._scale(state, Scale(-1, "candidate", 0))
            except EksupError as error:
                state.notes.append(f"candidate {pods.name('candidate')} not scaled down: {error}")
        if self.empties_a_side:
            pods.watch_downtime(state)
        return self._weights_report(state, status, abort.reason, abort.result)

    def _succeeded(self, state: RunState) -> Report:
        if self.route is None:
            return self._weights_report(state, RolloutStatus.SUCCEEDED, "", None)
        if any(isinstance(s, SetRoute) and not s.on for s in self.plan):
            return self._route_report(state, RolloutStatus.SUCCEEDED, "", None, on=False)
        state.notes.append(
            f"the A/B route stays on ({self.router.describe_route(self.route, True)}); "
            "`eksup rollout abort SPEC` removes it"
        )
        return self._route_report(state, RolloutStatus.SUCCEEDED, "", None, on=True)

    def _refuse_if_stable_cannot_serve(self) -> None:
        if self.pods is None or self.spec.app.stable.deployment is None:
            return
        name = f"{self.spec.app.namespace}/{self.spec.app.stable.deployment}"
        try:
            workload = self.pods.get("stable")
        except UserError:
            raise RefusedError(
                f"stable Deployment {name} not found: no traffic was moved"
            ) from None
        if workload.ready_replicas == 0:
            raise RefusedError(
                f"stable Deployment {name} has no Ready pods: sending it all "
                "traffic would fail every request; no traffic was moved. After a finished "
                "rollout use `eksup rollout rollback`, which scales it back up first"
            )

    def _restore_stable(self, state: RunState, current: RolloutState) -> None:
        """Scale stable back to its size before the rollout and wait until it is Ready."""
        if self.pods is None or self.spec.app.stable.deployment is None:
            return
        pods = self.pods
        name = f"stable Deployment {self.spec.app.namespace}/{self.spec.app.stable.deployment}"
        try:
            workload = pods.get("stable")
        except UserError:
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
            self.pods.cluster.scale_workload(workload.kind, workload.namespace, workload.name, want)
            state.notes.append(f"{name} scaled back to {want} replicas")
        give_up = self.clock.now() + self.spec.deadlines.step_seconds
        try:
            pods.wait_ready("stable", want, give_up, sleep=self._sleep)
        except AbortError:
            workload = pods.get("stable")
            raise PermanentError(
                f"{name}: {workload.ready_replicas}/{want} pods Ready after "
                f"{self.spec.deadlines.step_seconds:g}s; traffic left on the candidate"
            ) from None

    def _retire(self, state: RunState, side: Side, delay: float = 0.0) -> None:
        """Scale down `side` after the drain delay, if the spec names its Deployment and the
        live weights, read again after the delay, send it nothing."""
        app = self.spec.app
        deployment = (app.candidate if side == "candidate" else app.stable).deployment
        if deployment is None or self.pods is None:
            return
        self._sleep(max(self.router.drain_seconds, delay))
        try:
            live = self.router.read_weights()
        except EksupError as error:
            state.notes.append(f"{side} {deployment} kept: cannot read the weights ({error})")
            return
        if (live.candidate if side == "candidate" else live.stable) != 0:
            state.notes.append(f"{side} {deployment} kept: it still receives traffic ({live})")
            return
        try:
            before = self.pods.get(side)
        except UserError:
            state.notes.append(f"{side} Deployment {app.namespace}/{deployment} not found")
            return
        try:
            if side == "stable" and self.journal is not None:
                # Kept before it changes: the one fact a rollback cannot re-derive.
                self.journal.record_stable_replicas(deployment, before.replicas)
            self.log(f"scale {side} Deployment {app.namespace}/{deployment} to 0")
            self.pods.cluster.scale_workload(before.kind, app.namespace, deployment, 0)
        except NotFoundError:
            state.notes.append(f"{side} Deployment {app.namespace}/{deployment} not found")
            return
        except EksupError as error:
            state.notes.append(f"{side} {deployment} not scaled down: {error}")
            return
        state.scaled_down.append(
            ScaleDown(app.namespace, deployment, before.replicas, self.clock.now())
        )

    # ---------------------------------------------------------------- reports

    def _weights_report(
        self, state: RunState, status: RolloutStatus, reason: str, failed: GateResult | None
    ) -> RolloutReport:
        if self.empties_a_side and state.zero_ready_since is not None:
            state.downtime += self.clock.now() - state.zero_ready_since
            state.zero_ready_since = None
            state.notes.append("no pod was Ready when the rollout ended")
        return state.report(
            self.spec.app.name,
            status,
            reason,
            failed,
            steps_total=self.steps_total if self.moves_pods else len(self.steps),
            finished_at=self.clock.now(),
            downtime=self.empties_a_side,
        )

    def _route_report(
        self,
        state: RunState,
        status: RolloutStatus,
        reason: str,
        failed: GateResult | None,
        *,
        on: bool,
    ) -> ExperimentReport:
        return ExperimentReport(
            app=self.spec.app.name,
            strategy=self.spec.strategy.kind,
            status=status,
            history=tuple(state.events),
            route_on=on,
            reason=reason,
            failed_gate=failed.gate if failed is not None else None,
            culprits=failed.culprits if failed is not None else (),
            gate_results=tuple(state.tally.results),
            notes=tuple(state.notes),
            started_at=state.started_at,
            finished_at=self.clock.now(),
        )


class _RouteStuckError(AbortError):
    """Shadow's end could not remove the mirror: the run fails, whatever the gates said."""

    def __init__(self) -> None:
        super().__init__("the mirror could not be removed")


def _scale_down_delay(spec: RolloutSpec) -> float:
    return float(getattr(spec.strategy, "scale_down_delay_seconds", 0.0))


def build_runner(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    metrics: Metrics,
    clock: Clock,
    dns: Dns | None = None,
    cluster: Cluster | None = None,
    journal: bool = False,
    keepalive: Callable[[], None] | None = None,
    who: str = "eksup",
    log: Log = _nothing,
    http: HttpProbe | None = None,
) -> StepLoop:
    """Wire the loop from a spec and the ports, any strategy; refuses impossible
    strategy/router pairs.

    `journal=True` (needs `cluster`) records each completed step in the app's journal and
    resumes an unfinished rollout of the same app from its last completed step (rolling and
    recreate refuse to start over a half-done rollout instead)."""
    router = router_for(spec, load_balancers=load_balancers, dns=dns, clock=clock, cluster=cluster)
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
    return StepLoop(
        spec,
        router=router,
        gates=gates,
        clock=clock,
        cluster=cluster,
        journal=state,
        keepalive=keepalive,
        who=who,
        log=log,
    )


def end_route(
    spec: RolloutSpec, *, load_balancers: LoadBalancers, cluster: Cluster | None, clock: Clock
) -> str:
    """`rollout abort` for A/B and shadow: remove the route now and read it back gone."""
    router = router_for(spec, load_balancers=load_balancers, clock=clock, cluster=cluster)
    return StepLoop(spec, router=router, gates=(), clock=clock, cluster=cluster).end_route()
