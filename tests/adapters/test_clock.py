"""`SystemClock`: the real time, and real (short) sleeps."""

from __future__ import annotations

import time

from upgrader.adapters.clock import SystemClock


def test_now_is_wall_time() -> None:
    before = time.time()
    now = SystemClock().now()
    assert before <= now <= time.time()


def test_sleep_waits_and_ignores_non_positive_times() -> None:
    clock = SystemClock()
    started = time.monotonic()
    clock.sleep(0.01)
    clock.sleep(0)
    clock.sleep(-1)  # a deadline already passed: nothing to wait for
    assert 0.01 <= time.monotonic() - started < 1.0
