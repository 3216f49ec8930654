"""Running several clusters at once: real threads, or threads taking turns on virtual time.

Both engines' local pool and the fleet planner start work with `spawn` and wait by polling on
the `Clock` port, so the same scheduling code runs against AWS (threads, wall time) and against
the sandbox. The sandbox's `VirtualClock` only moves when someone sleeps; two threads sleeping
on it at once would add their waits instead of overlapping them, and its fakes expect one caller
at a time. `TurnTakingClock` fixes both: member threads run one at a time, and a thread that
sleeps hands the turn on; when every member sleeps, time jumps to the earliest wake-up. Two
30-minute upgrades in parallel then take 30 virtual minutes, as they would on AWS.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol, TypeVar

from upgrader.core.ports import Clock

T = TypeVar("T")


class Pool(Protocol):
    @property
    def clock(self) -> Clock: ...

    def spawn(self, work: Callable[[], T]) -> Future[T]: ...

    def member(self) -> AbstractContextManager[None]:
        """The calling (coordinating) thread takes part for the duration."""
        ...


class ThreadPool:
    """Real threads on a real clock: for fleets of real clusters."""

    def __init__(self, clock: Clock, workers: int = 64) -> None:
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eksup-fleet")

    def spawn(self, work: Callable[[], T]) -> Future[T]:
        return self._executor.submit(work)

    @contextmanager
    def member(self) -> Iterator[None]:
        try:
            yield
        finally:
            self._executor.shutdown(wait=True)


class _Base(Protocol):
    def now(self) -> float: ...
    def advance_to(self, when: float) -> None: ...


class TurnTakingClock:
    """A `Clock` over the sandbox's virtual clock for member threads that take turns."""

    def __init__(self, base: _Base) -> None:
        self._base = base
        self._cond = threading.Condition()
        self._holder: int | None = None
        self._ready: deque[int] = deque()
        self._sleepers: list[tuple[float, int, int]] = []
        self._seq = itertools.count()
        self._members: set[int] = set()

    def now(self) -> float:
        return self._base.now()

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds}")
        me = threading.get_ident()
        with self._cond:
            if me not in self._members:
                self._base.advance_to(self._base.now() + seconds)
                return
            heapq.heappush(self._sleepers, (self._base.now() + seconds, next(self._seq), me))
            self._holder = None
            self._dispatch()
            self._cond.wait_for(lambda: self._holder == me)

    def join(self) -> None:
        me = threading.get_ident()
        with self._cond:
            self._members.add(me)
            self._ready.append(me)
            self._dispatch()
            self._cond.wait_for(lambda: self._holder == me)

    def leave(self) -> None:
        with self._cond:
            self._members.discard(threading.get_ident())
            self._holder = None
            self._dispatch()

    def _dispatch(self) -> None:
        if self._holder is not None:
            return
        if self._ready:
            self._holder = self._ready.popleft()
        elif self._sleepers:
            wake, _, who = heapq.heappop(self._sleepers)
            # Every member sleeps: the world moves on to the first wake-up, firing its events.
            self._base.advance_to(wake)
            self._holder = who
        self._cond.notify_all()


class TurnTakingPool:
    """Member threads on a `TurnTakingClock`: the sandbox's pool."""

    def __init__(self, base: _Base) -> None:
        self.clock = TurnTakingClock(base)

    def spawn(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            self.clock.join()
            try:
                future.set_result(work())
            except BaseException as error:
                future.set_exception(error)
            finally:
                self.clock.leave()

        threading.Thread(target=run, name="eksup-fleet-sandbox", daemon=True).start()
        return future

    @contextmanager
    def member(self) -> Iterator[None]:
        self.clock.join()
        try:
            yield
        finally:
            self.clock.leave()


def wait_all(pool: Pool, futures: list[Future[T]], poll: float) -> None:
    """Wait, on the pool's clock, until every future is done."""
    while not all(f.done() for f in futures):
        pool.clock.sleep(poll)
