"""Progress a person (or a CI job) can trust during long work: what a wait is at, and a heartbeat.

A control-plane update takes ten minutes, a node-group drain can take an hour. CI systems kill
jobs that print nothing for a while (GitLab and Jenkins after minutes of silence), and a person
cannot tell a stuck run from a slow one. So every reporter says how far a wait or a drain is,
how long it has taken, what the budget bound predicts, and repeats itself at least every
`HEARTBEAT_SECONDS` of the Clock's time even when nothing changed.

Pure values and formatting; the drain computes a `DrainTally` (`upgrader.core.progress`, named
here too), the reporters print it.
"""

from __future__ import annotations

import math

from upgrader.core.progress import DrainTally, budget_bound, clock_text

# At most this long (Clock seconds) between two progress lines of a wait or a drain: the
# promise. Waits tell their reporter every TICK_SECONDS, and a reporter repeats an unchanged
# line after REPEAT_AFTER_SECONDS, so no gap exceeds REPEAT_AFTER + TICK = HEARTBEAT.
HEARTBEAT_SECONDS = 30.0
TICK_SECONDS = 10.0
REPEAT_AFTER_SECONDS = HEARTBEAT_SECONDS - TICK_SECONDS

__all__ = [
    "HEARTBEAT_SECONDS",
    "REPEAT_AFTER_SECONDS",
    "TICK_SECONDS",
    "Beat",
    "DrainTally",
    "budget_bound",
    "clock_text",
]


class Beat:
    """Decides when a progress line is due: its text changed, or a heartbeat is."""

    def __init__(self) -> None:
        self._text: dict[str, str] = {}
        self._at: dict[str, float] = {}

    def due(self, kind: str, text: str, now: float | None) -> bool:
        changed = self._text.get(kind) != text
        stale = now is not None and now - self._at.get(kind, -math.inf) >= REPEAT_AFTER_SECONDS
        if not (changed or stale):
            return False
        self._text[kind] = text
        if now is not None:
            self._at[kind] = now
        return True

    def clear(self) -> None:
        self._text.clear()
        self._at.clear()
