"""`eksup sandbox up --fleet`: the sandbox fleet served on loopback (one moto, one Kubernetes API
per cluster, a context each), and `eksup fleet` on its real adapters, step by step: planned
from a shell that sourced aws.env (no --sandbox), run with `--sandbox` (found by the sandbox's
files), each cluster waiting at its own gate (clusterApproval: each) until `fleet approve
--cluster` records the approval in that cluster, then resumed to the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.demo.fleet_world import example_fleet_yaml
from upgrader.sandbox.daemon import aws_env

# What a user's shell might hold that would point eksup elsewhere than the sandbox.
_CLEARED: dict[str, str | None] = dict.fromkeys(
    ("AWS_PROFILE", "AWS_SESSION_TOKEN", "EKSUP_SANDBOX", "EKSUP_CLUSTER", "EKSUP_CONTEXT")
)


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", **_CLEARED, **(env or {})})
    return result.exit_code, result.stdout + result.stderr


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "sandbox"
    monkeypatch.setenv("EKSUP_SANDBOX_DIR", str(directory))
    code, output = run("sandbox", "up", "--fleet", "--rate", "1000")
    assert code == 0, output
    assert "sandbox fleet up" in output
    assert "clusters mgmt, dev-a, dev-b, prod-eu" in output
    try:
        yield directory
    finally:
        run("sandbox", "down")


def _two_clusters() -> str:
    """mgmt and dev-a of the example, each waiting at its own plan's approval gate."""
    text = example_fleet_yaml()
    head, _, rest = text.partition("clusters:\n")
    clusters, _, _stages = rest.partition("stages:\n")
    kept = [c for c in clusters.split("  - name: ")[1:] if c.startswith(("mgmt\n", "dev-a\n"))]
    return (
        head
        + "clusterApproval: each\n"
        # Virtual time runs fast while the test's client polls over HTTP: room to drain.
        + "execute: {drainTimeout: 6h}\n"
        + "clusters:\n"
        + "".join("  - name: " + c for c in kept)
        + "stages:\n  - {name: management, selector: env=mgmt}\n"
        + "  - {name: dev, selector: env=dev}\n"
    )


@pytest.mark.slow
def test_a_served_fleet_is_planned_run_and_approved_cluster_by_cluster(
    served: Path, tmp_path: Path
) -> None:
    spec, run_file = tmp_path / "fleet.yaml", tmp_path / "run.json"
    spec.write_text(_two_clusters())
    # A shell that sourced aws.env: the real adapters, each cluster by its context.
    shell = aws_env(served)
    assert shell["KUBECONFIG"] == str((served / "kubeconfig").resolve())
    code, output = run("fleet", "plan", str(spec), "--out", str(run_file), env=shell)
    assert code == 0, output
    document = json.loads(run_file.read_text())
    assert [c["verdict"] for c in document["clusters"]] == ["ready", "ready"]
    assert document["created_at"].startswith("2026-")  # the sandbox's date, not the wall's

    code, output = run("fleet", "run", str(run_file), "--sandbox", "--yes")
    assert code == 4, output  # mgmt waits at its own gate
    assert "waits at its approval gate" in output
    code, output = run("fleet", "approve", str(run_file), "--cluster", "dev-a", "--sandbox")
    assert code == 3, output  # not waiting: approvals are never given ahead of time
    code, output = run(
        "fleet", "approve", str(run_file), "--cluster", "mgmt", "--sandbox", "--by", "sre"
    )
    assert code == 0, output
    code, output = run("fleet", "resume", str(run_file), "--sandbox", "--yes")
    assert code == 4, output  # mgmt upgraded; dev-a waits at its gate now
    assert "mgmt: succeeded" in output
    code, output = run("fleet", "approve", str(run_file), "--cluster", "dev-a", "--sandbox")
    assert code == 0, output
    code, output = run("fleet", "resume", str(run_file), "--sandbox", "--yes")
    assert code == 0, output
    assert "every cluster at" in output
    # The world outlived the commands: a new plan finds both clusters at the target.
    again = tmp_path / "again.json"
    code, output = run("fleet", "plan", str(spec), "--out", str(again), "--sandbox")
    assert code == 0, output
    assert {c["verdict"] for c in json.loads(again.read_text())["clusters"]} == {"skipped"}
    # Each approval is in that cluster's own journal, by whom it was given.
    journal = (tmp_path / "run.fleet" / "mgmt.plan.journal.jsonl").read_text()
    assert "sre" in journal
