"""`sandbox down` signals only its own process, `sandbox up` reports a server that dies, and
numeric options are bounded (issue 12, item 6)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.errors import UserError
from upgrader.sandbox import daemon


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def _sleeper(*extra: str) -> subprocess.Popen[bytes]:
    # A stand-in process: python sleeping, with `extra` on its command line.
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *extra])


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process whose pid a stale pid file names (the pid was reused)."""
    process = _sleeper()
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize("pid_file", ["{pid}\n", '{{"pid": {pid}, "token": "0123abcd"}}\n'])
def test_down_never_signals_a_process_it_cannot_prove_is_its_sandbox(
    tmp_path: Path, stranger: subprocess.Popen[bytes], pid_file: str
) -> None:
    (tmp_path / "pid").write_text(pid_file.format(pid=stranger.pid))

    code, stdout, _ = run("sandbox", "down", "--dir", str(tmp_path))

    assert code == 0
    assert "no sandbox runs" in stdout
    assert "removed a stale pid file; no process was signalled" in stdout
    assert stranger.poll() is None  # still running: not signalled
    assert not (tmp_path / "pid").exists()
    code, stdout, _ = run("sandbox", "status", "--dir", str(tmp_path))
    assert "no sandbox runs" in stdout


def test_down_stops_the_process_that_carries_its_token(tmp_path: Path) -> None:
    token = "5f0c1b2a9e8d7c6b5a4f3e2d1c0b9a8f"
    process = _sleeper("--token", token)
    try:
        (tmp_path / "pid").write_text(json.dumps({"pid": process.pid, "token": token}))
        for _ in range(600):  # until the child has exec'd (its command line is python's)
            if token in (daemon._command_line(process.pid) or ""):
                break
            time.sleep(0.05)
        assert daemon._running_pid(tmp_path) == process.pid

        code, stdout, _ = run("sandbox", "down", "--dir", str(tmp_path))

        assert code == 0
        assert f"sandbox (pid {process.pid}) stopped" in stdout
        assert process.wait(timeout=30) == -15  # SIGTERM
    finally:
        process.kill()
        process.wait()


class _DiesAfterAnswering:
    """A server process that answers once, then exits (a ticker crashing after bind)."""

    pid = 424242

    def __init__(self, *_: object, **__: object) -> None:
        self.polls = 0

    def poll(self) -> int | None:
        self.polls += 1
        return None if self.polls < 2 else 1

    def kill(self) -> None:
        pass


def test_up_reports_a_server_that_dies_after_answering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No process port exists for this: the subprocess and HTTP probes are replaced.
    monkeypatch.setattr(subprocess, "Popen", _DiesAfterAnswering)
    monkeypatch.setattr(daemon, "server_url", lambda _: "http://127.0.0.1:1")
    monkeypatch.setattr(daemon, "aws_env", lambda _: {"AWS_ENDPOINT_URL": "http://127.0.0.1:2"})
    monkeypatch.setattr(daemon, "api_version", lambda _: "v1.29.8")
    monkeypatch.setattr(daemon, "aws_answers", lambda _: True)
    (tmp_path / "server.log").write_text("")

    def crash_log(directory: Path) -> str:
        return " (ValueError: rate must be positive)"

    monkeypatch.setattr(daemon, "_last_words", crash_log)

    with pytest.raises(UserError, match=r"did not start \(ValueError: rate must be positive\)"):
        daemon.up(tmp_path, 10.0)
    assert not (tmp_path / "pid").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sandbox", "up", "--rate", "-5"], "--rate -5: must be > 0 and <= 10000"),
        (["sandbox", "up", "--rate", "0"], "--rate 0: must be > 0"),
        (["sandbox", "up", "--rate", "nan"], "--rate nan: must be > 0"),
        (["sandbox", "serve", "--rate", "inf"], "--rate inf: must be > 0"),
        (
            ["plan", "--sandbox", "--to", "1.31", "--drain-timeout", "-5"],
            "--drain-timeout -5: must be > 0 and <= 604800 seconds",
        ),
        (["execute", "plan.json", "--grace-period", "-1"], "--grace-period -1: must be >= 0"),
        (["execute", "plan.json", "--max-grace-period", "-1"], "--max-grace-period -1"),
        (["rollout", "status", "x.yaml", "--timeout", "-3"], "--timeout -3: must be >= 0"),
    ],
)
def test_bad_numbers_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, stdout, stderr = run(*[a.replace("plan.json", str(tmp_path / "p.json")) for a in args])
    assert code == 2
    assert stderr == f"eksup: error: {message}" + stderr.removeprefix(f"eksup: error: {message}")
    assert stderr.strip().count("\n") == 0
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written
