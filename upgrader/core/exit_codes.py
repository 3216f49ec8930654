"""The exit-code contract, in one place (documented in the README).

CI pipelines branch on these, so they never change meaning.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # an error: bad input eksup could name, AWS or the cluster failing, a bug
    BLOCKED = 2  # a plan has a blocking finding; also click's own usage errors
    REFUSED = 3  # a safety rule refused before any change was made
    STOPPED = 4  # stopped part-way; `eksup execute --resume` continues
