"""`eksup status` through the CLI: the table names the run of each step; --html writes a report."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.sandbox.demo_world import DEMO_VERSION
from upgrader.versions import KubeVersion


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def test_status_shows_runs_and_writes_a_self_contained_html_report(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    target = str(KubeVersion.parse(DEMO_VERSION) + 1)
    assert run("plan", "--sandbox", "--to", target, "--out", str(plan))[0] == 0
    code, _, err = run(
        "execute", str(plan), "--sandbox", "--yes", "--force", "--delete-emptydir-data"
    )
    assert code == 4, err  # stopped at the approval gate
    report = tmp_path / "report.html"
    code, stdout, stderr = run("status", str(plan), "--html", str(report))
    assert code == 0, stderr
    assert re.search(r"preflight\W+done\W+r-[0-9a-f]{8}", stdout), stdout  # the run that did it
    assert "waiting for approval" in stdout
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "approve-upgrade" in page
    assert "<script" not in page


def test_status_without_a_journal_or_a_cluster_says_no_run_yet(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    target = str(KubeVersion.parse(DEMO_VERSION) + 1)
    assert run("plan", "--sandbox", "--to", target, "--out", str(plan))[0] == 0
    # No local journal: the cluster's mirror is asked (the sandbox's is empty).
    code, stdout, _ = run("status", str(plan), "--sandbox")
    assert code == 0
    assert "no run yet" in stdout
