"""Virtual time for the sandbox: the world only moves when eksup waits.

`VirtualClock` implements the `Clock` port. Simulated things (a pod becoming Ready, a node
joining, an EKS update finishing) are events scheduled at a virtual instant; `sleep` advances
time and fires every event due on the way, in order. A 30-minute drain therefore costs only the
events it contains, and tests can assert on elapsed virtual time.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

# 2026-01-01T00:00:00Z: a fixed epoch keeps every sandbox run reproducible.
SANDBOX_EPOCH = 1_767_225_600.0


@dataclass(order=True)
class _Event:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class ScheduledEvent:
    """A handle to cancel an event that has not fired yet."""

    def __init__(self, event: _Event) -> None:
        self._event = event

    @property
    def when(self) -> float:
        return self._event.when

    def cancel(self) -> None:
        self._event.cancelled = True


class VirtualClock:
    def __init__(self, start: float = SANDBOX_EPOCH) -> None:
        self._now = start
        self._queue: list[_Event] = []
        self._seq = itertools.count()
        # The sandbox servers call in from request threads; one lock keeps time monotonic.
        self._lock = threading.RLock()

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds}")
        self.advance_to(self._now + seconds)

    def call_at(self, when: float, callback: Callable[[], None]) -> ScheduledEvent:
        """Run `callback` at virtual time `when` (at once on the next advance if in the past)."""
        with self._lock:
            event = _Event(max(when, self._now), next(self._seq), callback)
            heapq.heappush(self._queue, event)
            return ScheduledEvent(event)

    def call_later(self, delay: float, callback: Callable[[], None]) -> ScheduledEvent:
        return self.call_at(self._now + delay, callback)

    def advance_to(self, when: float) -> None:
        """Fire every event due up to `when`, each at its own instant, then stand at `when`."""
        with self._lock:
            while self._queue and self._queue[0].when <= when:
                event = heapq.heappop(self._queue)
                if event.cancelled:
                    continue
                self._now = max(self._now, event.when)
                event.callback()
            self._now = max(self._now, when)

    def run_due(self) -> None:
        """Fire the events due now (scheduled with zero delay) without moving time."""
        self.advance_to(self._now)

    def next_event_at(self) -> float | None:
        with self._lock:
            while self._queue and self._queue[0].cancelled:
                heapq.heappop(self._queue)
            return self._queue[0].when if self._queue else None

    def run_until_idle(self, limit: float = 7 * 24 * 3600.0) -> None:
        """Advance through every pending event, but never more than `limit` seconds ahead."""
        deadline = self._now + limit
        while (at := self.next_event_at()) is not None and at <= deadline:
            self.advance_to(at)

    @property
    def pending_events(self) -> int:
        return sum(1 for e in self._queue if not e.cancelled)
