"""What each typed step does, for the one step loop (`strategies.loop`): set and read back
weights, turn a route on or off and read it back, scale and wait for Deployments, pause with
the lock renewed and requests heard, and scale down the side that no longer gets traffic.

`StepActions` holds what a run is wired to (router, gates, clock, cluster, journal, lock
keep-alive) and the typed steps it runs; `StepLoop` adds the run's flow and its endings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from strategies.gates.kinds import Gate
from strategies.registry import steps_of
from strategies.run.deployments import Deployments
from strategies.run.journal import Actor, Phase, Request, RolloutJournal, RolloutState
from strategies.run.outcome import AbortError, RunState, analyse
from strategies.run.report import (
    ExperimentReport,
    RolloutReport,
    RouteEvent,
    ScaleDown,
    WeightChange,
)
from strategies.spec import RolloutSpec
from strategies.steps import (
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
from upgrader.core.errors import EksupError, NotFoundError, UserError
from upgrader.core.ports import Clock, Cluster

Log = Callable[[str], None]

# Between two read-backs of a change that has not shown up yet.
CONVERGE_POLL_SECONDS = 5.0
# A waiting run renews its lock and looks for promote/abort requests this often; well inside
# the lock's 30 s renewal period, and a human's abort takes effect within it.
CHECK_EVERY_SECONDS = 10.0

Report = RolloutReport | ExperimentReport


class LockLostError(Exception):
    """The lock was lost: stop at once, changing nothing more (not even a rollback)."""

    def __init__(self, error: EksupError) -> None:
        super().__init__(str(error))
        self.error = error


class PromoteRequestedError(Exception):
    """A human asked to skip the remaining steps."""

    def __init__(self, by: Actor) -> None:
        super().__init__(f"promoted by {by.who}")
        self.by = by


def nothing(_: str) -> None:
    pass


class RouteStuckError(AbortError):
    """Shadow's end could not remove the mirror: the run fails, whatever the gates said."""

    def __init__(self) -> None:
        super().__init__("the mirror could not be removed")


def scale_down_delay(spec: RolloutSpec) -> float:
    return float(getattr(spec.strategy, "scale_down_delay_seconds", 0.0))


class StepActions:
    """The wiring of one rollout and what each of its typed steps does."""

    def __init__(
        self,
        spec: RolloutSpec,
        *,
        router: TrafficRouter,
        gates: Sequence[Gate],
        clock: Clock,
        cluster: Cluster | None = None,
        journal: RolloutJournal | None = None,
        keepalive: Callable[[], None] | None = None,
        who: str = "eksup",
        log: Log = nothing,
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
        # Told the number of each step as it begins (a dry run's trace says where each
        # change it records would be made).
        self.on_step: Callable[[int], None] | None = None

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

    @property
    def _app(self) -> str:
        return f"{self.spec.app.namespace}/{self.spec.app.name}"

    def _replan(self, replicas: int) -> None:
        self.plan = steps_of(self.spec.strategy, replicas)
        self.steps = weight_steps(self.plan)
        # A step is done once its last typed step is (the final scale-down apart).
        self._ends = {s.number: s for s in self.plan if not isinstance(s, Retire)}

    def _recorded(self) -> RolloutState | None:
        return self.journal.read() if self.journal is not None else None

    def _last(self, state: RunState) -> Weights | None:
        return state.history[-1].weights if state.history else None

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
                raise LockLostError(error) from None
        if self.journal is None or not self._listening:
            return
        pending = self.journal.pending()
        # An abort wins over a promote asked at the same time: the safe way first.
        for request in sorted(pending, key=lambda r: r.outcome != Request.ABORT.value):
            by = Actor(request.data.get("by", "unknown"), request.at)
            if request.outcome == Request.ABORT.value:
                self.journal.answer(request, "aborted")
                self.journal.record_action("aborted", by)
                raise AbortError(f"aborted by {by.who}")
            if self._promoting:
                self.journal.answer(request, "promoting already")
                continue
            self.journal.answer(request, "promoted")
            raise PromoteRequestedError(by)

    def _sleep(self, seconds: float) -> None:
        """Sleep through the Clock in slices, checking in between (lock, requests)."""
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self.clock.sleep(min(left, CHECK_EVERY_SECONDS))
            self._checkpoint()

    def _give_up(self, state: RunState) -> float:
        return min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)

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
            if self.on_step is not None:
                self.on_step(number)
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
                before = "scaling the candidate up before the switch: " if number == 0 else ""
                raise AbortError(f"{before}{error}") from None
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
                raise RouteStuckError
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
            self.log(f"turn the {kind} route {change}: {self.router.describe_route(kind, on)}")
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
            self.log(
                f"scale {side} Deployment {app.namespace}/{deployment} from {before.replicas} to 0"
            )
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
