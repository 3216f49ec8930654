"""Bounds for the CLI's numeric options, checked as they are parsed.

`--drain-timeout -5` used to be accepted and `sandbox up --rate -5` said "up" while its server
crashed. A bad number is a usage error: one line naming the option, the value and the range,
exit 2, before anything runs (click's own range errors print a usage box instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import typer

from upgrader.core.exit_codes import ExitCode

N = TypeVar("N", int, float)


def within(
    low: float, *, above: bool = False, high: float | None = None, unit: str = ""
) -> Callable[[typer.CallbackParam, N | None], N | None]:
    """A Typer callback: the value must be >= `low` (> `low` when `above`), <= `high`, finite."""
    wanted = f"{'>' if above else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")

    def check(param: typer.CallbackParam, value: N | None) -> N | None:
        if value is None:
            return None
        ok = (
            math.isfinite(value)
            and (value > low if above else value >= low)
            and (high is None or value <= high)
        )
        if not ok:
            name = max(param.opts, key=len) if param.opts else str(param.name)
            typer.echo(f"eksup: error: {name} {value:g}: must be {wanted}{unit}", err=True)
            raise typer.Exit(ExitCode.BLOCKED)  # 2: a usage error, like click's own
        return value

    return check


SECONDS = " seconds"
WEEK = 7 * 86400.0
