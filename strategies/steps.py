"""Pure step generators: the weights a strategy goes through, with the pause after each.

Weights are percentages of the traffic (stable + candidate = 100 on every step). Both traffic
providers take them as they are: an ALB forward weight is 0-999 and a Route 53 weight 0-255,
and 100 fits both, so no rescaling can round a 5% step away. Weights read back from a live
service may use another scale (a listener written by hand with weight 1); `Weights.percent`
compares them.
"""

from __future__ import annotations

from dataclasses import dataclass

from strategies.spec import BlueGreen, Canary, Strategy
from upgrader.core.errors import UserError

TOTAL = 100


@dataclass(frozen=True)
class Weights:
    """Traffic weights of the two sides, on the provider's own scale."""

    stable: int
    candidate: int

    @property
    def total(self) -> int:
        return self.stable + self.candidate

    @property
    def candidate_percent(self) -> float:
        return 100.0 * self.candidate / self.total if self.total else 0.0

    @property
    def only_stable(self) -> bool:
        return self.stable > 0 and self.candidate == 0

    @property
    def only_candidate(self) -> bool:
        return self.candidate > 0 and self.stable == 0

    def __str__(self) -> str:
        return f"stable {self.stable} / candidate {self.candidate}"


ALL_STABLE = Weights(stable=TOTAL, candidate=0)
ALL_CANDIDATE = Weights(stable=0, candidate=TOTAL)


@dataclass(frozen=True)
class Step:
    """Set `weights`, then wait `pause_seconds` before the gates decide."""

    number: int  # 1-based
    weights: Weights
    pause_seconds: float


def split(candidate_percent: int) -> Weights:
    if not 0 <= candidate_percent <= TOTAL:
        raise UserError(f"a traffic split must be 0-100%, got {candidate_percent}")
    return Weights(stable=TOTAL - candidate_percent, candidate=candidate_percent)


def canary_steps(strategy: Canary) -> list[Step]:
    """Explicit steps, or `percent` more every `every_seconds` up to 100 (the last step may be
    smaller: linear 30% is 30, 60, 90, 100)."""
    if strategy.steps is not None:
        percents = list(strategy.steps)
        pause = strategy.pause_seconds
    else:
        assert strategy.linear is not None  # the spec guarantees one of the two
        increment = strategy.linear.percent
        percents = [*range(increment, TOTAL, increment), TOTAL]
        pause = strategy.linear.every_seconds
    return [Step(i, split(p), pause) for i, p in enumerate(percents, start=1)]


def blue_green_steps(strategy: BlueGreen) -> list[Step]:
    """One switch: everything to the candidate at once."""
    return [Step(1, ALL_CANDIDATE, strategy.pause_seconds)]


def steps_for(strategy: Strategy) -> list[Step]:
    """The traffic steps of a weight-based strategy; shadow and A/B do not move weights."""
    if isinstance(strategy, Canary):
        return canary_steps(strategy)
    if isinstance(strategy, BlueGreen):
        return blue_green_steps(strategy)
    raise UserError(f"the {strategy.kind} strategy does not move traffic by weight")
