"""`eksup execute` end to end through the CLI on the embedded sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.plan_files import edit_plan
from upgrader.cli import app
from upgrader.core.run.journal import Phase, Record, journal_path_for


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    code, _, _ = run("plan", "--sandbox", "--to", "1.30", "--out", str(path))
    assert code == 0
    return path


def test_dry_run_says_the_real_run_would_be_blocked_and_changes_nothing(plan_file: Path) -> None:
    code, stdout, stderr = run("execute", str(plan_file), "--sandbox", "--dry-run")
    assert code == 2
    assert "would-block" in stdout
    assert "--force" in stdout  # the bare pod debug-shell, refused before anything changes
    assert "would call" in stderr or "->" in stderr
    assert not journal_path_for(plan_file).exists()


def test_without_yes_and_no_terminal_nothing_changes(plan_file: Path) -> None:
    code, _, stderr = run("execute", str(plan_file), "--sandbox")
    assert code == 3
    assert "--yes" in stderr
    assert "nothing was changed" in stderr


def test_a_full_run_upgrades_and_journals(plan_file: Path) -> None:
    flags = ("--sandbox", "--yes", "--force", "--delete-emptydir-data")
    code, _, stderr = run("execute", str(plan_file), *flags)
    assert code == 4, stderr  # the runbook's approval gate; see test_approve_command.py
    code, _, stderr = run("approve", str(plan_file), "--sandbox", "--step", "approve-upgrade")
    assert code == 0, stderr
    code, stdout, stderr = run("execute", str(plan_file), *flags, "--resume")
    assert code == 0, stderr
    assert "succeeded" in stdout
    journal = journal_path_for(plan_file).read_text().splitlines()
    records = [json.loads(line) for line in journal]
    assert any(r.get("step") == "control-plane-1.30" for r in records)


def test_a_missing_plan_file_is_one_line(tmp_path: Path) -> None:
    code, _, stderr = run("execute", str(tmp_path / "nope.json"), "--sandbox")
    assert code == 1
    assert stderr.strip().count("\n") == 0
    assert "no such plan file" in stderr


def test_status_shows_the_run_from_its_journal(plan_file: Path) -> None:
    # Runs after the full run above (module-scoped plan file): every step is done.
    code, stdout, _ = run("status", str(plan_file))
    assert code == 0
    assert "control-plane-1.30" in stdout
    assert "succeeded" in stdout
    assert "not started" not in stdout
    code, stdout, _ = run("status", str(plan_file), "--gantt")
    assert code == 0
    assert stdout.startswith("```mermaid\ngantt")
    assert "control-plane-1.30 (r-" in stdout  # one bar per run that worked on the step


def test_status_before_any_run(tmp_path: Path, plan_file: Path) -> None:
    fresh = tmp_path / "fresh.json"
    fresh.write_text(plan_file.read_text())
    code, stdout, _ = run("status", str(fresh))
    assert code == 0
    assert "not started" in stdout
    assert "no run yet" in stdout


def test_json_log_format_is_one_object_per_line(tmp_path: Path, plan_file: Path) -> None:
    copy = tmp_path / "plan.json"
    copy.write_text(plan_file.read_text())
    code, _, stderr = run("execute", str(copy), "--sandbox", "--dry-run", "--log-format", "json")
    assert code == 2
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert events[0]["event"] == "run-started"
    assert events[-1]["event"] == "run-finished"
    assert events[-1]["exit_code"] == 2
    assert any(e["event"] == "step-started" for e in events)


def test_execute_help_lists_surge() -> None:
    code, stdout, _ = run("execute", "--help")
    assert code == 0
    assert "--surge" in stdout


def _stale_plan(tmp_path: Path) -> tuple[Path, str]:
    """A sandbox plan whose fingerprint no longer matches, short of its last step."""
    path = tmp_path / "plan.json"
    code, _, _ = run("plan", "--sandbox", "--to", "1.30", "--out", str(path))
    assert code == 0
    dropped: list[str] = []

    def stale(document: dict[str, Any]) -> None:
        dropped.append(document["steps"].pop()["id"])
        document["fingerprint"] = "sha256:stale"

    edit_plan(path, stale, reseal=True)  # as `eksup plan` made it, from another state
    return path, dropped[0]


def test_a_stale_plan_is_refused_and_replan_makes_and_runs_it_again(tmp_path: Path) -> None:
    path, dropped = _stale_plan(tmp_path)
    flags = ("--sandbox", "--yes", "--force", "--delete-emptydir-data")
    code, _, stderr = run("execute", str(path), *flags)
    assert code == 3
    assert "changed since the plan was made" in stderr
    assert "--replan" in stderr

    code, _, stderr = run("execute", str(path), *flags, "--replan")

    assert code == 4, stderr  # the new plan runs up to its approval gate
    assert "re-planned demo to 1.30: added " + dropped in stderr
    kept = tmp_path / "plan.stale.json"
    assert json.loads(kept.read_text())["fingerprint"] == "sha256:stale"
    fresh = json.loads(path.read_text())
    assert fresh["fingerprint"] != "sha256:stale"
    assert fresh["steps"][-1]["id"] == dropped
    assert journal_path_for(path).exists()  # the new plan's run


def test_replan_refuses_a_journal_of_an_unfinished_run_that_changed_things(
    tmp_path: Path,
) -> None:
    path, _ = _stale_plan(tmp_path)
    plan = json.loads(path.read_text())
    started = Record(
        "r-1",
        1,
        0.0,
        Phase.RUN_STARTED,
        None,
        data={"plan_fingerprint": plan["fingerprint"], "plan_created": plan["created_at"]},
    )
    action = Record(
        "r-1", 2, 1.0, Phase.ACTION, "control-plane-1.30", detail="UpdateClusterVersion"
    )
    journal_path_for(path).write_text(started.to_json() + "\n" + action.to_json() + "\n")

    code, _, stderr = run("execute", str(path), "--sandbox", "--yes", "--replan")

    assert code == 3
    assert "did not finish: --resume it" in stderr
    assert not (tmp_path / "plan.stale.json").exists()
    assert json.loads(path.read_text())["fingerprint"] == "sha256:stale"


def test_replan_and_resume_together_are_one_line(plan_file: Path) -> None:
    code, _, stderr = run("execute", str(plan_file), "--sandbox", "--replan", "--resume")
    assert code == 1
    assert stderr.strip() == (
        "eksup: error: --replan makes a new plan, --resume continues the old one: pick one"
    )
