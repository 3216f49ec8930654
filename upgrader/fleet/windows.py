"""Maintenance windows: may a cluster start upgrading now, and if not, when?

Days, start and end are local times in the window's IANA zone (zoneinfo), so a window stays at
02:00 Paris time across daylight-saving changes. An end before the start crosses midnight and
belongs to the day it starts on (kured's and system-upgrade-controller's reading). Only the start
of a cluster's upgrade is gated: a running upgrade is never cut off at the window's end.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from upgrader.fleet.spec import Window

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _day(date: dt.date) -> str:
    return _DAYS[date.weekday()]


def is_open(window: Window, at: float) -> bool:
    local = dt.datetime.fromtimestamp(at, tz=ZoneInfo(window.timezone))
    now = local.time().replace(tzinfo=None)
    if window.start < window.end:
        return _day(local.date()) in window.days and window.start <= now < window.end
    # Crosses midnight: the evening part on a listed day, or the morning after one.
    yesterday = local.date() - dt.timedelta(days=1)
    return (_day(local.date()) in window.days and now >= window.start) or (
        _day(yesterday) in window.days and now < window.end
    )


def next_open(window: Window, at: float) -> float:
    """The next instant at or after `at` when the window is open."""
    if is_open(window, at):
        return at
    zone = ZoneInfo(window.timezone)
    local = dt.datetime.fromtimestamp(at, tz=zone)
    for offset in range(8):
        date = local.date() + dt.timedelta(days=offset)
        if _day(date) not in window.days:
            continue
        start = dt.datetime.combine(date, window.start, tzinfo=zone).timestamp()
        if start >= at:
            return start
    raise AssertionError("a window with at least one day opens within a week")


def describe(window: Window) -> str:
    days = ",".join(window.days) if len(window.days) < 7 else "daily"
    return f"{days} {window.start:%H:%M}-{window.end:%H:%M} {window.timezone}"
