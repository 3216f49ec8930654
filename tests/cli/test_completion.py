"""Shell completion: Typer's `--show-completion` / `--install-completion`, and the completions
themselves (what bash gets when it calls `eksup` back with `_EKSUP_COMPLETE` set)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _shell_named_not_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    # Typer finds the user's shell from the process tree (shellingham); under `make` that is
    # `sh`, which it does not support. Its own tests set this to take the shell as an argument.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")


def test_show_completion_prints_the_bash_script() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="eksup")
    assert result.exit_code == 0, result.output
    assert "_EKSUP_COMPLETE=complete_bash" in result.output
    assert "complete -o default -F _eksup_completion eksup" in result.output


def test_install_completion_writes_to_the_shells_rc_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--install-completion", "bash"], prog_name="eksup", env={"HOME": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    assert "completion installed" in result.output
    script = tmp_path / ".bash_completions" / "eksup.sh"
    assert "_EKSUP_COMPLETE=complete_bash" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()


def _complete(words: str) -> list[str]:
    # What the installed bash function does: call eksup back with the words typed so far.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "_EKSUP_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    done = subprocess.run(
        [sys.executable, "-c", "from upgrader.cli import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_completes_commands_and_options() -> None:
    assert "plan" in _complete("eksup pl")
    assert {"--sandbox", "--to"} <= set(_complete("eksup plan --"))
    assert {"table", "markdown", "json", "junit"} <= set(_complete("eksup plan --format "))
