"""What every dry run of the run engine shares: the calls it records instead of changes, and a
clock that waits without waiting.

A dry run (`execute --dry-run`, `rollout run --dry-run`) runs the same code as the real run on
wrapped ports: reads pass through, each change becomes an `IntendedCall` kept by a `Recorder`
and told as it is recorded. The wrappers are per port (`upgrader.execute.dry_run` for the
AWS and Kubernetes ports, `strategies.run.dry_run` for a rollout's traffic router); the
recorder and what it records are one shape for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from upgrader.core.errors import PermanentError

# The ids a dry run hands out for the changes it records (an EKS update, a Route 53 change):
# a later read of such an id answers "done" instead of asking the service.
DRY_RUN_UPDATE_PREFIX = "dry-run-"


@dataclass(frozen=True)
class IntendedCall:
    """A change a dry run would have made."""

    service: str  # eks, ec2, autoscaling, elbv2, route53, kubernetes
    action: str  # the API's name: UpdateClusterVersion, ModifyRule, cordon, scale, ...
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.service}:{self.action}" + (f" {args}" if args else "")


class ServerRefusedError(PermanentError):
    """AWS (DryRun) or the API server (dryRun=All), asked first, refused a change the run
    would make."""


class Announcer(Protocol):
    """Where a recorded call is told as it happens (an upgrade's `Reporter` is one)."""

    def action(self, description: str, *, dry_run: bool) -> None: ...


class Recorder:
    """The calls a dry run would have made, in order; each told to `announcer` as recorded."""

    def __init__(self, announcer: Announcer | None = None) -> None:
        self.announcer = announcer
        self.calls: list[IntendedCall] = []

    def record(self, service: str, action: str, **params: object) -> None:
        call = IntendedCall(
            service, action, tuple((k, str(v)) for k, v in params.items() if v is not None)
        )
        self.calls.append(call)
        if self.announcer is not None:
            self.announcer.action(f"call {call}", dry_run=True)


class DryRunClock:
    """A `Clock` for a run that changes nothing: it starts at the real time and its waits
    (pauses, polls, drain delays) move its time on at once. What a dry run reads is read at
    the start; what it would wait for is assumed done (the wrappers overlay it)."""

    def __init__(self, start: float) -> None:
        self.start = start
        self._now = start

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        self._now += max(seconds, 0.0)

    @property
    def waited(self) -> float:
        """The time the real run would have spent waiting so far."""
        return self._now - self.start
