"""`eksup sandbox up|status|down`: the demo cluster served on loopback, in the background, and
`eksup plan` / `eksup execute` on their real adapters (boto3 and the kubernetes client, not
--sandbox) against those servers, configured only by aws.env and the kubeconfig."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.kube import NODEGROUP_LABEL
from upgrader.sandbox.daemon import aws_env, server_url

# What a user's shell might hold that would point eksup elsewhere than the sandbox.
_CLEARED: dict[str, str | None] = dict.fromkeys(
    ("AWS_PROFILE", "AWS_SESSION_TOKEN", "EKSUP_SANDBOX", "EKSUP_CLUSTER", "EKSUP_CONTEXT")
)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    environment = {"COLUMNS": "200", **_CLEARED, **(env or {})}
    result = CliRunner().invoke(app, list(args), env=environment)
    return result.exit_code, result.stdout, result.stderr


def test_up_status_plan_execute_dry_run_down(tmp_path: Path) -> None:
    directory = str(tmp_path / "sandbox")
    code, stdout, stderr = run("sandbox", "up", "--dir", directory)
    try:
        assert code == 0, stderr
        assert "KUBECONFIG=" in stdout
        url = server_url(Path(directory))
        assert url is not None
        with urllib.request.urlopen(f"{url}/api/v1/nodes", timeout=5) as response:
            nodes = json.load(response)["items"]
        assert len(nodes) == 12
        assert {n["metadata"]["labels"][NODEGROUP_LABEL] for n in nodes} == {"general", "batch"}
        settings = aws_env(Path(directory))
        assert settings["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        assert f"export AWS_ENDPOINT_URL={settings['AWS_ENDPOINT_URL']}" in stdout
        code, stdout, _ = run("sandbox", "status", "--dir", directory)
        assert code == 0
        assert f"Kubernetes API at {url}, answering" in stdout
        assert f"AWS (moto) at {settings['AWS_ENDPOINT_URL']}, answering" in stdout
        code, _, stderr = run("sandbox", "up", "--dir", directory)
        assert code == 3
        assert "already runs" in stderr
        plan_and_dry_run(Path(directory), tmp_path / "plan.json")
    finally:
        code, stdout, _ = run("sandbox", "down", "--dir", directory)
    assert code == 0
    assert "stopped" in stdout
    code, stdout, _ = run("sandbox", "status", "--dir", directory)
    assert "no sandbox runs" in stdout


def plan_and_dry_run(directory: Path, plan_file: Path) -> None:
    """The real adapters, pointed at the sandbox by the environment alone."""
    env = {**aws_env(directory), "KUBECONFIG": str(directory / "kubeconfig")}
    code, stdout, stderr = run(
        "plan", "--cluster", "demo", "--to", "1.31", "--out", str(plan_file), env=env
    )
    assert code == 0, stderr
    plan = json.loads(plan_file.read_text())
    steps = [step["id"] for step in plan["steps"]]
    assert steps[:3] == ["preflight", "approve-upgrade", "pause-autoscaler"]
    for hop in ("1.30", "1.31"):
        assert f"control-plane-{hop}" in steps
        assert f"nodegroup-general-{hop}" in steps
        assert f"nodegroup-batch-{hop}" in steps
    # The kubeconfig points at the EKS cluster's endpoint: the context check passes for real.
    assert "kube-context" not in stdout

    code, stdout, stderr = run(
        "execute", str(plan_file), "--dry-run", "--force", "--delete-emptydir-data", env=env
    )
    assert code == 0, stdout + stderr
    assert "would call eks:UpdateClusterVersion cluster=demo version=1.30" in stderr
    assert "would call eks:CreateNodegroup cluster=demo nodegroup=general-1-30" in stderr
    assert "would call kubernetes:cordon node=ip-10-0-100-" in stderr
    assert "would drain 8 nodes of general" in stderr
