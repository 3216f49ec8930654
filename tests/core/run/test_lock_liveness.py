"""Which holder of a lease is alive as far as can be told (`live_holder`: a rollout's promote
or abort asks it through the journal), and which is known gone (`gone`: the command finishes
the work itself): an expired lease, or a process on this host that no longer runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from upgrader.core.kube import Lease
from upgrader.core.run.lock import ClusterLock
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


@dataclass
class Processes:
    host: str = "build-7"
    me: int = 100
    table: dict[int, bool | None] = field(default_factory=dict)  # pid -> is eksup

    def hostname(self) -> str:
        return self.host

    def pid(self) -> int:
        return self.me

    def is_eksup(self, pid: int) -> bool | None:
        return self.table.get(pid, False)


def _lock(kube: FakeCluster, clock: VirtualClock, processes: Processes) -> ClusterLock:
    return ClusterLock(
        kube,
        clock,
        "me@build-7 pid 100 run r-me",
        namespace="shop",
        name="eksup-rollout-web",
        processes=processes,
    )


def _held_by(kube: FakeCluster, clock: VirtualClock, holder: str, renewed: float = 0) -> Lease:
    now = clock.now()
    return kube.create_lease(Lease("shop", "eksup-rollout-web", holder, now, now - renewed, 120))


def test_no_lease_or_our_own_is_neither_live_nor_gone() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    lock = _lock(kube, clock, Processes())
    assert (lock.live_holder(), lock.gone()) == (None, None)
    lock.acquire()
    assert (lock.live_holder(), lock.gone()) == (None, None)


def test_a_renewing_holder_elsewhere_is_live() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    lease = _held_by(kube, clock, "ci@build-8 pid 4242 run r-1", renewed=120)
    lock = _lock(kube, clock, Processes())
    # Exactly at its duration the lease is still fresh (it expires strictly after).
    assert lock.live_holder() == lease
    assert lock.gone() is None


def test_a_lease_past_its_duration_is_gone_and_says_since_when() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    _held_by(kube, clock, "ci@build-8 pid 4242 run r-1", renewed=121)
    lock = _lock(kube, clock, Processes())
    assert lock.live_holder() is None
    assert lock.gone() == "the run of ci@build-8 pid 4242 run r-1 stopped renewing its lease 2m ago"


def test_a_fresh_lease_of_a_process_gone_on_this_host_is_gone() -> None:
    clock = VirtualClock()
    kube = FakeCluster(clock)
    _held_by(kube, clock, "ci@build-7 pid 4242 run r-1")
    lock = _lock(kube, clock, Processes())
    assert lock.live_holder() is None
    assert lock.gone() == (
        "the run of ci@build-7 pid 4242 run r-1 is gone (no such process on this machine)"
    )
    # Still running (an eksup process), or not ours to judge: alive.
    for verdict in (True, None):
        alive = _lock(kube, clock, Processes(table={4242: verdict}))
        assert alive.live_holder() is not None
        assert alive.gone() is None
    # The same PID on another host proves nothing.
    elsewhere = _lock(kube, clock, Processes(host="build-8"))
    assert elsewhere.live_holder() is not None
    assert elsewhere.gone() is None
