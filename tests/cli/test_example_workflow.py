"""The example workflow users copy is valid, and its eksup commands run, unmodified, on the
sandbox (EKSUP_SANDBOX=1 turns on `--sandbox`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOW = Path(__file__).resolve().parents[2] / ".github/workflows/examples/eksup-pull-request.yml"


def steps() -> dict[str, str]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert document["permissions"]["id-token"] == "write"  # OIDC, no stored keys
    (job,) = document["jobs"].values()
    return {s["name"]: s["run"] for s in job["steps"] if "run" in s and "name" in s}


def run_step(script: str, cwd: Path, summary: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "EKSUP_SANDBOX": "1",
        "TARGET_VERSION": "1.30",
        "GITHUB_STEP_SUMMARY": str(summary),
        "COLUMNS": "200",
    }
    env.pop("EKSUP_CLUSTER", None)
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_example_workflow_plans_and_dry_runs_on_the_sandbox(tmp_path: Path) -> None:
    scripts = steps()
    summary = tmp_path / "summary.md"
    planned = run_step(scripts["Plan"], tmp_path, summary)
    assert planned.returncode == 0, planned.stderr
    assert summary.read_text().startswith("# Upgrade demo from 1.29 to 1.30")
    assert (tmp_path / "plan.json").is_file()
    dry = run_step(scripts["Dry run"], tmp_path, summary)
    # The demo cluster has a bare pod and emptyDir data: the real run would stop for consent,
    # which is exactly what a pull request should learn, with exit code 2.
    assert dry.returncode == 2, dry.stderr
    assert "would-block" in dry.stdout
