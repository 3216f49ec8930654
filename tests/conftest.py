"""Suite-wide guard: the wall clock stands years away from any date eksup knows.

Every date decision in eksup reads "now" from the `Clock` port (the sandbox's virtual clock in
tests). Moving the process's wall clock far ahead for every test makes any decision that reads
`time.time()`, `datetime.now()` or `date.today()` instead visible as a failure, today and on
whatever day CI runs. `time.monotonic()` is left alone: timeouts of real waits still work.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
import time_machine
from hypothesis import settings

# Far past every support window in upgrader/data/eks_versions.yaml.
WALL_CLOCK = dt.datetime(2034, 7, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True, scope="session")
def _wall_clock_years_ahead() -> Iterator[None]:
    with time_machine.travel(WALL_CLOCK, tick=True):
        yield


@pytest.fixture(autouse=True, scope="session")
def _no_served_sandbox_from_the_shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`--sandbox` uses a served sandbox when one runs in EKSUP_SANDBOX_DIR (default
    .eksup/sandbox): a developer's own `eksup sandbox up` must not leak into the tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EKSUP_SANDBOX_DIR", str(tmp_path_factory.mktemp("no-served-sandbox")))
        for name in ("EKSUP_SANDBOX_CLOCK", "AWS_ENDPOINT_URL", "AWS_PROFILE", "KUBECONFIG"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def _rollout_journals_per_test(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollout's journal file defaults to .eksup/rollouts in the working directory (the
    checkout): each test keeps its own, beside nothing of the developer's."""
    monkeypatch.setenv("EKSUP_JOURNAL_DIR", str(tmp_path_factory.mktemp("rollout-journals")))


# Property tests draw the same examples on every run, machine and date: CI must not find a new
# counterexample on a later day and fail a submission that changed nothing near it (that
# happened: a lone surrogate drawn once in a thousand runs). A per-example deadline would
# be a timed assertion on a loaded machine. To hunt for new examples locally, pass
# `--hypothesis-profile=explore` and keep what it finds as an explicit example.
settings.register_profile("deterministic", deadline=None, derandomize=True, database=None)
settings.register_profile("explore", deadline=None, max_examples=1000)
# `make mutate` runs each test hundreds of times: as deterministic, and quiet about failures.
settings.register_profile("mutate", parent=settings.get_profile("deterministic"), print_blob=False)
settings.load_profile("deterministic")


@pytest.fixture(autouse=True, scope="session")
def _no_disk_flushes() -> Iterator[None]:
    """The journal fsyncs every record; on a loaded CI disk each flush costs ~10 ms and tests
    cannot observe durability anyway. tests/core/run/test_journal_durability.py checks the
    flush happens, with the real call spied."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda _fd: None)
        yield
