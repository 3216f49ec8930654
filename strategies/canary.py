"""Canary: traffic moves to the candidate in steps (explicit, or linear), each one read back,
baked and gated; stable is scaled down after the last step and its delay.

`steps` reads nothing: the same sequence drives `rollout plan`, the dry run and the run.
"""

from __future__ import annotations

from strategies.spec import Canary
from strategies.steps import TOTAL, Analysis, Pause, Retire, RolloutStep, SetWeights, split


def steps(strategy: Canary) -> list[RolloutStep]:
    """Explicit steps, or `percent` more every `every_seconds` up to 100 (the last step may be
    smaller: linear 30% is 30, 60, 90, 100); gates before the first shift and after each."""
    if strategy.steps is not None:
        percents = list(strategy.steps)
        pause = strategy.pause_seconds
    else:
        assert strategy.linear is not None  # the spec guarantees one of the two
        increment = strategy.linear.percent
        percents = [*range(increment, TOTAL, increment), TOTAL]
        pause = strategy.linear.every_seconds
    out: list[RolloutStep] = [Analysis(0, "step 0")]
    for number, percent in enumerate(percents, start=1):
        out += [
            SetWeights(number, split(percent)),
            Pause(number, pause),
            Analysis(number, f"step {number}"),
        ]
    out.append(Retire(len(percents), "stable", strategy.scale_down_delay_seconds))
    return out
