"""Deciding on a set of gates: evaluate until all pass, or one fails at its limit, or time is up.

One set of rules for every runner (weights, A/B and shadow, rolling and recreate): a gate that
cannot be evaluated counts as failed; a failure below the gate's `failure_limit`, or a pause,
waits the shortest `interval_seconds` of the waiting gates and looks again, until `give_up`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from strategies.gates.kinds import Gate, GateResult, Verdict
from upgrader.core.errors import EksupError
from upgrader.core.ports import Clock


class GateFailedError(Exception):
    """A gate failed at its limit, or the deadline passed while gates waited."""

    def __init__(self, reason: str, result: GateResult) -> None:
        super().__init__(reason)
        self.reason = reason
        self.result = result


@dataclass
class GateTally:
    """Every result so far, and each gate's failures counted across evaluations."""

    results: list[GateResult] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)


def evaluate(gate: Gate) -> GateResult:
    """A gate that cannot be evaluated counts as failed: an unreadable alarm is no pass."""
    try:
        return gate.evaluate()
    except EksupError as error:
        return GateResult(gate.name, Verdict.FAIL, f"cannot evaluate: {error}")


def await_gates(
    gates: Sequence[Gate],
    clock: Clock,
    give_up: float,
    label: str,
    tally: GateTally,
    *,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Return once every gate passes; raise GateFailedError (its reason starts with `label`).
    `sleep` waits between evaluations (default: the clock's), e.g. one that renews a lock."""
    if not gates:
        return
    while True:
        waiting: list[tuple[Gate, GateResult]] = []
        for gate in gates:
            result = evaluate(gate)
            tally.results.append(result)
            if result.verdict is Verdict.FAIL:
                failures = tally.failures.get(gate.name, 0) + 1
                tally.failures[gate.name] = failures
                if failures >= gate.failure_limit:
                    raise GateFailedError(
                        f"{label}: {result.reason} (failure {failures} of {gate.failure_limit})",
                        result,
                    )
            if result.verdict is not Verdict.PASS:
                waiting.append((gate, result))
        if not waiting:
            return
        wait = min(gate.interval_seconds for gate, _ in waiting)
        if clock.now() + wait > give_up:
            gate, result = waiting[0]
            raise GateFailedError(
                f"{label}: deadline passed waiting on {gate.name}: {result.reason}", result
            )
        (sleep or clock.sleep)(wait)
