"""The typed steps every strategy is made of, and the weights they go through.

A strategy (`strategies/<name>.py`) turns a spec into an ordered list of these steps; one loop
runs them over the app's `TrafficRouter` (the no-op one for strategies that move pods). Each
step carries `number`, the step of the rollout it belongs to as people count them (0: before
the first change; -1: on the way back to stable).

Weights are percentages of the traffic (stable + candidate = 100 on every step). Both traffic
providers take them as they are: an ALB forward weight is 0-999 and a Route 53 weight 0-255,
and 100 fits both, so no rescaling can round a 5% step away. Weights read back from a live
service may use another scale (a listener written by hand with weight 1); `Weights.percent`
compares them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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


Side = Literal["stable", "candidate"]
RouteKind = Literal["header", "mirror"]


@dataclass(frozen=True)
class SetWeights:
    """Set the router's weights and read them back until they show."""

    number: int
    weights: Weights


@dataclass(frozen=True)
class SetRoute:
    """Turn the header route (A/B) or the mirror route (shadow) on or off, read back."""

    number: int
    kind: RouteKind
    on: bool


@dataclass(frozen=True)
class Scale:
    """Scale one side's Deployment; `replicas` None means as many as stable has now."""

    number: int
    side: Side
    replicas: int | None


@dataclass(frozen=True)
class AwaitRoom:
    """Rolling: wait until scaling stable down to `stable_after` keeps `min_ready` pods Ready."""

    number: int
    stable_after: int
    min_ready: int


@dataclass(frozen=True)
class AwaitReady:
    """Wait until the side has `replicas` Ready pods (None: as many as it asks for)."""

    number: int
    side: Side
    replicas: int | None


@dataclass(frozen=True)
class AwaitGone:
    """Wait until no pod of the side is left, terminating ones included."""

    number: int
    side: Side


@dataclass(frozen=True)
class Pause:
    """Bake: let the step's traffic run this long before the gates decide."""

    number: int
    seconds: float


@dataclass(frozen=True)
class Analysis:
    """Evaluate every gate until all pass; a gate at its failure limit aborts."""

    number: int
    label: str


@dataclass(frozen=True)
class Retire:
    """Scale the side that no longer gets traffic to 0, after the drain delay (`delay`: the
    strategy's own, on top of the router's)."""

    number: int
    side: Side
    delay: float = 0.0


RolloutStep = (
    SetWeights | SetRoute | Scale | AwaitRoom | AwaitReady | AwaitGone | Pause | Analysis | Retire
)


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


def weight_steps(steps: Sequence[RolloutStep]) -> list[Step]:
    """The weight changes of a typed sequence, each with the pause that follows it: what a
    plan's table and a dry run show of canary and blue/green."""
    found: list[Step] = []
    pauses = {step.number: step.seconds for step in steps if isinstance(step, Pause)}
    for step in steps:
        if isinstance(step, SetWeights):
            found.append(Step(step.number, step.weights, pauses.get(step.number, 0.0)))
    return found
