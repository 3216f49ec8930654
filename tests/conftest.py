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


# `make mutate` runs each test hundreds of times on a loaded machine: a per-example deadline
# would fail a test for being slow, not wrong, and random examples would make a mutant's fate
# differ between runs. Selected with --hypothesis-profile=mutate (pyproject's [tool.mutmut]).
settings.register_profile("mutate", deadline=None, derandomize=True, print_blob=False)


@pytest.fixture(autouse=True, scope="session")
def _no_disk_flushes() -> Iterator[None]:
    """The journal fsyncs every record; on a loaded CI disk each flush costs ~10 ms and tests
    cannot observe durability anyway. tests/core/test_journal_durability.py checks the
    flush happens, with the real call spied."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda _fd: None)
        yield
