"""One coordinator per fleet run (`upgrader.fleet.run_lock`): the lock file beside the journal,
who holds it, and what a second coordinator is told.

`flock` locks belong to an open file description, so a second `open` + `flock` in this same
process conflicts with the first exactly as another process's would (flock(2))."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from upgrader.core.errors import RefusedError
from upgrader.fleet.run_lock import LOCK_FILE, coordinator_lock

ALICE = "alice@laptop pid 4242 run f-1a2b3c4d"


@contextmanager
def _held_by_hand(path: Path, content: bytes) -> Iterator[None]:
    """The lock held by a process that wrote `content` (or nothing yet) into the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, content)
        yield
    finally:
        os.close(fd)


def _refusal(directory: Path, fleet_run: str = "fleet-7") -> str:
    ran: list[bool] = []
    with (
        pytest.raises(RefusedError) as refused,
        coordinator_lock(directory, "bob@ci pid 7 run f-00000000", fleet_run),
    ):
        ran.append(True)
    assert ran == []  # the block never runs
    assert refused.value.exit_code == 3
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_the_holder_is_written_for_others_and_the_directory_made(tmp_path: Path) -> None:
    directory = tmp_path / "run.fleet"  # not there yet: the first coordinator makes it
    with coordinator_lock(directory, ALICE, "fleet-7"):
        assert (directory / LOCK_FILE).read_text() == ALICE


def test_a_second_coordinator_is_told_who_holds_the_run_and_what_to_do(tmp_path: Path) -> None:
    directory = tmp_path / "run.fleet"
    with coordinator_lock(directory, ALICE, "fleet-7"):
        message = _refusal(directory)
        assert message == (
            f"fleet run fleet-7 is being run by {ALICE} ({directory / LOCK_FILE}): "
            "wait for it to end, or `eksup fleet stop` it first"
        )
        assert (directory / LOCK_FILE).read_text() == ALICE  # the refused one wrote nothing


def test_the_lock_is_released_with_its_holder_and_the_file_kept_for_the_next(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "run.fleet"
    with coordinator_lock(directory, ALICE, "fleet-7"):
        pass
    # Never unlinked (a third coordinator could lock a new file while a second holds the old).
    assert (directory / LOCK_FILE).read_text() == ALICE
    with coordinator_lock(directory, "bob@ci pid 7", "fleet-7"):
        # Truncated first: a shorter name leaves no tail of the longer one behind.
        assert (directory / LOCK_FILE).read_text() == "bob@ci pid 7"
    with pytest.raises(RuntimeError, match="boom"), coordinator_lock(directory, ALICE, "x"):
        raise RuntimeError("boom")
    with coordinator_lock(directory, "carol@ci pid 8", "fleet-7"):  # released on an error too
        pass


def test_a_holder_that_has_not_written_its_name_yet_is_another_process(tmp_path: Path) -> None:
    directory = tmp_path / "run.fleet"
    with _held_by_hand(directory / LOCK_FILE, b""):  # between its flock and its write
        message = _refusal(directory)
    assert message.startswith("fleet run fleet-7 is being run by another process (")


def test_only_the_first_line_of_the_holder_is_named(tmp_path: Path) -> None:
    directory = tmp_path / "run.fleet"
    with _held_by_hand(directory / LOCK_FILE, f"\n  {ALICE}\nsomething else\n".encode()):
        message = _refusal(directory)
    assert message.startswith(f"fleet run fleet-7 is being run by {ALICE} (")


def test_a_holder_named_in_utf8_is_named_as_written_and_bad_bytes_do_not_break_it(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "run.fleet"
    with _held_by_hand(directory / LOCK_FILE, "josé@laptop pid 9".encode()):
        assert "being run by josé@laptop pid 9 (" in _refusal(directory)
    # Not UTF-8 (another tool's file, a cut-short name): still the one-line refusal, exit 3.
    (directory / LOCK_FILE).write_bytes(b"")
    with _held_by_hand(directory / LOCK_FILE, b"jos\xe9@laptop pid 9"):
        assert "being run by jos\ufffd@laptop pid 9 (" in _refusal(directory)
