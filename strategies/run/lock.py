"""One `rollout run`, `promote`, `abort` or `rollback` of an app at a time: a Lease
`eksup-rollout-<app>` in the app's namespace (the upgrade engine's `ClusterLock`, per app).

Two runs of one app would fight over its weights; runs of different apps do not interfere, so
each app has its own lease. The holder names the user, machine and process, so a refusal says
who to ask.
"""

from __future__ import annotations

from strategies.run.state import config_map_name
from strategies.spec import RolloutSpec
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import Lease
from upgrader.core.ports import Clock, Cluster
from upgrader.core.run import lock_holder
from upgrader.core.run.lock import ClusterLock


def holder_name() -> str:
    """ "alice@laptop pid 4242": who a refusal or the rollout state names."""
    return lock_holder.holder_name()


def rollout_lock(
    cluster: Cluster, clock: Clock, spec: RolloutSpec, holder: str, *, take_over_stale: bool
) -> ClusterLock:
    app = spec.app
    return ClusterLock(
        cluster,
        clock,
        holder,
        take_over_stale=take_over_stale,
        namespace=app.namespace,
        name=config_map_name(app.name),
        what=f"rollout of {app.namespace}/{app.name}",
    )


def live_holder(lock: ClusterLock) -> Lease | None:
    """The lease when another, still renewing, run holds it; None when free, ours or stale."""
    try:
        lease = lock.cluster.get_lease(lock.namespace, lock.name)
    except NotFoundError:
        return None
    if lease.holder == lock.holder or lease.expired(lock.clock.now()):
        return None
    return lease
