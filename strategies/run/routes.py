"""Run the strategies that do not move weights: A/B (a header routes to B) and shadow (a copy
of the traffic to B, whose answers are dropped).

One shape for both: check the gates, turn the route on and read it back, bake, check the gates
again, then end. Order of safety:
1. A route counts as on only once it is read back from the service exactly as written (and,
   on a Gateway, accepted by its controller for that generation).
2. A failed gate, a passed deadline or a route that would not read back turns the route off
   and reads it back gone; if that cannot be confirmed the report says a human is needed.
3. Shadow never leaves mirroring on, whatever the outcome. A/B keeps its route after a
   successful bake: that is the experiment running; `eksup rollout abort` ends it.

Nothing here scales a Deployment: both sides keep serving (A all other users, B its segment
or the mirrored copies) until someone decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strategies.gates.decide import GateFailedError, GateTally, await_gates
from strategies.gates.kinds import Gate, GateResult, gates_for
from strategies.registry import steps_of
from strategies.run.report import RolloutStatus
from strategies.spec import (
    AbTest,
    RolloutSpec,
    Shadow,
)
from strategies.steps import Analysis, Pause, RolloutStep, SetRoute
from strategies.traffic.base import RouteReading, SwitchRoute
from strategies.traffic.factory import route_for
from upgrader.core.errors import EksupError, UserError
from upgrader.core.ports import Clock, Cluster, LoadBalancers, Metrics

# Between two read-backs of a route change that has not shown up yet.
READ_BACK_POLL_SECONDS = 5.0


@dataclass(frozen=True)
class RouteEvent:
    at: float
    change: str  # "found", "on", "off"
    detail: str  # as read back


@dataclass(frozen=True)
class ExperimentReport:
    app: str
    strategy: str  # "ab" or "shadow"
    status: RolloutStatus
    history: tuple[RouteEvent, ...]
    route_on: bool  # as last read back
    reason: str = ""
    failed_gate: str | None = None
    culprits: tuple[str, ...] = ()
    gate_results: tuple[GateResult, ...] = ()
    notes: tuple[str, ...] = ()
    started_at: float = 0.0
    finished_at: float = 0.0

    def summary(self) -> str:
        outcome = {
            RolloutStatus.SUCCEEDED: "gates passed",
            RolloutStatus.ROLLED_BACK: "stopped, route removed",
            RolloutStatus.FAILED: "stopped, route NOT confirmed removed",
        }[self.status]
        line = f"{self.app}: {self.strategy} {self.status.value} ({outcome})"
        if self.history:
            line += f"; {self.history[-1].detail}"
        if self.failed_gate:
            line += f"; gate {self.failed_gate}"
        if self.reason:
            line += f": {self.reason}"
        return "\n".join([line, *self.notes])


class _StopError(Exception):
    def __init__(self, reason: str, result: GateResult | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


@dataclass
class _State:
    started_at: float
    deadline: float
    history: list[RouteEvent] = field(default_factory=list)
    tally: GateTally = field(default_factory=GateTally)
    notes: list[str] = field(default_factory=list)


class ExperimentRunner:
    def __init__(
        self, spec: RolloutSpec, *, route: SwitchRoute, gates: Sequence[Gate], clock: Clock
    ) -> None:
        if not isinstance(spec.strategy, AbTest | Shadow):
            raise UserError(f"the {spec.strategy.kind} strategy moves weights: use RolloutRunner")
        self.spec = spec
        self.strategy: AbTest | Shadow = spec.strategy
        self.route = route
        self.gates = tuple(gates)
        self.clock = clock

    def run(self) -> ExperimentReport:
        now = self.clock.now()
        state = _State(started_at=now, deadline=now + self.spec.deadlines.total_seconds)
        # Reading first proves the spec matches the service before anything changes.
        found = self.route.read()
        state.history.append(RouteEvent(now, "found", found.detail))
        steps = steps_of(self.strategy)
        ends_off = isinstance(steps[-1], SetRoute) and not steps[-1].on
        try:
            for step in steps[:-1] if ends_off else steps:
                self._do(state, step)
        except _StopError as stop:
            return self._stop(state, stop)
        if ends_off:
            return self._end_shadow(state)
        state.notes.append(
            f"the A/B route stays on ({self.route.describe_on()}); "
            "`eksup rollout abort SPEC` removes it"
        )
        return self._report(state, RolloutStatus.SUCCEEDED, "", None, route_on=True)

    def _do(self, state: _State, step: RolloutStep) -> None:
        if isinstance(step, Analysis):
            self._gate(state, step.label)
        elif isinstance(step, SetRoute) and step.on:
            self._turn_on(state)
        elif isinstance(step, Pause):
            self._bake(state)
        else:
            raise UserError(f"{self.strategy.kind} cannot run a {type(step).__name__} step")

    # ---------------------------------------------------------------- phases

    def _gate(self, state: _State, label: str) -> None:
        give_up = min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)
        try:
            await_gates(self.gates, self.clock, give_up, label, state.tally)
        except GateFailedError as failed:
            raise _StopError(failed.reason, failed.result) from None

    def _turn_on(self, state: _State) -> None:
        try:
            self._converge(state, "on")
        except UserError as error:
            # Refused before anything was written (a taken priority, too many conditions, no
            # rule forwarding to stable): a spec to fix, not an experiment that failed.
            if self.route.read().off:
                raise
            raise _StopError(f"turning the route on: {error}") from None
        except EksupError as error:
            raise _StopError(f"turning the route on: {error}") from None

    def _bake(self, state: _State) -> None:
        remaining = state.deadline - self.clock.now()
        if self.strategy.pause_seconds > remaining:
            self.clock.sleep(max(remaining, 0.0))
            raise _StopError("the rollout deadline passed during the bake")
        self.clock.sleep(self.strategy.pause_seconds)

    def _converge(self, state: _State, change: str) -> None:
        """Write the change (unless the service has it already), then read back until it shows;
        raises _StopError past `converge_seconds`."""
        want_on = change == "on"

        def reached(reading: RouteReading) -> bool:
            return reading.on if want_on else reading.off

        if not reached(self.route.read()):
            if want_on:
                self.route.turn_on()
            else:
                self.route.turn_off()
        give_up = self.clock.now() + self.spec.deadlines.converge_seconds
        while True:
            reading = self.route.read()
            if reached(reading):
                state.history.append(RouteEvent(self.clock.now(), change, reading.detail))
                return
            if self.clock.now() + READ_BACK_POLL_SECONDS > give_up:
                raise _StopError(f"turned the route {change} but it reads: {reading.detail}")
            self.clock.sleep(READ_BACK_POLL_SECONDS)

    # ---------------------------------------------------------------- endings

    def _turn_off(self, state: _State) -> bool:
        try:
            self._converge(state, "off")
        except (_StopError, EksupError) as error:
            reason = error.reason if isinstance(error, _StopError) else str(error)
            state.notes.append(
                f"route NOT confirmed off ({reason}); remove it by hand: "
                f"{self.route.describe_off()}"
            )
            return False
        return True

    def _stop(self, state: _State, stop: _StopError) -> ExperimentReport:
        off = self._turn_off(state)
        status = RolloutStatus.ROLLED_BACK if off else RolloutStatus.FAILED
        return self._report(state, status, stop.reason, stop.result, route_on=not off)

    def _end_shadow(self, state: _State) -> ExperimentReport:
        if self._turn_off(state):
            return self._report(state, RolloutStatus.SUCCEEDED, "", None, route_on=False)
        return self._report(
            state, RolloutStatus.FAILED, "the mirror could not be removed", None, route_on=True
        )

    def _report(
        self,
        state: _State,
        status: RolloutStatus,
        reason: str,
        failed: GateResult | None,
        *,
        route_on: bool,
    ) -> ExperimentReport:
        return ExperimentReport(
            app=self.spec.app.name,
            strategy=self.strategy.kind,
            status=status,
            history=tuple(state.history),
            route_on=route_on,
            reason=reason,
            failed_gate=failed.gate if failed is not None else None,
            culprits=failed.culprits if failed is not None else (),
            gate_results=tuple(state.tally.results),
            notes=tuple(state.notes),
            started_at=state.started_at,
            finished_at=self.clock.now(),
        )


# wiring ---------------------------------------------------------------------------------------


def is_experiment(spec: RolloutSpec) -> bool:
    """A/B and shadow: strategies that route or copy traffic instead of moving weights."""
    return isinstance(spec.strategy, AbTest | Shadow)


def build_experiment(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    metrics: Metrics,
    clock: Clock,
    cluster: Cluster | None = None,
) -> ExperimentRunner:
    route = route_for(spec, load_balancers=load_balancers, cluster=cluster)
    gates = gates_for(
        spec, metrics=metrics, load_balancers=load_balancers, clock=clock, cluster=cluster
    )
    return ExperimentRunner(spec, route=route, gates=gates, clock=clock)


def end_experiment(
    spec: RolloutSpec, *, load_balancers: LoadBalancers, cluster: Cluster | None, clock: Clock
) -> str:
    """`rollout abort` for A/B and shadow: remove the route now and read it back gone."""
    route = route_for(spec, load_balancers=load_balancers, cluster=cluster)
    if not route.read().off:
        route.turn_off()
    give_up = clock.now() + spec.deadlines.converge_seconds
    while True:
        reading = route.read()
        if reading.off:
            return f"{spec.app.name}: {spec.strategy.kind} route off ({reading.detail})"
        if clock.now() + READ_BACK_POLL_SECONDS > give_up:
            raise UserError(f"route not confirmed off: {route.name} reads {reading.detail}")
        clock.sleep(READ_BACK_POLL_SECONDS)


def plan_lines(spec: RolloutSpec) -> list[tuple[str, str]]:
    """What `rollout plan` shows for A/B and shadow (each strategy's own lines)."""
    from strategies import ab, shadow

    return ab.plan_lines(spec) if isinstance(spec.strategy, AbTest) else shadow.plan_lines(spec)
