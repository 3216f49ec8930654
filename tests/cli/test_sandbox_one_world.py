"""`--sandbox` with a served sandbox up: every command sees and changes the same world, on the
sandbox's own virtual date. An in-place upgrade, then `eksup rollback` reaches EKS's rollback
rules (not a closed 7-day window, not a fresh demo world)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app

FLAGS = ("--sandbox", "--yes", "--force", "--delete-emptydir-data")


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("EKSUP_SANDBOX_DIR", str(directory))
    monkeypatch.setenv("COLUMNS", "200")
    code, _, stderr = run("sandbox", "up", "--rate", "3000")
    assert code == 0, stderr
    yield directory
    run("sandbox", "down")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_plan_execute_then_rollback_share_one_world(served: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    code, stdout, stderr = run(
        "plan", "--sandbox", "--to", "next", "--node-strategy", "in-place", "--out", str(plan)
    )
    assert code == 0, stderr
    document = json.loads(plan.read_text())
    assert (document["current_version"], document["target_version"]) == ("1.29", "1.30")
    assert document["version_facts"] == "aws"  # the sandbox's DescribeClusterVersions answered

    code, stdout, stderr = run("execute", str(plan), *FLAGS)
    assert code == 4, stdout + stderr  # the approval gate
    code, _, stderr = run("approve", str(plan), "--sandbox", "--comment", "CHG-1")
    assert code == 0, stderr
    code, stdout, stderr = run("execute", str(plan), *FLAGS, "--resume")
    assert code == 0, stdout + stderr

    # A second plan sees the upgraded cluster: the world outlived the commands that changed it.
    code, _, stderr = run("plan", "--sandbox", "--to", "next", "--out", str(tmp_path / "p2.json"))
    assert code == 0, stderr
    assert json.loads((tmp_path / "p2.json").read_text())["current_version"] == "1.30"

    # The rollback is judged by EKS's rules on the sandbox's date: the window is open, and the
    # managed node groups at 1.30 are what stands in the way (kubelets newer than the API server).
    code, stdout, stderr = run("rollback", "--sandbox", "--dry-run")
    assert code == 3, stdout + stderr
    assert "7-day" not in stdout + stderr
    assert "node group" in (stdout + stderr).lower()
    code, stdout, stderr = run("rollback", "--sandbox", "--nodegroups", "--yes")
    assert code == 0, stdout + stderr
    code, _, stderr = run("plan", "--sandbox", "--to", "next", "--out", str(tmp_path / "p3.json"))
    assert code == 0, stderr
    assert json.loads((tmp_path / "p3.json").read_text())["current_version"] == "1.29"
