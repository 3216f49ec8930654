"""One coordinator per fleet run: a lock file beside the run's journal.

Two coordinators of one run would start the same clusters twice and interleave their records.
The run engine's Lease lives in a Kubernetes cluster, and a fleet run on the local engine has
no cluster of its own (its members each hold their own Lease while they upgrade), so the lock
is an exclusive `flock` on `run.fleet/coordinator.lock`. The kernel drops it when the holder's
process ends, however it ends: a crashed coordinator never leaves a stale lock behind. The file
names the holder (`user@host pid N run f-...`) for the refusal.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from upgrader.core.errors import RefusedError

LOCK_FILE = "coordinator.lock"


@contextmanager
def coordinator_lock(directory: Path, holder: str, fleet_run: str) -> Iterator[None]:
    """Held while the block runs; RefusedError (exit 3, nothing written) while another
    coordinator holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _holder(path) or "another process"
            raise RefusedError(
                f"fleet run {fleet_run} is being run by {other} ({path}): wait for it to end, "
                "or `eksup fleet stop` it first"
            ) from None
        # Never deleted: a second coordinator could lock the unlinked file while a third
        # creates a new one. Truncated and rewritten by each holder instead.
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the flock


def _holder(path: Path) -> str:
    try:
        # The holder wrote `holder.encode()`; bytes.decode is UTF-8 always, no codec to name.
        return path.read_bytes().decode(errors="replace").strip().splitlines()[0]
    except (OSError, IndexError):
        return ""
