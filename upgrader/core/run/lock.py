"""One execution per cluster: a coordination.k8s.io Lease `eksup-lock` in kube-system.

Two eksup runs on one cluster would race each other's drains and updates. The lock lives in
the cluster rather than on a machine, so it also stops a colleague's laptop or a CI job. A
holder renews it while it waits (every `renew_every_seconds`); a crashed holder stops renewing
and its lease goes stale after `duration_seconds`. A stale lease is still not taken silently:
only with an explicit option (`--take-over-lock`), because "stale" may only mean that the
other run's machine lost its network for a while. The exception is a holder this host can prove
dead (same host, its PID gone: a cancelled CI job, a kill -9): its lease is taken over at once,
fresh or stale, and the run says so (`lock_holder`).

The same lock, under another name and namespace, keeps two rollouts of one app apart (a Lease
`eksup-rollout-<app>` beside the app). A rollout's promote or abort does not wait for a live
holder: it asks it through the journal (`live_holder`), and finishes the work itself of a
holder known gone (`gone`).
"""

from __future__ import annotations

from dataclasses import replace

from upgrader.core.errors import ConflictError, NotFoundError, PermanentError, RefusedError
from upgrader.core.kube import Lease
from upgrader.core.ports import Clock, Cluster
from upgrader.core.run.lock_holder import LocalProcesses, Processes, ago, dead_here, when

LOCK_NAMESPACE = "kube-system"
LOCK_NAME = "eksup-lock"


class LockLostError(PermanentError):
    """Someone else holds the lease now: this run must stop before it changes anything more."""


def describe(lease: Lease, now: float) -> str:
    return (
        f"held by {lease.holder!r} since {when(lease.acquired_at, now)}, renewed "
        f"{ago(now - lease.renewed_at)}, for {lease.duration_seconds}s"
    )


class ClusterLock:
    def __init__(
        self,
        cluster: Cluster,
        clock: Clock,
        holder: str,
        *,
        duration_seconds: int = 120,  # a crashed run blocks others for two minutes at most
        renew_every_seconds: float = 30.0,  # four renewals per duration: one lost is harmless
        take_over_stale: bool = False,
        namespace: str = LOCK_NAMESPACE,
        name: str = LOCK_NAME,
        what: str = "cluster",  # what the lease locks, for the refusal ("rollout of shop/web")
        processes: Processes | None = None,  # this host's processes, to prove a holder dead
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.what = what
        self.cluster = cluster
        self.clock = clock
        self.holder = holder
        self.duration_seconds = duration_seconds
        self.renew_every_seconds = renew_every_seconds
        self.take_over_stale = take_over_stale
        self.processes = processes or LocalProcesses()
        self._lease: Lease | None = None
        # Set by `acquire` when it took the lease from another holder: what to tell the user.
        self.notice: str | None = None

    @property
    def held(self) -> bool:
        return self._lease is not None

    def blocker(self) -> str | None:
        """Why `acquire` would be refused now, or None; reads only (for dry runs)."""
        try:
            lease = self.cluster.get_lease(self.namespace, self.name)
        except NotFoundError:
            return None
        return self._refusal(lease)

    def live_holder(self) -> Lease | None:
        """The lease when another run holds it and may be alive: not ours, not expired, not
        a process this host can prove dead. None when free, ours, stale or provably gone."""
        try:
            lease = self.cluster.get_lease(self.namespace, self.name)
        except NotFoundError:
            return None
        if lease.holder == self.holder or lease.expired(self.clock.now()):
            return None
        if dead_here(lease.holder, self.processes):
            return None
        return lease

    def gone(self) -> str | None:
        """Why the lease's holder is known gone, or None (free, ours, or maybe alive). A gone
        holder's lease is taken over by `acquire` (a stale one: once `take_over_stale`)."""
        try:
            lease = self.cluster.get_lease(self.namespace, self.name)
        except NotFoundError:
            return None
        if lease.holder == self.holder:
            return None
        if dead_here(lease.holder, self.processes):
            return f"the run of {lease.holder} is gone (no such process on this machine)"
        now = self.clock.now()
        if lease.expired(now):
            since = ago(now - lease.renewed_at)
            return f"the run of {lease.holder} stopped renewing its lease {since}"
        return None

    def _refusal(self, lease: Lease) -> str | None:
        now = self.clock.now()
        if lease.holder == self.holder:
            return None
        if dead_here(lease.holder, self.processes):
            return None
        if not lease.expired(now):
            return (
                f"{self.what} is locked: lease {self.namespace}/{self.name} is "
                f"{describe(lease, now)}; "
                "another eksup run is in progress"
            )
        if not self.take_over_stale:
            return (
                f"{self.what} is locked by a stale lease {self.namespace}/{self.name} "
                f"({describe(lease, now)}): if that run is really gone, re-run with "
                "--take-over-lock"
            )
        return None

    def acquire(self) -> None:
        now = self.clock.now()
        try:
            lease = self.cluster.get_lease(self.namespace, self.name)
        except NotFoundError:
            fresh = Lease(self.namespace, self.name, self.holder, now, now, self.duration_seconds)
            try:
                self._lease = self.cluster.create_lease(fresh)
            except ConflictError:
                # Someone created it between our read and our create: they won.
                lease = self.cluster.get_lease(self.namespace, self.name)
                raise RefusedError(self._refusal(lease) or f"{self.what} is locked") from None
            return
        refusal = self._refusal(lease)
        if refusal is not None:
            raise RefusedError(refusal)
        if lease.holder != self.holder:
            why = (
                "its process on this host is gone"
                if dead_here(lease.holder, self.processes)
                else "--take-over-lock"
            )
            self.notice = (
                f"took over lease {self.namespace}/{self.name} from {lease.holder!r} ({why}; "
                f"it was renewed {ago(now - lease.renewed_at)})"
            )
        taken = replace(
            lease,
            holder=self.holder,
            acquired_at=now,
            renewed_at=now,
            duration_seconds=self.duration_seconds,
        )
        try:
            self._lease = self.cluster.update_lease(taken)
        except ConflictError:
            raise RefusedError(
                f"lease {self.namespace}/{self.name} changed while taking it over; another run "
                "took it"
            ) from None

    def renew(self, *, force: bool = False) -> None:
        """Extend the lease when a renewal is due. Raises LockLostError if it was taken."""
        lease = self._lease
        if lease is None:
            return
        now = self.clock.now()
        if not force and now - lease.renewed_at < self.renew_every_seconds:
            return
        try:
            self._lease = self.cluster.update_lease(replace(lease, renewed_at=now))
        except (ConflictError, NotFoundError):
            self._lease = None
            raise LockLostError(
                f"lost lease {self.namespace}/{self.name}: another run took it over or deleted "
                "it; stopping before changing anything more"
            ) from None

    def release(self) -> None:
        """Delete the lease if it is still ours; never someone else's."""
        if self._lease is None:
            return
        self._lease = None
        try:
            current = self.cluster.get_lease(self.namespace, self.name)
            if current.holder == self.holder:
                self.cluster.delete_lease(self.namespace, self.name)
        except NotFoundError:
            pass
