"""Rolling: stable and candidate Deployments behind one Service trade pods in batches, within
`max_surge` and `max_unavailable` of stable's replicas, as a Deployment's own rolling update
would; traffic follows the Ready pods (the no-op router).

Each batch: wait until stable can lose its pods and keep the Ready bound, scale stable down,
the candidate up, wait until the candidate's pods are Ready, bake, gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from strategies.spec import Rolling, RolloutSpec
from strategies.steps import Analysis, AwaitReady, AwaitRoom, Pause, RolloutStep, Scale
from upgrader.core.errors import UserError
from upgrader.core.kube import resolve_int_or_percent


@dataclass(frozen=True)
class Batch:
    """Desired replicas of each side after one batch of a rolling update."""

    stable: int
    candidate: int


def rolling_bounds(replicas: int, strategy: Rolling) -> tuple[int, int]:
    """(max surge, max unavailable) in pods, resolved as a Deployment resolves them: surge
    percentages round up, unavailability ones down, and both 0 means one unavailable."""
    surge = resolve_int_or_percent(strategy.max_surge, replicas, round_up=True)
    unavailable = resolve_int_or_percent(strategy.max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def rolling_batches(replicas: int, surge: int, unavailable: int) -> list[Batch]:
    """The batches from (replicas, 0) to (0, replicas), assuming each batch's pods are Ready
    before the next one: stable shrinks by what the Ready count can lose, then the candidate
    grows into the room the surge leaves."""
    if replicas <= 0:
        return []
    if surge == 0 and unavailable == 0:
        raise UserError("max_surge and max_unavailable must not both be 0")
    min_ready = max(replicas - unavailable, 0)
    stable, candidate = replicas, 0
    batches: list[Batch] = []
    while stable > 0 or candidate < replicas:
        ready = stable + candidate
        stable -= min(stable, max(ready - min_ready, 0))
        candidate = max(candidate, min(replicas, replicas + surge - stable))
        batches.append(Batch(stable, candidate))
    return batches


def steps(strategy: Rolling, replicas: int) -> list[RolloutStep]:
    """The batches for stable's `replicas` as read before the run."""
    surge, unavailable = rolling_bounds(replicas, strategy)
    min_ready = max(replicas - unavailable, 0)
    out: list[RolloutStep] = []
    for number, batch in enumerate(rolling_batches(replicas, surge, unavailable), start=1):
        # Down first: the batch is sized so the Ready count stays above the bound; up second:
        # the surge room is counted after the scale-down.
        out += [
            AwaitRoom(number, batch.stable, min_ready),
            Scale(number, "stable", batch.stable),
            Scale(number, "candidate", batch.candidate),
            AwaitReady(number, "candidate", batch.candidate),
            Pause(number, strategy.pause_seconds),
            Analysis(number, f"batch {number}"),
        ]
    return out


def describe(spec: RolloutSpec) -> str:
    """What `rollout plan` says (it reads nothing, so the batch sizes are given as the bounds
    they resolve from at run time)."""
    app, strategy = spec.app, spec.strategy
    assert isinstance(strategy, Rolling)
    moves = f"{app.namespace}/{app.stable.deployment} -> {app.candidate.deployment}"
    return (
        f"rolling {moves}: batches within max_surge {strategy.max_surge} and "
        f"max_unavailable {strategy.max_unavailable} of stable's replicas, each Ready "
        f"then gated after {strategy.pause_seconds:.0f}s; traffic follows the pods"
    )
