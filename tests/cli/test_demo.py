from __future__ import annotations

import re

from typer.testing import CliRunner

from upgrader.cli import app


def test_demo_builds_the_sandbox_and_shows_it() -> None:
    result = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "EKS cluster demo 1.29" in result.output
    assert "12 nodes" in result.output
    for name in ("general", "batch", "shop/web", "payments/ledger", "default/debug-shell"):
        assert name in result.output
    assert "Pending" not in result.output  # everything found a node
    # ... and plans the upgrade two minors up, node groups following each hop.
    assert "eksup plan --sandbox --to 1.31" in result.output
    for step in ("control-plane-1.30", "nodegroup-general-1.30", "control-plane-1.31"):
        assert step in result.output
    # ... and executes it: every node at the target, nothing lost, no budget broken.
    summary = result.output[result.output.index("Upgrade summary") :]
    assert "succeeded" in summary
    assert "12 of 12" in summary  # nodes at target
    assert re.search(r"lost pods\s*│\s*0\s", summary)
    assert re.search(r"PDB violations\s*│\s*0\s", summary)
    # ... and releases shop/web as a canary, the weights read back from ELBv2.
    canary = result.output[result.output.index("A canary release") :]
    assert re.search(r"│\s*4\s*│\s*0\s*│\s*100\s*│", canary)
    assert "web: succeeded after 4/4 steps" in canary
    # ... and ends with the fleet wave: management, then dev (dev-b fails its pre-flight, dev
    # is fail-fast), and prod never starts.
    wave = result.output[result.output.index("stage management") :]
    assert "dev-b: FAILED preflight" in wave
    assert "prod-eu: started" not in wave
    assert "waits for stage dev (failed)" in wave


def test_version_and_help_need_no_sdk() -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--version"]).exit_code == 0
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
