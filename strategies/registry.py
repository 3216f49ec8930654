"""Which strategy module makes a spec's steps: one module per strategy, named after it."""

from __future__ import annotations

from strategies import ab, blue_green, canary, recreate, rolling, shadow
from strategies.spec import AbTest, BlueGreen, Canary, Recreate, Rolling, Shadow, Strategy
from strategies.steps import RolloutStep, Step, weight_steps
from upgrader.core.errors import UserError


def steps_for(strategy: Strategy) -> list[Step]:
    """The traffic steps of a weight-based strategy; shadow and A/B do not move weights."""
    if isinstance(strategy, Canary):
        return weight_steps(canary.steps(strategy))
    if isinstance(strategy, BlueGreen):
        return weight_steps(blue_green.steps(strategy))
    raise UserError(f"the {strategy.kind} strategy does not move traffic by weight")


def steps_of(strategy: Strategy, stable_replicas: int = 0) -> list[RolloutStep]:
    """The typed steps of any strategy; rolling and recreate size theirs from stable's replicas
    as read before the run."""
    if isinstance(strategy, Canary):
        return canary.steps(strategy)
    if isinstance(strategy, BlueGreen):
        return blue_green.steps(strategy)
    if isinstance(strategy, Rolling):
        return rolling.steps(strategy, stable_replicas)
    if isinstance(strategy, Recreate):
        return recreate.steps(strategy, stable_replicas)
    if isinstance(strategy, AbTest):
        return ab.steps(strategy)
    assert isinstance(strategy, Shadow)
    return shadow.steps(strategy)
