"""`rollout run --dry-run`: what a run would do from here, from reads only.

Weights (canary, blue-green): reads the live weights, the rollout state (where a run would
resume) and the lock, evaluates each gate once (gates only observe), and says, step by step,
the exact change the provider would make. A/B and shadow: reads the route and says the change
that turns it on and the one that ends it. Rolling and recreate: reads both Deployments and
says each batch's scale calls, as the step loop sizes them. Writes nothing: no weights, no route,
no ConfigMap, no lease, no scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from strategies.gates.decide import evaluate
from strategies.gates.kinds import Gate, GateResult, Verdict
from strategies.registry import steps_for
from strategies.rolling import Batch, rolling_batches, rolling_bounds
from strategies.run.deployments import Deployments
from strategies.run.journal import RolloutJournal, RolloutState
from strategies.spec import AbTest, Recreate, Rolling, RolloutSpec, Shadow
from strategies.steps import RouteKind, Step, Weights
from strategies.traffic.alb_header import HeaderRoute
from strategies.traffic.base import RouteReading, TrafficRouter
from upgrader.core.errors import EksupError, UserError
from upgrader.core.kube import WorkloadKind
from upgrader.core.ports import Clock, Cluster
from upgrader.core.run.lock import ClusterLock


class Shown(Protocol):
    """What the CLI prints of any dry run, and whether the real run would be blocked."""

    @property
    def blocked(self) -> bool: ...

    def lines(self) -> list[str]: ...


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    change: str  # the router's describe_weights


@dataclass(frozen=True)
class Preview:
    app: str
    strategy: str
    provider: str
    live: Weights
    state: RolloutState | None
    resume_after: int
    steps: tuple[PlannedStep, ...]
    gate_names: tuple[str, ...]
    gates_now: tuple[GateResult, ...]
    lock_blocker: str | None
    after: tuple[str, ...]  # what happens once every step passed

    @property
    def blocked(self) -> bool:
        return self.lock_blocker is not None or bool(_failing(self.gates_now))

    def lines(self) -> list[str]:
        out = [
            f"{self.app}: {self.strategy} on {self.provider}; live weights: {self.live}",
            "state: " + self._state_text(),
            "lock: " + (self.lock_blocker or "free"),
        ]
        gates = ", ".join(self.gate_names) or "none"
        for planned in self.steps:
            step = planned.step
            out.append(
                f"step {step.number}: {step.weights}, pause {step.pause_seconds:g}s, "
                f"then gates: {gates}"
            )
            out.append(f"  would call: {planned.change}")
        if not self.steps:
            out.append("no step left to run")
        out.extend(_gate_lines(self.gates_now))
        out.extend(_would_roll_back(self.gates_now))
        out.extend(self.after)
        out.append("dry run: nothing was changed")
        return out

    def _state_text(self) -> str:
        if self.state is None:
            return "no rollout recorded; a run starts at step 1"
        text = f"{self.state.phase.value} after step {self.state.step}"
        if self.resume_after:
            return f"{text}; a run resumes at step {self.resume_after + 1}"
        return f"{text}; a run starts again at step 1"


def preview(
    spec: RolloutSpec,
    *,
    router: TrafficRouter,
    gates: tuple[Gate, ...],
    journal: RolloutJournal,
    lock: ClusterLock,
    cluster: Cluster,
) -> Preview:
    live = router.read_weights()
    state = journal.read()
    resume_after = state.step if state is not None and state.resumable else 0
    steps = steps_for(spec.strategy)[resume_after:]
    return Preview(
        app=f"{spec.app.namespace}/{spec.app.name}",
        strategy=spec.strategy.kind,
        provider=router.name,
        live=live,
        state=state,
        resume_after=resume_after,
        steps=tuple(PlannedStep(s, router.describe_weights(s.weights)) for s in steps),
        gate_names=tuple(g.name for g in gates),
        gates_now=tuple(evaluate(g) for g in gates),
        lock_blocker=lock.blocker(),
        after=tuple(_after(spec, router, cluster)),
    )


def _after(spec: RolloutSpec, router: TrafficRouter, cluster: Cluster) -> list[str]:
    stable = spec.app.stable.deployment
    if stable is None:
        return ["after the last step: the stable side is left as it is (no Deployment named)"]
    delay = max(router.drain_seconds, float(getattr(spec.strategy, "scale_down_delay_seconds", 0)))
    name = f"{spec.app.namespace}/{stable}"
    try:
        replicas = cluster.get_workload(WorkloadKind.DEPLOYMENT, spec.app.namespace, stable)
    except EksupError as error:
        return [f"after the last step: stable Deployment {name}: {error}"]
    return [
        f"after the last step: scale stable Deployment {name} from {replicas.replicas} to 0, "
        f"{delay:g}s after the switch (its count is recorded for `eksup rollout rollback`)"
    ]


def _gate_lines(results: tuple[GateResult, ...]) -> list[str]:
    return [f"gate {r.gate} now: {r.verdict.value} ({r.reason})" for r in results]


def _failing(results: tuple[GateResult, ...]) -> tuple[GateResult, ...]:
    """The gates that fail as read now. A run evaluates the same gates after its first move
    and rolls back on a failure, so a dry run that exited 0 here would say yes to a run that
    undoes itself at once (the dry run of `execute` exits 2 on a failing gate too)."""
    return tuple(r for r in results if r.verdict is Verdict.FAIL)


def _would_roll_back(results: tuple[GateResult, ...]) -> list[str]:
    return [
        f"a run would roll back: gate {r.gate} fails now ({r.reason})" for r in _failing(results)
    ]


# A/B and shadow ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExperimentPreview:
    app: str
    strategy: str  # "ab" or "shadow"
    route: str  # the route's provider
    found: RouteReading
    turn_on: str  # the exact change, or why none is needed
    end: tuple[str, ...]
    pause_seconds: float
    gate_names: tuple[str, ...]
    gates_now: tuple[GateResult, ...]
    lock_blocker: str | None
    refusal: str | None = None  # why turning the route on would be refused

    @property
    def blocked(self) -> bool:
        return (
            self.lock_blocker is not None
            or self.refusal is not None
            or bool(_failing(self.gates_now))
        )

    def lines(self) -> list[str]:
        gates = ", ".join(self.gate_names) or "none"
        refusal = [f"a run would refuse: {self.refusal}"] if self.refusal else []
        return [
            f"{self.app}: {self.strategy} on {self.route}; route now: {self.found.detail}",
            "lock: " + (self.lock_blocker or "free"),
            *refusal,
            f"first: gates: {gates}",
            self.turn_on,
            f"bake: {self.pause_seconds:g}s, then gates: {gates}",
            *self.end,
            *_gate_lines(self.gates_now),
            *_would_roll_back(self.gates_now),
            "dry run: nothing was changed",
        ]


def preview_experiment(
    spec: RolloutSpec, *, router: TrafficRouter, gates: tuple[Gate, ...], lock: ClusterLock
) -> ExperimentPreview:
    """What the step loop would do from the route as read now."""
    strategy = spec.strategy
    assert isinstance(strategy, AbTest | Shadow)
    kind: RouteKind = "header" if isinstance(strategy, AbTest) else "mirror"
    found = router.read_route(kind)
    refusal = None
    if found.on:
        # The runner writes nothing for a route that already reads on.
        turn_on = "route on: it reads on already; no call, only the read-back"
    else:
        turn_on = (
            f"route on: would call: {router.describe_route(kind, True)}; then read back until on"
        )
        route = getattr(router, "header", None)
        if isinstance(route, HeaderRoute):
            # The ALB rule's priority is chosen from the listener's rules at run time.
            try:
                turn_on += f"\n  the rule would get {route.planned_priority()} (as read now)"
            except UserError as error:
                refusal = str(error)
    off = router.describe_route(kind, False)
    end: tuple[str, ...]
    if isinstance(strategy, Shadow):
        end = (f"end, whatever the outcome: would call: {off}; then read back until gone",)
    else:
        end = (
            "end, gates passed: the route stays on (no call); `eksup rollout abort SPEC` "
            "removes it",
            f"end, a gate failed or the deadline passed: would call: {off}",
        )
    return ExperimentPreview(
        app=f"{spec.app.namespace}/{spec.app.name}",
        strategy=strategy.kind,
        route=router.name,
        found=found,
        turn_on=turn_on,
        end=end,
        pause_seconds=strategy.pause_seconds,
        gate_names=tuple(g.name for g in gates),
        gates_now=tuple(evaluate(g) for g in gates),
        lock_blocker=lock.blocker(),
        refusal=refusal,
    )


# rolling and recreate -------------------------------------------------------------------


@dataclass(frozen=True)
class ComputePreview:
    app: str
    strategy: str
    deployments: str  # both, as read
    bounds: str | None  # rolling: what the batches are sized by
    refusal: str | None  # why a run would refuse to start
    batches: tuple[str, ...]
    gate_names: tuple[str, ...]
    gates_now: tuple[GateResult, ...]
    lock_blocker: str | None
    gated: int  # the first batch after which the gates decide
    # The gates whose failure now says the run would fail: not a readiness gate of a
    # candidate that has no pods yet (the first batch creates them).
    telling: tuple[GateResult, ...] = ()

    @property
    def blocked(self) -> bool:
        return (
            self.lock_blocker is not None
            or self.refusal is not None
            or bool(_failing(self.telling))
        )

    def lines(self) -> list[str]:
        out = [
            f"{self.app}: {self.strategy}; {self.deployments}",
            "lock: " + (self.lock_blocker or "free"),
        ]
        if self.bounds:
            out.append(self.bounds)
        if self.refusal:
            out.append(f"a run would refuse: {self.refusal}")
        out.extend(self.batches)
        if self.gates_now:
            # Before batch 1 a candidate-side gate reads an empty candidate: say so.
            out.append(
                f"the gates read now (a run first decides on them after batch {self.gated}):"
            )
        out.extend(_gate_lines(self.gates_now))
        out.extend(_would_roll_back(self.telling))
        out.append("dry run: nothing was changed")
        return out


def preview_compute(
    spec: RolloutSpec,
    cluster: Cluster,
    clock: Clock,
    *,
    gates: tuple[Gate, ...],
    lock: ClusterLock,
    resume: tuple[int, int] | None = None,
) -> ComputePreview:
    """What the step loop would do from both Deployments as read now: the batches it would
    size from them, or why it would refuse to start. `resume`: (stable's replicas journaled at
    the start, batches done) of an unfinished rollout the run would continue."""
    strategy = spec.strategy
    assert isinstance(strategy, Rolling | Recreate)
    plan = Deployments(spec, cluster, clock).plan()
    original, done = resume if resume is not None else (plan.original, 0)
    refusal = None if resume is not None else plan.refusal
    batches: list[Batch] = []
    if refusal is None and isinstance(strategy, Recreate):
        batches = [Batch(0, 0), Batch(0, original)]
    elif refusal is None and isinstance(strategy, Rolling):
        batches = rolling_batches(original, *rolling_bounds(original, strategy))
    namespace = spec.app.namespace
    names = ", ".join(g.name for g in gates) or "none"
    bounds = None
    if isinstance(strategy, Rolling) and refusal is None:
        surge, unavailable = rolling_bounds(original, strategy)
        bounds = (
            f"bounds: at most {original + surge} pods desired (max_surge "
            f"{strategy.max_surge} -> {surge}), at least {max(original - unavailable, 0)} "
            f"Ready (max_unavailable {strategy.max_unavailable} -> {unavailable})"
        )
    stable, candidate = plan.stable, plan.candidate
    deployments = (
        f"stable Deployment {namespace}/{stable.name}: {stable.replicas or 0} replicas "
        f"({stable.ready_replicas} Ready); candidate Deployment {namespace}/{candidate.name}: "
        f"{candidate.replicas or 0} replicas ({candidate.ready_replicas} Ready)"
    )
    lines: list[str] = []
    before = Batch(original, 0)
    if done:
        lines.append(
            f"a run resumes after batch {done} of {len(batches)} (sized from the {original} "
            "replicas stable had when the rollout started, as journaled)"
        )
        before = Batch(stable.replicas or 0, candidate.replicas or 0)
    for number, batch in enumerate(batches, start=1):
        if number <= done:
            continue
        calls = [
            f"scale Deployment {namespace}/{name} {was} -> {now}"
            for name, was, now in (
                (stable.name, before.stable, batch.stable),
                (candidate.name, before.candidate, batch.candidate),
            )
            if was != now  # the runner makes no call for a side already there
        ]
        if isinstance(strategy, Recreate) and number == 1:
            then = "wait until its pods are gone (the app is down from here)"
        elif isinstance(strategy, Recreate):
            then = (
                f"wait until {batch.candidate} Ready (down until the first), pause "
                f"{strategy.pause_seconds:g}s, then gates: {names}"
            )
        else:
            then = (
                f"wait until {batch.candidate} candidate pods Ready, pause "
                f"{strategy.pause_seconds:g}s, then gates: {names}"
            )
        lines.append(
            f"batch {number}: stable {before.stable} -> {batch.stable}, candidate "
            f"{before.candidate} -> {batch.candidate}; {then}"
        )
        lines.append("  would call: " + ("; ".join(calls) or "nothing"))
        before = batch
    gates_now = tuple(evaluate(g) for g in gates)
    not_yet = f"pod-readiness {namespace}/{candidate.name}" if not candidate.replicas else None
    return ComputePreview(
        app=f"{namespace}/{spec.app.name}",
        strategy=strategy.kind,
        deployments=deployments,
        bounds=bounds,
        refusal=refusal,
        batches=tuple(lines),
        gate_names=tuple(g.name for g in gates),
        gates_now=gates_now,
        lock_blocker=lock.blocker(),
        gated=2 if isinstance(strategy, Recreate) else 1,
        telling=tuple(r for r in gates_now if r.gate != not_yet),
    )
