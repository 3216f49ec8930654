"""Rollouts that move pods, not traffic weights: rolling and recreate between two Deployments.

The stable and candidate Deployments sit behind one Service, so traffic follows the Ready
pods; eksup changes replica counts only. In the report, a `WeightChange` holds the desired
replicas of each side (stable / candidate): with a shared Service they are the traffic split.

Order of safety:
1. Rolling never has more than `replicas + max_surge` pods desired, and scales stable down only
   by as many pods as the Ready count can lose while staying at `replicas - max_unavailable`.
2. Every batch waits until its candidate pods are Ready, then the gates decide.
3. An abort scales stable back to its original count first and waits until it is Ready; only
   then is the candidate scaled to 0. If stable does not come back, the candidate is kept and
   the report says a human is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from strategies.gates.decide import GateFailedError, GateTally, await_gates
from strategies.gates.kinds import Gate, GateResult, gates_for
from strategies.registry import steps_of
from strategies.rolling import Batch, rolling_batches, rolling_bounds
from strategies.run.report import RolloutReport, RolloutStatus, ScaleDown, WeightChange
from strategies.spec import BlueGreen, Recreate, Rolling, RolloutSpec
from strategies.steps import (
    Analysis,
    AwaitGone,
    AwaitReady,
    AwaitRoom,
    Pause,
    RolloutStep,
    Scale,
    Weights,
)
from strategies.traffic.factory import refusal
from upgrader.core.errors import EksupError, NotFoundError, UserError
from upgrader.core.kube import Workload, WorkloadKind
from upgrader.core.ports import Clock, Cluster, HttpProbe, LoadBalancers, Metrics

# Between two reads of a Deployment's Ready count; also the resolution of recreate's downtime.
READY_POLL_SECONDS = 1.0

_DEPLOYMENT = WorkloadKind.DEPLOYMENT


class AbortError(Exception):
    def __init__(self, reason: str, result: GateResult | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


def wait_ready(
    cluster: Cluster, clock: Clock, namespace: str, name: str, replicas: int, *, give_up: float
) -> Workload:
    """Poll until the Deployment has `replicas` Ready pods; AbortError past `give_up`."""
    while True:
        workload = cluster.get_workload(_DEPLOYMENT, namespace, name)
        if workload.ready_replicas >= replicas:
            return workload
        if clock.now() + READY_POLL_SECONDS > give_up:
            raise AbortError(
                f"{namespace}/{name}: {workload.ready_replicas}/{replicas} pods Ready "
                "when the deadline passed"
            )
        clock.sleep(READY_POLL_SECONDS)


def wait_gone(
    cluster: Cluster,
    clock: Clock,
    workload: Workload,
    give_up: float,
    on_poll: Callable[[], object] = lambda: None,
) -> None:
    """Poll until no pod of the Deployment is left, terminating ones included."""
    selector = str(workload.selector)
    while True:
        on_poll()
        pods = cluster.list_pods(workload.namespace, label_selector=selector)
        if not pods:
            return
        if clock.now() + READY_POLL_SECONDS > give_up:
            raise AbortError(
                f"{workload.namespace}/{workload.name}: {len(pods)} pod(s) still there "
                "when the deadline passed"
            )
        clock.sleep(READY_POLL_SECONDS)


def run_gates(
    gates: Sequence[Gate],
    clock: Clock,
    *,
    give_up: float,
    label: str,
    failures: dict[str, int],
    results: list[GateResult],
) -> None:
    """Evaluate every gate until all pass (`strategies.gates.decide`'s rules); a gate at its failure
    limit, or `give_up` passing while gates pause or re-check, raises AbortError."""
    try:
        await_gates(gates, clock, give_up, label, GateTally(results, failures))
    except GateFailedError as failed:
        raise AbortError(failed.reason, failed.result) from None


@dataclass
class _State:
    started_at: float
    deadline: float
    original: int  # stable's desired replicas before the rollout
    batches_done: int = 0
    history: list[WeightChange] = field(default_factory=list)
    results: list[GateResult] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    scaled_down: list[ScaleDown] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    zero_ready_since: float | None = None
    downtime: float = 0.0


@dataclass(frozen=True)
class ComputePlan:
    """Both Deployments as read, and the batches a run would make from them."""

    stable: Workload
    candidate: Workload
    batches: tuple[Batch, ...]
    refusal: str | None  # why a run would refuse to start; then no batches

    @property
    def original(self) -> int:
        return self.stable.replicas or 0


class ComputeRunner:
    """Runs a rolling or recreate rollout on the cluster; the same `run() -> RolloutReport`
    as the traffic runner."""

    def __init__(
        self,
        spec: RolloutSpec,
        *,
        cluster: Cluster,
        gates: Sequence[Gate],
        clock: Clock,
        log: Callable[[str], object] = lambda _: None,
    ) -> None:
        if not isinstance(spec.strategy, Rolling | Recreate):
            raise UserError(f"the {spec.strategy.kind} strategy moves traffic, not pods")
        # The spec validator guarantees both Deployments for these strategies.
        assert spec.app.stable.deployment
        assert spec.app.candidate.deployment
        self.spec = spec
        self.strategy: Rolling | Recreate = spec.strategy
        self.cluster = cluster
        self.gates = tuple(gates)
        self.clock = clock
        self.namespace = spec.app.namespace
        self.stable = spec.app.stable.deployment
        self.candidate = spec.app.candidate.deployment
        # Told every scale before it is made: a scale-down stops pods.
        self.log = log

    def plan(self) -> ComputePlan:
        """Reads both Deployments (and changes nothing): the batches a run from here makes,
        or why it refuses to start; `run` and `rollout run --dry-run` both go by it."""
        stable = self._get(self.stable)
        candidate = self._get(self.candidate)
        original = stable.replicas or 0
        refusal = None
        if original == 0:
            refusal = f"stable Deployment {self.namespace}/{self.stable} has 0 replicas"
        elif candidate.replicas:
            # Also what an interrupted rollout leaves: its original count is then unknown.
            refusal = (
                f"candidate Deployment {self.namespace}/{self.candidate} already has "
                f"{candidate.replicas} replicas; scale it to 0 first, eksup brings it up"
            )
        batches = () if refusal else tuple(self._batches(original))
        return ComputePlan(stable, candidate, batches, refusal)

    def run(self) -> RolloutReport:
        plan = self.plan()
        if plan.refusal is not None:
            raise UserError(plan.refusal)
        original = plan.original
        now = self.clock.now()
        state = _State(now, now + self.spec.deadlines.total_seconds, original)
        state.history.append(WeightChange(now, 0, Weights(original, 0)))
        total = len(plan.batches)
        steps = steps_of(self.strategy, original)
        # A batch is done once its last step is: the journal's and the report's count.
        last = {step.number: index for index, step in enumerate(steps)}
        give_up = self._give_up(state)
        try:
            for index, step in enumerate(steps):
                if index == 0 or step.number != steps[index - 1].number:
                    give_up = self._give_up(state)
                self._do(state, step, give_up)
                if last[step.number] == index:
                    state.batches_done = step.number
        except AbortError as abort:
            return self._roll_back(state, abort, total)
        except EksupError as error:
            return self._roll_back(state, AbortError(str(error)), total)
        return self._report(state, RolloutStatus.SUCCEEDED, "", None, total)

    def _batches(self, original: int) -> list[Batch]:
        if isinstance(self.strategy, Recreate):
            return [Batch(0, 0), Batch(0, original)]
        surge, unavailable = rolling_bounds(original, self.strategy)
        return rolling_batches(original, surge, unavailable)

    # ---------------------------------------------------------------- strategies

    def _do(self, state: _State, step: RolloutStep, give_up: float) -> None:
        number = step.number
        if isinstance(step, AwaitRoom):
            self._wait_for_room(state, number, step.stable_after, step.min_ready, give_up)
        elif isinstance(step, Scale):
            name = self.stable if step.side == "stable" else self.candidate
            self._scale(
                state, number, name, state.original if step.replicas is None else step.replicas
            )
        elif isinstance(step, AwaitGone):
            gone = self._get(self.stable if step.side == "stable" else self.candidate)
            wait_gone(
                self.cluster, self.clock, gone, give_up, on_poll=lambda: self._watch_downtime(state)
            )
        elif isinstance(step, AwaitReady):
            name = self.stable if step.side == "stable" else self.candidate
            want = state.original if step.replicas is None else step.replicas
            # Recreate's downtime ends with the first Ready candidate pod, not the last.
            while isinstance(self.strategy, Recreate) and self._watch_downtime(state):
                if self.clock.now() + READY_POLL_SECONDS > give_up:
                    raise AbortError(f"{self.namespace}/{name}: no pod Ready in time")
                self.clock.sleep(READY_POLL_SECONDS)
            wait_ready(self.cluster, self.clock, self.namespace, name, want, give_up=give_up)
        elif isinstance(step, Pause):
            if self.clock.now() + step.seconds > state.deadline:
                raise AbortError(f"batch {number}: the rollout deadline passed during the pause")
            self.clock.sleep(step.seconds)
        elif isinstance(step, Analysis):
            run_gates(
                self.gates,
                self.clock,
                give_up=self._give_up(state),
                label=step.label,
                failures=state.failures,
                results=state.results,
            )
        else:
            raise UserError(f"{self.strategy.kind} cannot run a {type(step).__name__} step")

    def _wait_for_room(
        self, state: _State, number: int, stable_after: int, min_ready: int, give_up: float
    ) -> None:
        """The batches assume every pod Ready; a stable pod that is not (a crash, a node gone)
        would take the Ready count below `min_ready` once stable shrinks: wait for it first."""
        drop = (state.history[-1].weights.stable) - stable_after
        while True:
            ready = sum(self._get(name).ready_replicas for name in (self.stable, self.candidate))
            # Scaling stable down removes its unready pods first, as a ReplicaSet does.
            stable = self._get(self.stable)
            unready_stable = max((stable.replicas or 0) - stable.ready_replicas, 0)
            if ready - max(drop - unready_stable, 0) >= min_ready:
                return
            if self.clock.now() + READY_POLL_SECONDS > give_up:
                raise AbortError(
                    f"batch {number}: {ready} pods Ready, too few to scale stable down to "
                    f"{stable_after} and keep {min_ready} Ready"
                )
            self.clock.sleep(READY_POLL_SECONDS)

    def _watch_downtime(self, state: _State) -> bool:
        """Account the time with no Ready pod on either side; True while there is none."""
        ready = sum(self._get(name).ready_replicas for name in (self.stable, self.candidate))
        now = self.clock.now()
        if ready == 0:
            if state.zero_ready_since is None:
                state.zero_ready_since = now
            return True
        if state.zero_ready_since is not None:
            state.downtime += now - state.zero_ready_since
            state.zero_ready_since = None
        return False

    # ---------------------------------------------------------------- endings

    def _roll_back(self, state: _State, abort: AbortError, total: int) -> RolloutReport:
        status = RolloutStatus.ROLLED_BACK
        give_up = self.clock.now() + self.spec.deadlines.step_seconds
        try:
            self._scale(state, -1, self.stable, state.original)
            wait_ready(
                self.cluster,
                self.clock,
                self.namespace,
                self.stable,
                state.original,
                give_up=give_up,
            )
        except (AbortError, EksupError) as error:
            status = RolloutStatus.FAILED
            state.notes.append(
                f"stable NOT confirmed back at {state.original} Ready pods ({error}); the "
                "candidate was left running: scale it down by hand once stable serves"
            )
        else:
            try:
                self._scale(state, -1, self.candidate, 0)
            except EksupError as error:
                state.notes.append(f"candidate {self.candidate} not scaled down: {error}")
        if isinstance(self.strategy, Recreate):
            self._watch_downtime(state)
        return self._report(state, status, abort.reason, abort.result, total)

    def _report(
        self,
        state: _State,
        status: RolloutStatus,
        reason: str,
        failed: GateResult | None,
        total: int,
    ) -> RolloutReport:
        if state.zero_ready_since is not None:
            state.downtime += self.clock.now() - state.zero_ready_since
            state.zero_ready_since = None
            state.notes.append("no pod was Ready when the rollout ended")
        recreate = isinstance(self.strategy, Recreate)
        return RolloutReport(
            app=self.spec.app.name,
            status=status,
            steps_done=state.batches_done,
            steps_total=total,
            history=tuple(state.history),
            reason=reason,
            failed_gate=failed.gate if failed is not None else None,
            culprits=failed.culprits if failed is not None else (),
            scaled_down=tuple(state.scaled_down),
            gate_results=tuple(state.results),
            notes=tuple(state.notes),
            started_at=state.started_at,
            finished_at=self.clock.now(),
            downtime_seconds=state.downtime if recreate else None,
        )

    # ---------------------------------------------------------------- cluster

    def _get(self, name: str) -> Workload:
        try:
            return self.cluster.get_workload(_DEPLOYMENT, self.namespace, name)
        except NotFoundError:
            raise UserError(f"Deployment {self.namespace}/{name} not found") from None

    def _give_up(self, state: _State) -> float:
        return min(state.deadline, self.clock.now() + self.spec.deadlines.step_seconds)

    def _scale(self, state: _State, number: int, name: str, replicas: int) -> None:
        """Scale one side (no call when it is there already) and record both sides' desired
        replicas; a scale-down is also listed in `scaled_down`."""
        before = self._get(name).replicas or 0
        if before != replicas:
            step = "rollback" if number < 0 else f"batch {number}"
            self.log(f"{step}: scale Deployment {self.namespace}/{name} {before} -> {replicas}")
            self.cluster.scale_workload(_DEPLOYMENT, self.namespace, name, replicas)
            if replicas < before:
                state.scaled_down.append(ScaleDown(self.namespace, name, before, self.clock.now()))
        last = state.history[-1].weights
        weights = (
            Weights(replicas, last.candidate)
            if name == self.stable
            else Weights(last.stable, replicas)
        )
        if weights != last:
            state.history.append(WeightChange(self.clock.now(), number, weights))


def scale_candidate_to_stable(
    spec: RolloutSpec, cluster: Cluster, clock: Clock, give_up: float
) -> str | None:
    """Blue/green: before the switch, bring the candidate Deployment up to stable's replicas
    and wait until they are Ready, so the switch never lands on a smaller side. Returns what
    was done (None when nothing was needed); raises AbortError when it is not Ready in time."""
    app = spec.app
    if not isinstance(spec.strategy, BlueGreen):
        return None
    if app.stable.deployment is None or app.candidate.deployment is None:
        return None
    stable = cluster.get_workload(_DEPLOYMENT, app.namespace, app.stable.deployment)
    candidate = cluster.get_workload(_DEPLOYMENT, app.namespace, app.candidate.deployment)
    want = stable.replicas or 0
    have = candidate.replicas or 0
    if have >= want:
        return None
    cluster.scale_workload(_DEPLOYMENT, app.namespace, app.candidate.deployment, want)
    wait_ready(cluster, clock, app.namespace, app.candidate.deployment, want, give_up=give_up)
    return (
        f"candidate {app.candidate.deployment} scaled from {have} to {want} replicas "
        "(stable's) and Ready before the switch"
    )


def build_compute_runner(
    spec: RolloutSpec,
    *,
    metrics: Metrics,
    load_balancers: LoadBalancers,
    clock: Clock,
    cluster: Cluster | None,
    http: HttpProbe | None,
    log: Callable[[str], object] = lambda _: None,
) -> ComputeRunner:
    """`build_runner` for rolling and recreate: no traffic provider, a cluster required."""
    refused = refusal(spec)
    if refused is not None:
        raise UserError(f"{spec.strategy.kind}: {refused}")
    if cluster is None:
        raise UserError(f"the {spec.strategy.kind} strategy scales Deployments: give a cluster")
    gates = gates_for(
        spec,
        metrics=metrics,
        load_balancers=load_balancers,
        clock=clock,
        cluster=cluster,
        http=http,
    )
    return ComputeRunner(spec, cluster=cluster, gates=gates, clock=clock, log=log)


def describe_compute(spec: RolloutSpec) -> str:
    """What `rollout plan` says of a rolling or recreate spec (each strategy's own words)."""
    from strategies import recreate, rolling

    if isinstance(spec.strategy, Rolling):
        return rolling.describe(spec)
    if isinstance(spec.strategy, Recreate):
        return recreate.describe(spec)
    raise UserError(f"the {spec.strategy.kind} strategy moves traffic, not pods")
