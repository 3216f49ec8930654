"""The per-cluster lock (`upgrader.core.run.lock`): one Lease, refused while fresh, taken over
only when asked, renewed, and never released from under another holder. How the engine holds it
through a run: tests/execute/test_lock.py."""

from __future__ import annotations

import pytest

from upgrader.core.errors import NotFoundError, RefusedError
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE, ClusterLock, LockLostError
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def kube(clock: VirtualClock) -> FakeCluster:
    return FakeCluster(clock)


def _lock(kube: FakeCluster, clock: VirtualClock, holder: str, **options: object) -> ClusterLock:
    return ClusterLock(kube, clock, holder, **options)  # type: ignore[arg-type]


def test_acquire_creates_the_lease_and_release_deletes_it(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    lock = _lock(kube, clock, "alice@laptop")
    lock.acquire()
    lease = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
    assert (lease.holder, lease.duration_seconds) == ("alice@laptop", 120)
    lock.release()
    with pytest.raises(NotFoundError):
        kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)


def test_a_fresh_lease_of_another_holder_is_refused(kube: FakeCluster, clock: VirtualClock) -> None:
    _lock(kube, clock, "alice@laptop").acquire()
    clock.sleep(60)
    with pytest.raises(RefusedError, match=r"held by 'alice@laptop'.*renewed 60s ago"):
        _lock(kube, clock, "bob@ci").acquire()


def test_a_stale_lease_is_taken_over_only_when_asked(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    _lock(kube, clock, "alice@laptop").acquire()
    clock.sleep(121)
    with pytest.raises(RefusedError, match=r"stale.*--take-over-lock"):
        _lock(kube, clock, "bob@ci").acquire()
    _lock(kube, clock, "bob@ci", take_over_stale=True).acquire()
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).holder == "bob@ci"


def test_renewal_is_due_every_so_often_and_a_lost_lease_is_noticed(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    lock = _lock(kube, clock, "alice@laptop", renew_every_seconds=30.0)
    lock.acquire()
    clock.sleep(10)
    lock.renew()
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).renewed_at == clock.now() - 10
    clock.sleep(25)
    lock.renew()
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).renewed_at == clock.now()
    kube.delete_lease(LOCK_NAMESPACE, LOCK_NAME)
    clock.sleep(30)
    with pytest.raises(LockLostError):
        lock.renew()


def test_release_never_deletes_someone_elses_lease(kube: FakeCluster, clock: VirtualClock) -> None:
    mine = _lock(kube, clock, "alice@laptop")
    mine.acquire()
    clock.sleep(200)
    _lock(kube, clock, "bob@ci", take_over_stale=True).acquire()
    mine.release()
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).holder == "bob@ci"
