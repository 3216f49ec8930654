"""`rollout run --dry-run`: what a run would do from here, from reads only.

Reads the live weights, the rollout state (where a run would resume) and the lock, evaluates
each gate once (gates only observe), and says, step by step, the exact change the provider
would make. Writes nothing: no weights, no ConfigMap, no lease, no scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

from strategies.gates import Gate, GateResult
from strategies.gating import evaluate
from strategies.providers import TrafficProvider
from strategies.rollout_state import Journal, RolloutState
from strategies.runner import scale_down_delay
from strategies.spec import RolloutSpec
from strategies.steps import Step, Weights, steps_for
from upgrader.errors import EksupError
from upgrader.kube import WorkloadKind
from upgrader.lock import ClusterLock
from upgrader.ports import Cluster


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    change: str  # the provider's describe_change


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
        for result in self.gates_now:
            out.append(f"gate {result.gate} now: {result.verdict.value} ({result.reason})")
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
    provider: TrafficProvider,
    gates: tuple[Gate, ...],
    journal: Journal,
    lock: ClusterLock,
    cluster: Cluster,
) -> Preview:
    live = provider.read()
    state = journal.read()
    resume_after = state.step if state is not None and state.resumable else 0
    steps = steps_for(spec.strategy)[resume_after:]
    return Preview(
        app=f"{spec.app.namespace}/{spec.app.name}",
        strategy=spec.strategy.kind,
        provider=provider.name,
        live=live,
        state=state,
        resume_after=resume_after,
        steps=tuple(PlannedStep(s, provider.describe_change(s.weights)) for s in steps),
        gate_names=tuple(g.name for g in gates),
        gates_now=tuple(evaluate(g) for g in gates),
        lock_blocker=lock.blocker(),
        after=tuple(_after(spec, provider, cluster)),
    )


def _after(spec: RolloutSpec, provider: TrafficProvider, cluster: Cluster) -> list[str]:
    stable = spec.app.stable.deployment
    if stable is None:
        return ["after the last step: the stable side is left as it is (no Deployment named)"]
    delay = max(provider.drain_seconds, scale_down_delay(spec))
    name = f"{spec.app.namespace}/{stable}"
    try:
        replicas = cluster.get_workload(WorkloadKind.DEPLOYMENT, spec.app.namespace, stable)
    except EksupError as error:
        return [f"after the last step: stable Deployment {name}: {error}"]
    return [
        f"after the last step: scale stable Deployment {name} from {replicas.replicas} to 0, "
        f"{delay:g}s after the switch (its count is recorded for `eksup rollout rollback`)"
    ]
