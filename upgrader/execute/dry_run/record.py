"""What a dry run records instead of a change: the intended calls, in order."""

from __future__ import annotations

from upgrader.core.errors import PermanentError
from upgrader.execute.reporter import Reporter
from upgrader.execute.run_result import IntendedCall

DRY_RUN_UPDATE_PREFIX = "dry-run-"


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
