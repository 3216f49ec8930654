"""The real `Clock`s: the wall clock, or the virtual clock of a served sandbox.

Every date decision in eksup (support windows, days left, the 7-day rollback window, lock
expiry, ages) reads "now" from the one `Clock` a command is given; `clock_from_environment` picks
it. A shell that sourced a served sandbox's `aws.env` talks to a world that lives on its own
virtual date (see `upgrader.sandbox.clock`), so its commands must read that date too, or a plan
made "today" would judge the sandbox's versions by a calendar the sandbox is not on.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING

from upgrader.core.errors import UserError

if TYPE_CHECKING:
    from upgrader.core.ports import Clock

# Set by `eksup sandbox up` in `aws.env`: the served sandbox's clock endpoint.
SANDBOX_CLOCK_VARIABLE = "EKSUP_SANDBOX_CLOCK"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TICK_SECONDS = 0.05  # the served sandbox's ticker period (DEFAULT_TICK_SECONDS there)


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ServedSandboxClock:
    """The virtual clock of a sandbox served by `eksup sandbox up`, read over loopback HTTP.

    Virtual time there runs at `rate` virtual seconds per real second, so waiting N virtual
    seconds takes N / rate real ones."""

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme != "http" or parsed.hostname not in _LOOPBACK:
            raise UserError(
                f"{SANDBOX_CLOCK_VARIABLE}={url}: a sandbox clock is served on loopback only "
                "(http://127.0.0.1:PORT/...); unset it to use the wall clock"
            )
        self.url = url
        self._rate: float | None = None

    def _read(self) -> tuple[float, float]:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                answer = json.load(response)
            return float(answer["now"]), float(answer["rate"])
        except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(
                f"{SANDBOX_CLOCK_VARIABLE}={self.url}: the sandbox's clock does not answer "
                f"({e}); `eksup sandbox status`, or unset it after `eksup sandbox down`"
            ) from None

    def now(self) -> float:
        now, self._rate = self._read()
        return now

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._rate is None:
            self._rate = self._read()[1]
        # A sandbox with no ticker never moves by itself: waiting would be waiting forever.
        # Its ticker moves time in steps of a twentieth of a second: polling faster is waste.
        real = seconds / self._rate if self._rate > 0 else 0.0
        time.sleep(max(real, _TICK_SECONDS))


def clock_from_environment(environ: dict[str, str] | None = None) -> Clock:
    """The served sandbox's clock when `aws.env` says one is in use, else the wall clock."""
    url = (os.environ if environ is None else environ).get(SANDBOX_CLOCK_VARIABLE, "")
    return ServedSandboxClock(url) if url else SystemClock()


if TYPE_CHECKING:
    _: type[Clock] = SystemClock  # mypy proves both satisfy the port
    __: type[Clock] = ServedSandboxClock
