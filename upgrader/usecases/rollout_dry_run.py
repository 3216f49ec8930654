"""`eksup rollout run --dry-run`: the run itself, on ports that change nothing.

The same wiring as `rollout run` and the same step loop, on the run engine's dry-run wrappers
(`upgrader.execute.dry_run` for the load balancers, Route 53 and the cluster, a `DryRunClock`
whose waits take no time, `strategies.run.dry_run` for the router and the gates). Each change
the run would make is recorded as an `IntendedCall`, where the run would make it (step by
step, with the time it would have waited), and the result is reported as an upgrade's dry run
is: the intended calls and the blockers, exit 0 when a run would go through, 2 (would-block)
when it would be refused (the app's lock, a refusal of the spec against what is read) or
would not succeed (a gate that fails now rolls it back).

Nothing is written: no traffic, no scale, no journal (file or ConfigMap), no Lease.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from strategies.loop import StepLoop
from strategies.ports import RolloutPorts
from strategies.registry import steps_of
from strategies.rolling import rolling_bounds
from strategies.run.deployments import Deployments
from strategies.run.dry_run import DryRunRouter, GateReading, read_once
from strategies.run.journal import RolloutJournal, RolloutState, journal_file
from strategies.run.report import ExperimentReport, RolloutReport, RolloutStatus
from strategies.spec import Rolling
from strategies.steps import (
    ALL_STABLE,
    Analysis,
    AwaitGone,
    AwaitReady,
    AwaitRoom,
    Pause,
    Retire,
    RolloutStep,
    Scale,
    SetRoute,
    SetWeights,
    Side,
)
from strategies.traffic.factory import router_for
from strategies.traffic.nop import NopRouter
from upgrader.core.errors import EksupError
from upgrader.core.run.dry_run import DryRunClock, IntendedCall, Recorder
from upgrader.core.run.status import RunStatus, dry_run_status
from upgrader.execute.dry_run import DryRunCluster, DryRunDns, DryRunLoadBalancers
from upgrader.usecases.rollouts import _app, _gates, _wire, _Wired


@dataclass
class _Trace:
    """What the dry run would do, in order: each step as it begins, what the loop says it
    changes, and the calls the wrappers record (told as they are recorded)."""

    clock: DryRunClock
    lines: list[str] = field(default_factory=list)

    def action(self, description: str, *, dry_run: bool) -> None:
        del dry_run
        self.lines.append(f"    would {description}")

    def log(self, text: str) -> None:
        self.lines.append(f"  at +{self.clock.waited:g}s: {text}")


@dataclass(frozen=True)
class RolloutDryRun:
    """A rollout's dry run, as an upgrade's: what is read now, the intended calls in order,
    how the run would end, and the blockers."""

    read_now: tuple[str, ...]
    gates: tuple[GateReading, ...]
    trace: tuple[str, ...]
    calls: tuple[IntendedCall, ...]
    outcome: tuple[str, ...]  # the run's report, as it would end
    blockers: tuple[str, ...]
    waited: float  # the time the run would spend in pauses and waits

    @property
    def status(self) -> RunStatus:
        return dry_run_status(bool(self.blockers))

    @property
    def blocked(self) -> bool:
        return bool(self.blockers)

    def lines(self) -> list[str]:
        gates = [
            f"gate {g.result.gate} now: {g.result.verdict.value} ({g.result.reason})"
            + ("" if g.counted else f"; not counted: {g.why_not}")
            for g in self.gates
        ]
        return [
            *self.read_now,
            *gates,
            *self.trace,
            *self.outcome,
            *self.blockers,
            f"dry run: {len(self.calls)} changes it would make over {self.waited:g}s; "
            "nothing was changed",
        ]


def dry_run_rollout(spec_file: Path, ports: RolloutPorts) -> RolloutDryRun:
    """Run the rollout's step loop on dry-run ports; see the module's docstring."""
    wired = _wire(spec_file, ports, weights=False)
    spec = wired.spec
    clock = DryRunClock(ports.clock.now())
    trace = _Trace(clock)
    recorder = Recorder(trace)
    cluster = DryRunCluster(ports.cluster, recorder, settle=True)
    inner = router_for(
        spec,
        load_balancers=DryRunLoadBalancers(ports.load_balancers, recorder),
        dns=DryRunDns(ports.dns, recorder),
        clock=clock,
        cluster=cluster,
    )
    # A router that moves no traffic writes nothing: it needs no wrapper.
    router = inner if isinstance(inner, NopRouter) else DryRunRouter(inner)
    gates, readings = read_once(_gates(spec, ports), spec, ports.cluster)
    journal = RolloutJournal(
        ports.cluster,
        clock,
        spec.app.namespace,
        spec.app.name,
        run_id=wired.run_id,
        who=wired.who,
        path=journal_file(spec.app.namespace, spec.app.name),
        dry_run=True,
    )
    loop = StepLoop(
        spec,
        router=router,
        gates=gates,
        clock=clock,
        cluster=cluster,
        journal=journal,
        who=wired.who,
        log=trace.log,
    )
    read_now = _read_now(wired, loop, journal.read())
    blockers: list[str] = []
    lock = wired.lock.blocker()
    if lock is not None:
        blockers.append(f"a run would be refused: {lock}")
    resume = loop.pods_to_resume() if loop.moves_pods else None
    done = resume[1] if resume is not None else journal.completed_step()
    loop.on_step = lambda number: trace.lines.append(_step_line(loop, number, clock, done))
    outcome: tuple[str, ...] = ()
    try:
        report = loop.run()
    except EksupError as error:
        blockers.append(f"a run would refuse: {error}")
    else:
        outcome = _outcome(report)
        blockers.extend(_would_not_succeed(report, readings))
    return RolloutDryRun(
        read_now=tuple(read_now),
        gates=readings,
        trace=tuple(trace.lines),
        calls=tuple(recorder.calls),
        outcome=outcome,
        blockers=tuple(blockers),
        waited=clock.waited,
    )


def _read_now(wired: _Wired, loop: StepLoop, state: RolloutState | None) -> list[str]:
    """What the run would start from, read before it (with the real router: reads only)."""
    spec, router = wired.spec, wired.router
    app = _app(spec)
    head: str
    out: list[str] = []
    try:
        if loop.route is not None:
            head = f"{app}: {spec.strategy.kind} on {router.name}; route now: "
            head += router.read_route(loop.route).detail
        elif loop.moves_pods:
            head = f"{app}: {spec.strategy.kind}; " + _deployments(wired)
        else:
            head = f"{app}: {spec.strategy.kind} on {router.name}; live weights: "
            head += str(router.read_weights())
    except EksupError as error:
        head = f"{app}: {spec.strategy.kind} on {router.name}; cannot read: {error}"
    out.append(head)
    if loop.moves_pods:
        out.extend(_pods_lines(wired, loop))
    else:
        out.append("state: " + _state_text(state, "step"))
    out.append("lock: " + (wired.lock.blocker() or "free"))
    out.extend(_way_back(loop))
    return out


def _deployments(wired: _Wired) -> str:
    pods = Deployments(wired.spec, wired.ports.cluster, wired.ports.clock)
    namespace = wired.spec.app.namespace
    sides = []
    both: tuple[Side, Side] = ("stable", "candidate")
    for side in both:
        found = pods.get(side)
        sides.append(
            f"{side} Deployment {namespace}/{found.name}: {found.replicas or 0} replicas "
            f"({found.ready_replicas} Ready)"
        )
    return "; ".join(sides)


def _pods_lines(wired: _Wired, loop: StepLoop) -> list[str]:
    """Rolling's bounds, and where a resumed run takes up its batches."""
    out: list[str] = []
    resume = loop.pods_to_resume()
    strategy = wired.spec.strategy
    try:
        plan = Deployments(wired.spec, wired.ports.cluster, wired.ports.clock).plan()
    except EksupError:
        return out
    original = resume[0] if resume is not None else plan.original
    if isinstance(strategy, Rolling) and (resume is not None or plan.refusal is None):
        surge, unavailable = rolling_bounds(original, strategy)
        out.append(
            f"bounds: at most {original + surge} pods desired (max_surge "
            f"{strategy.max_surge} -> {surge}), at least {max(original - unavailable, 0)} "
            f"Ready (max_unavailable {strategy.max_unavailable} -> {unavailable})"
        )
    if resume is not None:
        total = max((s.number for s in steps_of(strategy, original)), default=0)
        out.append(
            f"a run resumes after batch {resume[1]} of {total} (sized from the "
            f"{resume[0]} replicas stable had when the rollout started, as journaled)"
        )
    return out


def _state_text(state: RolloutState | None, unit: str) -> str:
    if state is None:
        return f"no rollout recorded; a run starts at {unit} 1"
    text = f"{state.phase.value} after {unit} {state.step}"
    if state.resumable and state.step:
        return f"{text}; a run resumes at {unit} {state.step + 1}"
    return f"{text}; a run starts again at {unit} 1"


def _step_line(loop: StepLoop, number: int, clock: DryRunClock, done: int) -> str:
    """Where the run is as each step begins, and what the step does (its typed steps);
    `done`: the steps an earlier run completed."""
    unit = "batch" if loop.moves_pods else "step"
    where = f"{unit} {number} of {loop.steps_total} (at +{clock.waited:g}s)"
    if number == 0:
        where = f"before step 1 (at +{clock.waited:g}s)"
    parts = [_typed(s, loop) for s in loop.plan if s.number == number and not _is_retire(s)]
    if 0 < number <= done:
        # A resumed run checks again what the last completed step left (and its gates).
        parts.insert(0, "done by an earlier run, checked again")
    return f"{where}: {', '.join(parts)}" if parts else f"{where}:"


def _is_retire(step: RolloutStep) -> bool:
    return isinstance(step, Retire)


def _typed(step: RolloutStep, loop: StepLoop) -> str:
    """One typed step, as a person reads it."""
    if isinstance(step, SetWeights):
        return f"weights {step.weights}"
    if isinstance(step, SetRoute):
        return f"{step.kind} route {'on' if step.on else 'off'}"
    if isinstance(step, Scale):
        count = "stable's replicas" if step.replicas is None else str(step.replicas)
        return f"{step.side} to {count}"
    if isinstance(step, AwaitReady):
        count = "stable's replicas" if step.replicas is None else str(step.replicas)
        return f"wait until {count} {step.side} pods Ready"
    if isinstance(step, AwaitGone):
        return f"wait until the {step.side} pods are gone (no pod serves from here)"
    if isinstance(step, AwaitRoom):
        return f"wait until {step.min_ready} pods stay Ready with stable at {step.stable_after}"
    if isinstance(step, Pause):
        return f"pause {step.seconds:g}s"
    if isinstance(step, Analysis):
        return "gates: " + (", ".join(g.name for g in loop.gates) or "none")
    return str(step)


def _way_back(loop: StepLoop) -> list[str]:
    """What a run does when a gate fails, the deadline passes or a human aborts: the dry run
    shows the way back only when it takes it, so say it (its exact change) here."""
    router = loop.router
    try:
        if loop.route is not None:
            return [f"way back: {router.describe_route(loop.route, False)}"]
        if not loop.moves_pods:
            return [f"way back: {router.describe_weights(ALL_STABLE)}"]
    except EksupError:
        return []
    return ["way back: stable scaled back to its replicas and Ready, then the candidate to 0"]


def _outcome(report: RolloutReport | ExperimentReport) -> tuple[str, ...]:
    notes: tuple[str, ...] = ()
    if isinstance(report, RolloutReport):
        notes = report.notes
        if report.downtime_seconds is not None:
            # Pods start in no time in a dry run: the downtime it would measure means nothing.
            report = replace(report, downtime_seconds=None)
            notes = (
                *notes,
                "no pod serves from the moment stable's pods are gone until the first "
                "candidate pod is Ready (a dry run cannot tell how long that is)",
            )
    lines = report.summary().splitlines()
    return (f"a run would end: {lines[0]}", *(f"  {n}" for n in (*lines[1:], *notes)))


def _would_not_succeed(
    report: RolloutReport | ExperimentReport, readings: tuple[GateReading, ...]
) -> list[str]:
    """A run that rolls back or fails is no run to start: each gate failing now, said as the
    reason, else the report's own."""
    if report.status is RolloutStatus.SUCCEEDED:
        return []
    failing = [
        f"a run would roll back: gate {g.result.gate} fails now ({g.result.reason})"
        for g in readings
        if g.fails
    ]
    return failing or [f"a run would end {report.status.value}: {report.reason}"]
