"""What every rollout run carries while it runs, and how it ends: one state, one abort, one
gate check, whatever the strategy.

`RunState` is the mutable record of one run (the weights or replicas read back, the route
changes, the gates' tally, what was scaled down, the notes). `AbortError` is how any step
says the run must go back to stable: a gate at its failure limit, a passed deadline, a change
that would not read back. `analyse` is the one gate check of every step loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from strategies.gates.decide import GateFailedError, GateTally, await_gates
from strategies.gates.kinds import Gate, GateResult
from strategies.run.report import RolloutReport, RolloutStatus, RouteEvent, ScaleDown, WeightChange
from upgrader.core.ports import Clock


class AbortError(Exception):
    """The run must go back to stable; `result` is the gate that said so, if one did."""

    def __init__(self, reason: str, result: GateResult | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


@dataclass
class RunState:
    """One run of one rollout, as it goes."""

    started_at: float
    deadline: float
    steps_done: int = 0
    history: list[WeightChange] = field(default_factory=list)
    events: list[RouteEvent] = field(default_factory=list)  # A/B and shadow routes
    tally: GateTally = field(default_factory=GateTally)
    scaled_down: list[ScaleDown] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    original: int = 0  # rolling and recreate: stable's desired replicas before the run
    zero_ready_since: float | None = None  # recreate: when the last Ready pod went
    downtime: float = 0.0  # recreate: seconds with no Ready pod on either side
    current: int = -2  # the step the loop is in (-2: none yet)
    give_up: float = 0.0  # when the current step's waits give up
    pending_note: str | None = None  # said once the scale it describes is Ready

    @classmethod
    def starting(cls, clock: Clock, total_seconds: float) -> RunState:
        now = clock.now()
        return cls(started_at=now, deadline=now + total_seconds)

    def report(
        self,
        app: str,
        status: RolloutStatus,
        reason: str,
        failed: GateResult | None,
        *,
        steps_total: int,
        finished_at: float,
        downtime: bool = False,
    ) -> RolloutReport:
        return RolloutReport(
            app=app,
            status=status,
            steps_done=self.steps_done,
            steps_total=steps_total,
            history=tuple(self.history),
            reason=reason,
            failed_gate=failed.gate if failed is not None else None,
            culprits=failed.culprits if failed is not None else (),
            scaled_down=tuple(self.scaled_down),
            gate_results=tuple(self.tally.results),
            notes=tuple(self.notes),
            started_at=self.started_at,
            finished_at=finished_at,
            downtime_seconds=self.downtime if downtime else None,
        )


def analyse(
    gates: Sequence[Gate],
    clock: Clock,
    *,
    give_up: float,
    label: str,
    tally: GateTally,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Evaluate every gate until all pass (`strategies.gates.decide`'s rules); a gate at its
    failure limit, or `give_up` passing while gates pause or re-check, raises AbortError."""
    try:
        await_gates(gates, clock, give_up, label, tally, sleep=sleep)
    except GateFailedError as failed:
        raise AbortError(failed.reason, failed.result) from None
