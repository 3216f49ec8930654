"""Is the run that holds an app's rollout lease still alive?

A killed `rollout run` leaves its lease behind, fresh for up to its duration, and its state
`running`. `abort`, `promote` and `rollback` must not hand their work to a run that will never
do it: they finish it themselves once that run is known dead. Dead means one of two things we
can establish: the lease stopped being renewed (it expired), or the holder names this machine
and its process is gone (`holder_name()` writes "user@host pid N"). A lease held from another
machine and still renewed is a live run: it is asked, through the ConfigMap, as before.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Callable

from upgrader.core.errors import NotFoundError
from upgrader.core.kube import Lease
from upgrader.core.run.lock import ClusterLock

_HOLDER = re.compile(r"^(?P<user>[^@]*)@(?P<host>\S+) pid (?P<pid>\d+)$")


def pid_alive(pid: int) -> bool:
    """Signal 0 checks a process exists without touching it (kill(2))."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    return True


def process_gone(
    holder: str,
    *,
    hostname: Callable[[], str] = socket.gethostname,
    alive: Callable[[int], bool] = pid_alive,
) -> bool:
    """True when `holder` names a process on this machine that no longer runs."""
    match = _HOLDER.match(holder)
    if match is None or match.group("host") != hostname():
        return False
    pid = int(match.group("pid"))
    return pid != os.getpid() and not alive(pid)


def dead_holder(
    lock: ClusterLock, *, gone: Callable[[str], bool] = process_gone
) -> tuple[Lease, str] | None:
    """The lease of a run that is gone, and why; None when free, ours, or held by a live run."""
    try:
        lease = lock.cluster.get_lease(lock.namespace, lock.name)
    except NotFoundError:
        return None
    if lease.holder == lock.holder:
        return None
    now = lock.clock.now()
    if gone(lease.holder):
        return lease, f"the run of {lease.holder} is gone (no such process on this machine)"
    if lease.expired(now):
        age = now - lease.renewed_at
        return lease, f"the run of {lease.holder} stopped renewing its lease {age:.0f}s ago"
    return None


def free_dead_holder(lock: ClusterLock, *, gone: Callable[[str], bool] = process_gone) -> str:
    """Make a dead run's lease takeable by `lock`: an expired one is taken over, the fresh
    lease of a process known gone is deleted. Returns what was found ("" when nothing)."""
    found = dead_holder(lock, gone=gone)
    if found is None:
        return ""
    lease, why = found
    if lease.expired(lock.clock.now()):
        lock.take_over_stale = True
    else:
        with contextlib.suppress(NotFoundError):
            lock.cluster.delete_lease(lock.namespace, lock.name)
    return why
