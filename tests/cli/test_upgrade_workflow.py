"""The plan-on-PR / execute-on-merge workflow example: pinned, commented, gated, and the
commands it runs work unmodified on the sandbox (EKSUP_SANDBOX=1 turns on `--sandbox`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from upgrader.sandbox.demo_world import DEMO_VERSION
from upgrader.versions import KubeVersion

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github/workflows/examples/eksup-upgrade.yml"


def _document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def _step(job: dict[str, Any], name: str) -> str:
    return str(next(s["run"] for s in job["steps"] if s.get("name") == name))


def test_the_install_is_pinned_to_this_version() -> None:
    document = _document()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert document["env"]["EKSUP_VERSION"] == version
    for job in document["jobs"].values():
        install = _step(job, "Install eksup (pinned) and kubeconfig")
        assert 'pip install "eksup==$EKSUP_VERSION"' in install


def test_the_pr_gets_the_plan_and_the_merge_runs_it_behind_an_environment() -> None:
    document = _document()
    # YAML reads the key `on` as True.
    triggers = document.get("on", document.get(True))
    plan_path = document["env"]["PLAN"]
    assert triggers["pull_request"]["paths"] == [plan_path]
    assert triggers["push"]["paths"] == [plan_path]
    plan, execute = document["jobs"]["plan"], document["jobs"]["execute"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert plan["permissions"]["pull-requests"] == "write"
    assert "gh pr comment" in _step(plan, "Comment on the pull request")
    assert execute["if"] == "github.event_name == 'push'"
    assert execute["environment"] == "eks-production"
    run = _step(execute, "Execute the saved plan")
    assert 'eksup execute "$PLAN" --yes' in run
    assert 'eksup approve "$PLAN"' in run
    assert 'eksup execute "$PLAN" --resume --yes' in run
    assert document["permissions"] == {"contents": "read"}  # least privilege by default
    assert document["concurrency"]["cancel-in-progress"] is False


def test_the_plan_job_renders_the_comment_on_the_sandbox(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "EKSUP_SANDBOX": "1",
        "PLAN": "infra/eks/plan.json",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "COLUMNS": "200",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("EKSUP_CLUSTER", None)
    (tmp_path / "infra/eks").mkdir(parents=True)
    target = str(KubeVersion.parse(DEMO_VERSION) + 1)
    made = subprocess.run(
        [sys.executable, "-m", "upgrader.cli", "plan", "--to", target, "--out", env["PLAN"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    script = _step(_document()["jobs"]["plan"], "Render the saved plan")
    rendered = subprocess.run(
        ["bash", "-e", "-c", script.replace("eksup ", f"{sys.executable} -m upgrader.cli ")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # The demo has a bare pod and emptyDir data: the real run would stop for consent (exit 2),
    # which is what the PR should show.
    assert rendered.returncode == 2, rendered.stderr
    comment = (tmp_path / "comment.md").read_text()
    assert comment.startswith("<!-- eksup-plan -->")
    assert "exit code 2" in comment
    assert "Verdict: **READY WITH WARNINGS**" in comment
