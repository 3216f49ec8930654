"""What a rollout (or a promote, abort or rollback of one) did: its outcome and the weights it
read back along the way."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from strategies.gates.kinds import GateResult
from strategies.steps import Weights


class RolloutStatus(StrEnum):
    SUCCEEDED = "succeeded"  # all traffic on the candidate, read back
    ROLLED_BACK = "rolled-back"  # aborted; all traffic back on stable, read back
    FAILED = "failed"  # aborted, and stable could not be confirmed: a human must look


@dataclass(frozen=True)
class WeightChange:
    at: float
    step: int  # 0: the weights found before the rollout; -1: back to stable
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
