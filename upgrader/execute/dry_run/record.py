"""What a dry run records instead of a change: the intended calls, in order."""

from __future__ import annotations

from dataclasses import dataclass

from upgrader.core.errors import PermanentError
from upgrader.execute.reporter import Reporter

DRY_RUN_UPDATE_PREFIX = "dry-run-"


@dataclass(frozen=True)
class IntendedCall:
    service: str  # eks, ec2, autoscaling, kubernetes
    action: str  # the API's name: UpdateClusterVersion, cordon, evict, ...
    params: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        args = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.service}:{self.action}" + (f" {args}" if args else "")


class ServerRefusedError(PermanentError):
    """AWS (DryRun) or the API server (dryRun=All), asked first, refused a change the run
    would make."""


class Recorder:
    """The calls a dry run would have made, in order."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.calls: list[IntendedCall] = []

    def record(self, service: str, action: str, **params: object) -> None:
        call = IntendedCall(
            service, action, tuple((k, str(v)) for k, v in params.items() if v is not None)
        )
        self.calls.append(call)
        self.reporter.action(f"call {call}", dry_run=True)
