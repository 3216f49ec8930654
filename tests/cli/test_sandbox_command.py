"""`eksup sandbox up|status|down`: the demo cluster served on loopback, in the background."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.kube import NODEGROUP_LABEL
from upgrader.sandbox.daemon import server_url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


def test_up_status_down(tmp_path: Path) -> None:
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
        code, stdout, _ = run("sandbox", "status", "--dir", directory)
        assert code == 0
        assert "answering" in stdout
        code, _, stderr = run("sandbox", "up", "--dir", directory)
        assert code == 3
        assert "already runs" in stderr
    finally:
        code, stdout, _ = run("sandbox", "down", "--dir", directory)
    assert code == 0
    assert "stopped" in stdout
    code, stdout, _ = run("sandbox", "status", "--dir", directory)
    assert "no sandbox runs" in stdout
