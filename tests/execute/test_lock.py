"""The engine and the per-cluster lock: a run refused while another holds it, the Lease renewed
through long waits, and a run stopped when its Lease is taken away. The lock itself:
tests/core/run/test_lock.py."""

from __future__ import annotations

import pytest

from tests.execute.worlds import CLUSTER, Runner, full_plan
from upgrader.core.errors import RefusedError
from upgrader.core.kube import Lease
from upgrader.core.run.lock import LOCK_NAME, LOCK_NAMESPACE
from upgrader.execute.engine import RunStatus
from upgrader.execute.reporter import PlainReporter
from upgrader.sandbox.world import Sandbox


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
