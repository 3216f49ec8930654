"""The real `Clock`: wall time and real sleeps, for everything but tests and the sandbox."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from upgrader.ports import Clock


class SystemClock:
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


if TYPE_CHECKING:
    _: type[Clock] = SystemClock  # mypy proves SystemClock satisfies the port
