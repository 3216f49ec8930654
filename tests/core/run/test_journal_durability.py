"""A journal record is on disk before the action it names runs.

tests/conftest.py turns os.fsync into a no-op for speed; this test puts a spy in its place to
check the journal flushes each append, after writing every record of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from upgrader.core.run import journal as jmod
from upgrader.core.run.journal import Phase, Record, append_records, parse_records


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


def _records(path: Path) -> list[tuple[str, int]]:
    return [(r.run, r.seq) for r in parse_records(path.read_text(encoding="utf-8"), str(path))]


def test_a_record_cut_short_by_a_crash_is_cut_off_before_the_next_is_appended(
    tmp_path: Path,
) -> None:
    # Without the cut, the next record is glued to the fragment: a bad line in the middle of
    # the file, and every later read (status, --resume) refuses the journal.
    path = tmp_path / "j.jsonl"
    append_records(path, [Record("r", 1, 0.0, Phase.MEMO), Record("r", 2, 0.0, Phase.MEMO)])
    whole = path.read_bytes()
    path.write_bytes(whole + Record("r", 3, 0.0, Phase.MEMO).to_json().encode()[:17])
    append_records(path, [Record("s", 1, 0.0, Phase.MEMO)])
    append_records(path, [Record("s", 2, 0.0, Phase.MEMO)])
    assert _records(path) == [("r", 1), ("r", 2), ("s", 1), ("s", 2)]
    assert path.read_bytes().startswith(whole)


def test_a_fragment_that_is_not_even_utf8_is_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    append_records(path, [Record("r", 1, 0.0, Phase.MEMO)])
    path.write_bytes(path.read_bytes() + b'{"detail": "\xc3')
    append_records(path, [Record("s", 1, 0.0, Phase.MEMO)])
    assert _records(path) == [("r", 1), ("s", 1)]


def test_a_whole_record_that_lacks_only_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    append_records(path, [Record("r", 1, 0.0, Phase.MEMO)])
    path.write_bytes(path.read_bytes() + Record("r", 2, 0.0, Phase.MEMO).to_json().encode())
    append_records(path, [Record("s", 1, 0.0, Phase.MEMO)])
    assert _records(path) == [("r", 1), ("r", 2), ("s", 1)]
    assert path.read_text(encoding="utf-8").count("\n") == 3


def test_a_lone_fragment_is_the_whole_file_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"v": 1, "run"')
    append_records(path, [Record("s", 1, 0.0, Phase.MEMO)])
    assert path.read_text(encoding="utf-8") == Record("s", 1, 0.0, Phase.MEMO).to_json() + "\n"


def test_an_empty_or_missing_journal_is_appended_to(tmp_path: Path) -> None:
    empty, missing = tmp_path / "empty.jsonl", tmp_path / "missing.jsonl"
    empty.write_bytes(b"")
    for path in (empty, missing):
        append_records(path, [Record("s", 1, 0.0, Phase.MEMO)])
        assert _records(path) == [("s", 1)]


def test_the_cut_is_flushed_before_the_record_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.jsonl"
    append_records(path, [Record("r", 1, 0.0, Phase.MEMO)])
    path.write_bytes(path.read_bytes() + b'{"v": 1')
    seen: list[bytes] = []

    def spy(fd: int) -> None:
        assert os.fstat(fd).st_ino == path.stat().st_ino  # the journal's own file is flushed
        seen.append(path.read_bytes())

    monkeypatch.setattr(jmod.os, "fsync", spy)
    append_records(path, [Record("s", 1, 0.0, Phase.MEMO)])
    assert len(seen) == 2
    assert seen[0].endswith(b"}\n")
    assert seen[0].count(b"\n") == 1
