"""What a dry run records instead of a change: the run engine's `Recorder` (one shape for every
dry run, `upgrader.core.run.dry_run`), told to the upgrade's `Reporter` as it records."""

from __future__ import annotations

from upgrader.core.run.dry_run import (
    DRY_RUN_UPDATE_PREFIX,
    IntendedCall,
    Recorder,
    ServerRefusedError,
)

__all__ = ["DRY_RUN_UPDATE_PREFIX", "IntendedCall", "Recorder", "ServerRefusedError"]
