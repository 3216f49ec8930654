"""A lease whose holder is provably dead on this host is taken over at once; SIGTERM and SIGINT
release the lease; lock times are human-readable (issue 12, item 6)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import typer

from tests.execute.worlds import CLUSTER, Runner, full_plan
from upgrader.cli import reported_errors
from upgrader.core.errors import NotFoundError, RefusedError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import Lease
from upgrader.core.run.interrupts import Terminated, sigterm_interrupts
from upgrader.core.run.journal import Phase, load_records
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE, ClusterLock, describe
from upgrader.core.run.lock_holder import LocalProcesses, dead_here, holder_name, when
from upgrader.execute.engine import RunStatus
from upgrader.execute.reporter import PlainReporter
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.world import Sandbox


@dataclass
class Processes:
    """This host's process table, as the test says it is."""

    host: str = "ci-7"
    me: int = 100
    table: dict[int, bool | None] = field(default_factory=dict)  # pid -> is eksup

    def hostname(self) -> str:
        return self.host

    def pid(self) -> int:
        return self.me

    def is_eksup(self, pid: int) -> bool | None:
        return self.table.get(pid, False)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def kube(clock: VirtualClock) -> FakeCluster:
    return FakeCluster(clock)


def _hold(kube: FakeCluster, clock: VirtualClock, holder: str) -> None:
    now = clock.now()
    kube.create_lease(Lease(LOCK_NAMESPACE, LOCK_NAME, holder, now - 5, now - 5, 120))


def _lock(kube: FakeCluster, clock: VirtualClock, processes: Processes) -> ClusterLock:
    return ClusterLock(kube, clock, "runner@ci-7 pid 100 run r-2", processes=processes)


def test_a_fresh_lease_of_a_dead_pid_on_this_host_is_taken_over_at_once_and_said(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    _hold(kube, clock, "runner@ci-7 pid 4242 run r-1")  # cancelled CI job, kill -9
    lock = _lock(kube, clock, Processes())
    assert lock.blocker() is None
    lock.acquire()  # no --take-over-lock, no waiting out 120 s
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).holder == "runner@ci-7 pid 100 run r-2"
    assert lock.notice == (
        f"took over lease {LOCK_NAMESPACE}/{LOCK_NAME} from 'runner@ci-7 pid 4242 run r-1' "
        "(its process on this host is gone; it was renewed 5s ago)"
    )


def test_a_pid_reused_by_another_program_counts_as_gone(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    _hold(kube, clock, "runner@ci-7 pid 4242")
    lock = _lock(kube, clock, Processes(table={4242: False}))
    lock.acquire()
    assert lock.notice is not None
    assert "its process on this host is gone" in lock.notice


@pytest.mark.parametrize(
    ("holder", "table"),
    [
        ("runner@ci-7 pid 4242 run r-1", {4242: True}),  # alive: another eksup run
        ("runner@ci-7 pid 4242 run r-1", {4242: None}),  # another user's: cannot tell
        ("runner@ci-8 pid 4242 run r-1", {}),  # another host: its PIDs are not ours to read
        ("eksup r-1a2b3c4d", {}),  # an older eksup's holder: no host, no pid
    ],
)
def test_a_holder_not_provably_dead_still_refuses(
    kube: FakeCluster, clock: VirtualClock, holder: str, table: dict[int, bool | None]
) -> None:
    _hold(kube, clock, holder)
    lock = _lock(kube, clock, Processes(table=table))
    with pytest.raises(RefusedError, match="another eksup run is in progress"):
        lock.acquire()
    assert kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).holder == holder
    assert lock.notice is None


def test_taking_over_a_dead_holder_loses_a_race_safely(
    kube: FakeCluster, clock: VirtualClock
) -> None:
    _hold(kube, clock, "runner@ci-7 pid 4242")
    lock = _lock(kube, clock, Processes())
    real_update = kube.update_lease

    def racing(lease: Lease) -> Lease:
        # Another run took it between our read and our write.
        current = kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
        real_update(Lease(LOCK_NAMESPACE, LOCK_NAME, "other", 0, clock.now(), 120,
                          current.resource_version))  # fmt: skip
        return real_update(lease)

    kube.update_lease = racing  # type: ignore[method-assign]
    with pytest.raises(RefusedError, match="changed while taking it over"):
        lock.acquire()
    assert not lock.held


def test_this_process_is_never_dead_and_its_own_holder_parses() -> None:
    processes = Processes(me=4242)
    assert not dead_here("runner@ci-7 pid 4242", processes)
    real = LocalProcesses()
    mine = holder_name("r-1")
    assert mine.endswith(f"@{real.hostname()} pid {os.getpid()} run r-1")
    assert not dead_here(mine, real)
    assert real.is_eksup(os.getpid()) is False  # pytest: a live process, but not eksup


def test_lock_times_are_rfc3339_and_relative(clock: VirtualClock) -> None:
    start = clock.now()
    lease = Lease(LOCK_NAMESPACE, LOCK_NAME, "alice@laptop pid 7", start, start + 170, 120)
    clock.sleep(200)
    text = describe(lease, clock.now())
    assert text == (
        "held by 'alice@laptop pid 7' since 2026-01-01T00:00:00Z (3m ago), renewed 30s ago, "
        "for 120s"
    )
    assert "epoch" not in text
    assert when(start, start + 3 * 86400) == "2026-01-01T00:00:00Z (3d ago)"


# --- the engine ------------------------------------------------------------------------------


def test_the_engine_names_its_host_and_pid_and_says_it_took_over(
    world: Sandbox, runner: Runner
) -> None:
    kube = world.kube(CLUSTER)
    now = world.clock.now()
    host = LocalProcesses().hostname()
    # A pid that cannot exist (above the kernel's pid_max): its run is provably gone.
    dead = f"ci@{host} pid 99999999 run r-dead"
    kube.create_lease(Lease(LOCK_NAMESPACE, LOCK_NAME, dead, now, now, 120))

    holders: list[str] = []

    class Watch(PlainReporter):
        def step_started(self, step: object, index: int, total: int) -> None:
            super().step_started(step, index, total)  # type: ignore[arg-type]
            holders.append(kube.get_lease(LOCK_NAMESPACE, LOCK_NAME).holder)

    result = runner.run(full_plan(), reporter=Watch(runner.out, world.clock))

    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    assert f"took over lease {LOCK_NAMESPACE}/{LOCK_NAME} from {dead!r}" in runner.out.getvalue()
    assert holders
    assert holders[0].endswith(f"@{host} pid {os.getpid()} run {result.run_id}")


class _SignalAt(PlainReporter):
    """Sends `signum` to this process at the first wait inside a step (the lease is held)."""

    def __init__(self, runner: Runner, signum: int, kube: FakeCluster) -> None:
        super().__init__(runner.out, runner.world.clock)
        self.signum = signum
        self.kube = kube
        self.lease_during: Lease | None = None

    def waiting(self, reason: str, waited: float, remaining: float) -> None:
        super().waiting(reason, waited, remaining)
        if self.lease_during is None:
            self.lease_during = self.kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
            os.kill(os.getpid(), self.signum)
            signal.sigtimedwait([], 0)  # a bytecode boundary: the handler has run


@pytest.fixture
def default_sigint() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_release_the_lease_before_exit(
    world: Sandbox, runner: Runner, signum: int
) -> None:
    kube = world.kube(CLUSTER)
    reporter = _SignalAt(runner, signum, kube)

    with sigterm_interrupts():  # what every CLI command runs under (`reported_errors`)
        result = runner.run(full_plan(), reporter=reporter)

    assert reporter.lease_during is not None  # it was held when the signal came
    assert result.status is RunStatus.STOPPED
    with pytest.raises(NotFoundError):
        kube.get_lease(LOCK_NAMESPACE, LOCK_NAME)
    records, _ = load_records(runner.journal_path, None)
    assert [r.phase for r in records if r.phase is Phase.STOPPED]


def test_sigterm_under_the_cli_exits_4_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    def terminated() -> None:
        with reported_errors():
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)  # a bytecode boundary: the handler has run

    with pytest.raises(typer.Exit) as stopped:
        terminated()
    assert stopped.value.exit_code == ExitCode.STOPPED
    assert "eksup: terminated (SIGTERM)" in capsys.readouterr().err
    # Outside a command SIGTERM is the default again.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_terminated_is_a_keyboard_interrupt() -> None:
    # Every place that journals Ctrl-C (engine steps, the rollout runner) handles it too.
    assert issubclass(Terminated, KeyboardInterrupt)
