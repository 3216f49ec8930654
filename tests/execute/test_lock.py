"""The per-cluster lock: one Lease, refused while fresh, taken over only when asked."""

from __future__ import annotations

import pytest

from tests.execute.worlds import CLUSTER, Runner, full_plan
from upgrader.core.errors import NotFoundError, RefusedError
from upgrader.core.kube import Lease
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE, ClusterLock, LockLostError
from upgrader.execute.engine import RunStatus
from upgrader.execute.reporter import PlainReporter
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.world import Sandbox


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


def test_a_concurrent_execution_is_refused(world: Sandbox, runner: Runner) -> None:
    now = world.clock.now()
    world.kube(CLUSTER).create_lease(Lease(LOCK_NAMESPACE, LOCK_NAME, "bob@ci", now, now, 120))
    with pytest.raises(RefusedError, match="another eksup run is in progress") as refused:
        runner.run(full_plan())
    assert refused.value.exit_code == 3
    assert world.aws.list_updates(CLUSTER) == []
    assert not runner.journal_path.exists()


def test_the_lease_is_renewed_through_long_waits(world: Sandbox, runner: Runner) -> None:
    kube = world.kube(CLUSTER)
    ages: list[float] = []

    class Watch(PlainReporter):
        def waiting(self, reason: str, waited: float, remaining: float) -> None:
            super().waiting(reason, waited, remaining)
            lease = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
            ages.append(world.clock.now() - lease.renewed_at)

        def drain_progress(self, *args: object, **kwargs: object) -> None:
            lease = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
            ages.append(world.clock.now() - lease.renewed_at)

    result = runner.run(full_plan(), reporter=Watch(runner.out, world.clock), holder="alice")

    assert result.status is RunStatus.SUCCEEDED
    assert ages
    # Never older than the renewal period plus the longest poll: far inside its 120 s.
    assert max(ages) <= 30 + 60


def test_a_lease_taken_away_mid_run_stops_it(world: Sandbox, runner: Runner) -> None:
    kube = world.kube(CLUSTER)

    class Thief(PlainReporter):
        def waiting(self, reason: str, waited: float, remaining: float) -> None:
            super().waiting(reason, waited, remaining)
            lease = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
            if lease.holder != "mallory":
                kube.update_lease(
                    Lease(
                        LOCK_NAMESPACE,
                        LOCK_NAME,
                        "mallory",
                        lease.acquired_at,
                        world.clock.now(),
                        120,
                        lease.resource_version,
                    )
                )

    result = runner.run(full_plan(), reporter=Thief(runner.out, world.clock))

    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "lost lease" in result.error
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).holder == "mallory"
