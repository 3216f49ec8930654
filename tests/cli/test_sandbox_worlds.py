"""`EKSUP_SANDBOX_WORLD=mixed`: a self-managed node group and Fargate upgraded from the CLI.

The demo world has only managed node groups; the mixed world adds an Auto Scaling group whose
instances join as nodes (and whose Nodes outlive terminated instances, as on EKS) and a Fargate
profile whose pods run on their own nodes, so `plan`, `execute` and `verify` meet both.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from upgrader.cli import app

FLAGS = ("--sandbox", "--yes", "--force", "--delete-emptydir-data")


def run(*args: str, world: str = "mixed") -> tuple[int, str, str]:
    env = {"COLUMNS": "250", "EKSUP_SANDBOX_WORLD": world}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_self_managed_and_fargate_upgrade_end_to_end(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    code, _, stderr = run("plan", "--sandbox", "--to", "1.30", "--out", str(plan))
    assert code == 0, stderr
    steps = {s["id"]: s["kind"] for s in json.loads(plan.read_text())["steps"]}
    assert steps["self-managed-legacy-1.30"] == "self-managed-group"
    assert steps["fargate-1.30"] == "fargate-restart"
    code, _, stderr = run("execute", str(plan), *FLAGS)
    assert code == 4, stderr  # the runbook's approval gate
    code, _, stderr = run("approve", str(plan), "--sandbox", "--step", "approve-upgrade")
    assert code == 0, stderr
    code, stdout, stderr = run("execute", str(plan), *FLAGS, "--resume")
    assert code == 0, stderr
    assert "succeeded" in stdout
    assert "done self-managed-legacy-1.30" in stderr
    assert "of their nodes still registered" in stderr  # it waited for the Node objects
    assert "done fargate-1.30" in stderr
    assert "done verify" in stderr


def test_an_unknown_world_is_one_line() -> None:
    code, _, stderr = run("plan", "--sandbox", "--to", "1.30", world="huge")
    assert code != 0
    assert "EKSUP_SANDBOX_WORLD=huge" in stderr
    assert "demo, mixed" in stderr
    assert "Traceback" not in stderr
