"""Recreate: stable to 0 and gone, then the candidate up to stable's replicas, Ready, baked and
gated. The app is down in between; the run measures how long (no Ready pod on either side).
Traffic follows the Ready pods (the no-op router).
"""

from __future__ import annotations

from strategies.spec import Recreate, RolloutSpec
from strategies.steps import Analysis, AwaitGone, AwaitReady, Pause, RolloutStep, Scale


def steps(strategy: Recreate, replicas: int) -> list[RolloutStep]:
    """Two batches for stable's `replicas` as read before the run."""
    return [
        Scale(1, "stable", 0),
        AwaitGone(1, "stable"),
        Scale(2, "candidate", replicas),
        AwaitReady(2, "candidate", replicas),
        Pause(2, strategy.pause_seconds),
        Analysis(2, "batch 2"),
    ]


def describe(spec: RolloutSpec) -> str:
    app = spec.app
    moves = f"{app.namespace}/{app.stable.deployment} -> {app.candidate.deployment}"
    return (
        f"recreate {moves}: stable to 0 and gone, then the candidate up to stable's "
        "replicas, Ready then gated; the app is down in between (the report says how long)"
    )
