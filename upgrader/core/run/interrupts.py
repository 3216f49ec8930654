"""SIGTERM stops eksup the way a second Ctrl-C does, so every `finally` runs.

A cancelled CI job, `kill`, `docker stop` and Kubernetes all send SIGTERM first. Python's
default for it ends the process on the spot: no `finally`, so the Lease stayed held and blocked
the next run for its whole duration, and the journal never said the run stopped. Raising
`Terminated` (a KeyboardInterrupt) instead takes the path Ctrl-C takes: the step in progress is
journaled as stopped, the Lease is released, and the exit code is 4 (resume possible).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived."""


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signal.Signals(signum).name)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While inside, SIGTERM raises `Terminated`. Only the main thread can set a handler; a
    command run in another thread (a test harness) keeps the default."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
