"""Run a rollout: shift traffic step by step, prove each shift, bake, gate; roll back on failure.

Order of safety, on every path:
1. A weight change counts only once it is read back from the service (convergence).
2. An abort (failed gate, passed deadline, a shift that would not converge) puts all traffic
   back on stable first and reads it back; only then, after the provider's drain delay
   (stickiness, DNS TTL), is the candidate scaled down.
3. A side is never scaled down while the live weights still send it traffic; if traffic cannot
   be confirmed on stable, nothing is scaled down and the report says a human is needed.

The runner takes ports and plain values only (`TrafficProvider`, `Gate`, `Clock`, `Cluster`),
so the same code runs on AWS, on moto and on the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from strategies.gates import Gate, GateResult, Verdict, gates_for
from strategies.providers import TrafficProvider, provider_for
from strategies.spec import COMPUTE_STRATEGIES, RolloutSpec
from strategies.steps import ALL_STABLE, Step, Weights, steps_for
from upgrader.errors import EksupError, NotFoundError, UserError
from upgrader.kube import ConfigMap, WorkloadKind
from upgrader.ports import Clock, Cluster, Dns, HttpProbe, LoadBalancers, Metrics

if TYPE_CHECKING:
    from strategies.compute import ComputeRunner

_Reached = Callable[[Weights], bool]

# Between two read-backs of a change that has not shown up yet.
CONVERGE_POLL_SECONDS = 5.0


class RolloutStatus(StrEnum):
    SUCCEEDED = "succeeded"  # all traffic on the candidate, read back
    ROLLED_BACK = "rolled-back"  # aborted; all traffic back on stable, read back
    FAILED = "failed"  # aborted, and stable could not be confirmed: a human must look


@dataclass(frozen=True)
class WeightChange:
    at: float
    step: int  # 0: the weights found before the rollout; -1: the rollback
    weights: Weights  # as read back from the service


@dataclass(frozen=True)
class ScaleDown:
    namespace: str
    deployment: str
    from_replicas: int | None
    at: float


@dataclass(frozen=True)
class RolloutReport:
    app: str
    status: RolloutStatus
    steps_done: int
    steps_total: int
    history: tuple[WeightChange, ...]
    reason: str = ""
    failed_gate: str | None = None
    culprits: tuple[str, ...] = ()  # the alarms in ALARM, the unhealthy targets
    scaled_down: tuple[ScaleDown, ...] = ()
    gate_results: tuple[GateResult, ...] = ()
    notes: tuple[str, ...] = ()
    started_at: float = 0.0
    finished_at: float = 0.0
    # Recreate only: virtual or wall seconds during which no pod of either side was Ready.
    downtime_seconds: float | None = None

    @property
    def final_weights(self) -> Weights | None:
        return self.history[-1].weights if self.history else None

    def summary(self) -> str:
        line = f"{self.app}: {self.status.value} after {self.steps_done}/{self.steps_total} steps"
        if self.final_weights is not None:
            line += f", {self.final_weights}"
        if self.failed_gate:
            line += f"; gate {self.failed_gate}"
        if self.reason:
            line += f": {self.reason}"
        if self.downtime_seconds is not None:
            line += f"; downtime {self.downtime_seconds:.0f}s"
        return line


class _AbortError(Exception):
    def __init__(self, reason: str, result: GateResult | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


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


class Journal:
    """The last completed step of a rollout, in a ConfigMap next to the app, so a rollout killed
    mid-way resumes from there, from any machine. Only the step number is kept: the weights
    are re-read from the service, never trusted from the journal."""

    def __init__(self, cluster: Cluster, namespace: str, app: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = f"eksup-rollout-{app}"

    def completed_step(self) -> int:
        """The last completed step of an unfinished rollout; 0 when none is in progress."""
        try:
            data = self.cluster.get_config_map(self.namespace, self.name).data
        except NotFoundError:
            return 0
        if data.get("status") != "running":
            return 0
        return int(data.get("step", "0"))

    def record(self, step: int, status: str, weights: Weights | None, at: float) -> None:
        data = {"step": str(step), "status": status, "updated": f"{at:.0f}"}
        if weights is not None:
            data["weights"] = f"{weights.stable}/{weights.candidate}"
        self.cluster.apply_config_map(ConfigMap(self.namespace, self.name, data))


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
    ) -> None:
        self.spec = spec
        self.journal = journal
        self.provider = provider
        self.gates = tuple(gates)
        self.clock = clock
        self.cluster = cluster
        self.steps: list[Step] = steps_for(spec.strategy)

    def run(self) -> RolloutReport:
        now = self.clock.now()
        state = _State(started_at=now, deadline=now + self.spec.deadlines.total_seconds)
        # Reading first also proves the spec matches the service (records exist, the rule
        # forwards only to the two groups) before anything changes.
        state.history.append(WeightChange(now, 0, self.provider.read()))
        state.steps_done = self.journal.completed_step() if self.journal is not None else 0
        try:
            self._scale_up_candidate(state)
            # Before any traffic moves (or moves again): the candidate healthy, alarms quiet.
            self._gate(state, state.steps_done)
            for step in self.steps[state.steps_done :]:
                self._shift(state, step.number, step.weights)
                self._pause(state, step)
                self._gate(state, step.number)
                state.steps_done = step.number
                self._journal(step.number, "running", state.history[-1].weights)
        except _AbortError as abort:
            report = self._roll_back(state, abort)
        else:
            report = self._promote(state)
        self._journal(report.steps_done, report.status.value, report.final_weights)
        return report

    def _scale_up_candidate(self, state: _State) -> None:
        """Blue/green: the candidate at stable's replicas and Ready before the switch."""
        if self.cluster is None or state.steps_done:
            return
        from strategies.compute import AbortError, scale_candidate_to_stable

        give_up = min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)
        try:
            note = scale_candidate_to_stable(self.spec, self.cluster, self.clock, give_up)
        except (AbortError, EksupError) as error:
            raise _AbortError(f"scaling the candidate up before the switch: {error}") from None
        if note is not None:
            state.notes.append(note)

    def _journal(self, step: int, status: str, weights: Weights | None) -> None:
        if self.journal is not None:
            self.journal.record(step, status, weights, self.clock.now())

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
            self.provider.apply(weights)
        give_up = self.clock.now() + self.spec.deadlines.converge_seconds
        while True:
            live = self.provider.read()
            if reached(live):
                state.history.append(WeightChange(self.clock.now(), number, live))
                return
            if self.clock.now() + CONVERGE_POLL_SECONDS > give_up:
                raise _AbortError(f"wrote {weights} but the service still reads {live}")
            self.clock.sleep(CONVERGE_POLL_SECONDS)

    def _pause(self, state: _State, step: Step) -> None:
        remaining = state.deadline - self.clock.now()
        if step.pause_seconds > remaining:
            self.clock.sleep(max(remaining, 0.0))
            raise _AbortError(f"the rollout deadline passed during the pause of step {step.number}")
        self.clock.sleep(step.pause_seconds)

    def _gate(self, state: _State, number: int) -> None:
        """Evaluate every gate until all pass; a gate at its failure limit, or the step or
        rollout deadline passing while gates pause or re-check, aborts."""
        if not self.gates:
            return
        give_up = min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)
        while True:
            waiting: list[tuple[Gate, GateResult]] = []
            for gate in self.gates:
                result = _evaluate(gate)
                state.results.append(result)
                if result.verdict is Verdict.FAIL:
                    failures = state.failures.get(gate.name, 0) + 1
                    state.failures[gate.name] = failures
                    if failures >= gate.failure_limit:
                        raise _AbortError(
                            f"step {number}: {result.reason} "
                            f"(failure {failures} of {gate.failure_limit})",
                            result,
                        )
                if result.verdict is not Verdict.PASS:
                    waiting.append((gate, result))
            if not waiting:
                return
            wait = min(gate.interval_seconds for gate, _ in waiting)
            if self.clock.now() + wait > give_up:
                gate, result = waiting[0]
                raise _AbortError(
                    f"step {number}: deadline passed waiting on {gate.name}: {result.reason}",
                    result,
                )
            self.clock.sleep(wait)

    # ---------------------------------------------------------------- endings

    def _roll_back(self, state: _State, abort: _AbortError) -> RolloutReport:
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

    def _promote(self, state: _State) -> RolloutReport:
        self._retire(state, "stable")
        return self._report(state, RolloutStatus.SUCCEEDED, "", None)

    def _retire(self, state: _State, side: str) -> None:
        """Scale down `side` after the drain delay, if the spec names its Deployment and the
        live weights, read again after the delay, send it nothing."""
        app = self.spec.app
        deployment = (app.candidate if side == "candidate" else app.stable).deployment
        if deployment is None or self.cluster is None:
            return
        delay = self.provider.drain_seconds
        if side == "stable":
            delay = max(delay, _scale_down_delay(self.spec))
        self.clock.sleep(delay)
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


def _evaluate(gate: Gate) -> GateResult:
    """A gate that cannot be evaluated counts as failed: an unreadable alarm is no pass."""
    try:
        return gate.evaluate()
    except EksupError as error:
        return GateResult(gate.name, Verdict.FAIL, f"cannot evaluate: {error}")


def _scale_down_delay(spec: RolloutSpec) -> float:
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
    http: HttpProbe | None = None,
) -> RolloutRunner | ComputeRunner:
    """Wire a runner from a spec and the ports; refuses impossible strategy/provider pairs.

    `journal=True` (needs `cluster`) records each completed step in a ConfigMap and resumes
    an unfinished rollout of the same app from its last completed step (traffic strategies;
    rolling and recreate refuse to start over a half-done rollout instead)."""
    if isinstance(spec.strategy, COMPUTE_STRATEGIES):
        from strategies.compute import build_compute_runner

        return build_compute_runner(
            spec,
            metrics=metrics,
            load_balancers=load_balancers,
            clock=clock,
            cluster=cluster,
            http=http,
        )
    provider = provider_for(spec, load_balancers=load_balancers, dns=dns, clock=clock)
    gates = gates_for(
        spec,
        metrics=metrics,
        load_balancers=load_balancers,
        clock=clock,
        cluster=cluster,
        http=http,
    )
    log = None
    if journal:
        if cluster is None:
            raise UserError("a rollout journal lives in the cluster: give a cluster")
        log = Journal(cluster, spec.app.namespace, spec.app.name)
    return RolloutRunner(
        spec, provider=provider, gates=gates, clock=clock, cluster=cluster, journal=log
    )
