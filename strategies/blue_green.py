"""Blue/green: the candidate is brought up to stable's size and Ready, then all traffic
switches to it at once, read back, baked and gated; stable is scaled down after its delay.
"""

from __future__ import annotations

from strategies.spec import BlueGreen
from strategies.steps import (
    ALL_CANDIDATE,
    Analysis,
    AwaitReady,
    Pause,
    Retire,
    RolloutStep,
    Scale,
    SetWeights,
)


def steps(strategy: BlueGreen) -> list[RolloutStep]:
    """One switch, never onto a smaller side: the candidate at stable's replicas first."""
    return [
        Scale(0, "candidate", None),
        AwaitReady(0, "candidate", None),
        Analysis(0, "step 0"),
        SetWeights(1, ALL_CANDIDATE),
        Pause(1, strategy.pause_seconds),
        Analysis(1, "step 1"),
        Retire(1, "stable", strategy.scale_down_delay_seconds),
    ]
