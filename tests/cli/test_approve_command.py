"""`eksup execute` stops at the plan's approval gate; `eksup approve` lets it go on; `eksup
status` says who approved and when. End to end through the CLI on the embedded sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.run.journal import journal_path_for

FLAGS = ("--sandbox", "--yes", "--force", "--delete-emptydir-data")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250", "LOGNAME": "carol"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def made_plan(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("made") / "plan.json"
    code, _, stderr = run("plan", "--sandbox", "--to", "1.30", "--out", str(path))
    assert code == 0, stderr
    return path.read_text()


@pytest.fixture
def plan_file(made_plan: str, tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(made_plan)
    return path


def _phases(plan_file: Path) -> list[tuple[str, str | None]]:
    lines = journal_path_for(plan_file).read_text().splitlines()
    return [(r["phase"], r["step"]) for r in map(json.loads, lines)]


def test_execute_waits_for_approval_then_approve_and_resume_finish(plan_file: Path) -> None:
    plan = str(plan_file)
    code, stdout, stderr = run("execute", plan, *FLAGS)
    assert code == 4, stderr
    assert f"eksup approve {plan} --step approve-upgrade" in stdout
    assert f"eksup execute {plan} --resume" in stdout
    assert ("waiting", "approve-upgrade") in _phases(plan_file)
    code, stdout, _ = run("status", plan)
    assert "waiting for approval" in stdout

    code, stdout, stderr = run("approve", plan, "--sandbox", "--comment", "CHG-7")
    assert code == 0, stderr
    # The AWS caller (STS GetCallerIdentity; moto's user in the sandbox), not the OS user.
    assert "approve-upgrade approved by arn:aws:sts::" in stdout
    assert f"eksup execute {plan} --resume" in stdout
    code, stdout, _ = run("status", plan)
    assert "approved, not run since" in stdout
    assert "CHG-7" in stdout

    code, stdout, stderr = run("execute", plan, *FLAGS, "--resume")
    assert code == 0, stderr
    assert "succeeded" in stdout
    phases = _phases(plan_file)
    # Pre-flight ran again in the resumed run (issue 12): the cluster may have changed while
    # the run waited for its approval.
    assert phases.count(("finished", "preflight")) == 2
    assert ("skipped", "preflight") not in phases
    assert ("finished", "approve-upgrade") in phases
    code, stdout, _ = run("status", plan)
    assert "approved by arn:aws:sts::" in stdout
    assert "succeeded" in stdout


def test_approve_names_the_approver_and_refuses_twice(plan_file: Path) -> None:
    plan = str(plan_file)
    run("execute", plan, *FLAGS)
    code, stdout, stderr = run(
        "approve", plan, "--sandbox", "--by", "alice", "--step", "approve-upgrade"
    )
    assert code == 0, stderr
    assert "approved by alice" in stdout
    code, _, stderr = run("approve", plan, "--sandbox", "--step", "approve-upgrade")
    assert code == 3
    assert stderr.strip().count("\n") == 0
    assert "already approved by alice" in stderr


def test_approve_with_nothing_waiting_is_one_line(plan_file: Path) -> None:
    code, _, stderr = run("approve", str(plan_file), "--sandbox")
    assert code == 3
    assert stderr.strip().count("\n") == 0
    assert "has stopped at an approval gate yet" in stderr
    assert not journal_path_for(plan_file).exists()
    run("execute", str(plan_file), *FLAGS)
    code, _, stderr = run("approve", str(plan_file), "--sandbox", "--step", "verify")
    assert code == 3
    assert "not an approval gate (approval gates: approve-upgrade)" in stderr


def test_a_dry_run_passes_the_gate_without_waiting(plan_file: Path) -> None:
    code, stdout, stderr = run("execute", str(plan_file), *FLAGS, "--dry-run")
    assert code == 0, stdout
    assert "would wait for approval of approve-upgrade" in stderr
    assert "succeeded" in stdout
    assert not journal_path_for(plan_file).exists()
