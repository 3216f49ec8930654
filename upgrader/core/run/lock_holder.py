"""Who holds a lock, and whether that holder is provably gone.

A lease's holder is written as `user@host pid N` (plus a run id for upgrades), so a refusal says
whom to ask. It also lets a run on the same host prove the holder dead: a CI job cancelled with
SIGKILL leaves a fresh lease behind, and waiting out its duration (two minutes) for a process
that no longer exists helps nobody. Only a holder on this very host can be proven dead (its PID
is gone, or now belongs to a process that is not eksup); a holder elsewhere is trusted until
its lease goes stale.

Hosts share a name across containers only by deliberate configuration (`--hostname`); a pod's
hostname is its own name. That is the residual risk, and why the proof also requires the PID's
command line, when the PID exists, to be eksup's.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import re
import socket
from pathlib import Path
from typing import Protocol

_HOLDER = re.compile(r"@(?P<host>[^\s@]+) pid (?P<pid>\d+)(?:\s|$)")


class Processes(Protocol):
    """This host's process table, as the lock needs it."""

    def hostname(self) -> str: ...

    def pid(self) -> int: ...

    def is_eksup(self, pid: int) -> bool | None:
        """True: an eksup process runs as `pid`; False: no process, or another program;
        None: cannot tell (another user's process, no /proc)."""


class LocalProcesses:
    """The real process table (Linux /proc; elsewhere, only whether the PID exists)."""

    def hostname(self) -> str:
        return socket.gethostname()

    def pid(self) -> int:
        return os.getpid()

    def is_eksup(self, pid: int) -> bool | None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return None  # it exists, as another user's: cannot be proven gone
        except OSError:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return b"eksup" in cmdline or b"upgrader" in cmdline


def holder_name(run_id: str | None = None, processes: Processes | None = None) -> str:
    """ "alice@laptop pid 4242" (and " run r-1a2b3c4d"): who a refusal or a state names."""
    processes = processes or LocalProcesses()
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    name = f"{user}@{processes.hostname()} pid {processes.pid()}"
    return f"{name} run {run_id}" if run_id else name


def dead_here(holder: str, processes: Processes) -> bool:
    """The holder ran on this host, is not this process, and its PID is gone (or reused by
    another program)."""
    match = _HOLDER.search(holder)
    if match is None or match.group("host") != processes.hostname():
        return False
    pid = int(match.group("pid"))
    if pid == processes.pid():
        return False
    return processes.is_eksup(pid) is False


def when(moment: float, now: float) -> str:
    """RFC 3339 in UTC and how long ago: `2026-01-01T00:02:00Z (3m ago)`."""
    stamp = dt.datetime.fromtimestamp(moment, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{stamp} ({ago(now - moment)})"


def ago(seconds: float) -> str:
    if seconds < 0:
        return f"in {_span(-seconds)}"
    return f"{_span(seconds)} ago"


def _span(seconds: float) -> str:
    whole = int(seconds)
    if whole < 120:
        return f"{whole}s"
    if whole < 2 * 3600:
        return f"{whole // 60}m"
    if whole < 2 * 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d"
