"""How a run ended, and the exit code that says it: one mapping for every client of the run
engine (an upgrade's `execute`, every rollout command, a fleet leaf)."""

from __future__ import annotations

from enum import StrEnum

from upgrader.core.exit_codes import ExitCode


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"  # Ctrl-C, a declined or unapproved gate: --resume continues
    REFUSED = "refused"  # a step refused before this run changed anything
    WOULD_BLOCK = "would-block"  # dry run: the real run would be refused or fail


def exit_code(status: RunStatus) -> ExitCode:
    return {
        RunStatus.SUCCEEDED: ExitCode.OK,
        RunStatus.FAILED: ExitCode.FAILED,
        RunStatus.STOPPED: ExitCode.STOPPED,
        RunStatus.REFUSED: ExitCode.REFUSED,
        # Like a plan's blocking finding: the pipeline must not go on to the real run.
        RunStatus.WOULD_BLOCK: ExitCode.BLOCKED,
    }[status]


def dry_run_status(blocked: bool) -> RunStatus:
    """A dry run succeeds when the real run would go ahead, and says WOULD_BLOCK otherwise."""
    return RunStatus.WOULD_BLOCK if blocked else RunStatus.SUCCEEDED
