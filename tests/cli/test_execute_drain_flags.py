"""kubectl drain's flags on `eksup execute`: checked before anything is read, and the consent
--disable-eviction needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.run.journal import journal_path_for


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    code, _, _ = run("plan", "--sandbox", "--to", "1.30", "--out", str(path))
    assert code == 0
    return path


def test_a_bad_pod_selector_is_one_line_and_changes_nothing(plan_file: Path) -> None:
    code, _, stderr = run("execute", str(plan_file), "--sandbox", "--pod-selector", "app in (")
    assert code != 0
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr
    assert not journal_path_for(plan_file).exists()


def test_disable_eviction_is_named_in_the_confirmation(plan_file: Path) -> None:
    # No terminal and no --yes: refused, and the question it could not ask names the danger.
    code, _, stderr = run("execute", str(plan_file), "--sandbox", "--disable-eviction")
    assert code == 3
    assert "nothing was changed" in stderr
    assert not journal_path_for(plan_file).exists()


def test_the_flags_are_documented_in_help() -> None:
    code, stdout, _ = run("execute", "--help")
    assert code == 0
    for flag in ("--skip-wait-for-delete-timeout", "--disable-eviction", "--pod-selector"):
        assert flag in stdout
