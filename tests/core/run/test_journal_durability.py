"""A journal record is on disk before the action it names runs.

tests/conftest.py turns os.fsync into a no-op for speed; this test puts a spy in its place to
check the journal flushes each append, after writing every record of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from upgrader.core.run import journal as jmod
from upgrader.core.run.journal import Phase, Record, append_records


def test_each_append_is_flushed_to_disk_after_all_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.jsonl"
    flushed: list[int] = []

    def spy(fd: int) -> None:
        assert os.fstat(fd).st_ino == path.stat().st_ino  # the journal's own file is flushed
        # What a crash right now would leave: every record of this append is already written.
        flushed.append(path.read_text(encoding="utf-8").count("\n"))

    monkeypatch.setattr(jmod.os, "fsync", spy)
    append_records(path, [Record("r", 1, 0.0, Phase.MEMO)])
    append_records(path, [Record("r", 2, 0.0, Phase.MEMO), Record("r", 3, 0.0, Phase.MEMO)])
    assert flushed == [1, 3]
