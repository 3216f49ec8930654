"""`eksup fleet run --dry-run` at the command line on the embedded sandbox fleet: exit 0 with
every member in stage order and nothing written; a member's plan that no longer passes
`execute --dry-run` is named with its exit code; Argo and a started run are one line each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.demo.fleet_world import example_fleet_yaml

DEV_B = "    roleArn: arn:aws:iam::210987654321:role/eksup-fleet\n    labels: {env: dev}\n"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["fleet", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox fleet planned once, dev-b with `execute: {force: true}` (its bare pod)."""
    where = tmp_path_factory.mktemp("planned")
    spec = where / "fleet.yaml"
    spec.write_text(example_fleet_yaml().replace(DEV_B, DEV_B + "    execute: {force: true}\n"))
    code, output = _run("plan", str(spec), "--sandbox", "--out", str(where / "run.json"))
    assert code == 0, output
    return where / "run.json"


@pytest.fixture
def run_file(planned: Path, tmp_path: Path) -> Path:
    return Path(shutil.copy(planned, tmp_path / "run.json"))


def test_every_member_would_run_in_stage_order_and_nothing_is_written(run_file: Path) -> None:
    code, output = _run("run", str(run_file), "--sandbox", "--dry-run")
    assert code == 0, output
    assert "Traceback" not in output
    verdicts = [line.strip() for line in output.splitlines() if ": would run: " in line]
    assert [line.split(":")[0] for line in verdicts] == ["mgmt", "dev-a", "dev-b", "prod-eu"]
    assert "1. stage management" in output
    assert "waits for approval prod/before/change-board" in output
    assert "Summary: 4 would run." in output
    # Each member's execute dry run, prefixed with its cluster, on stderr.
    assert "mgmt: would call eks:UpdateClusterVersion" in output
    # No journal, no lock, no cluster plan files: the run has not started.
    assert sorted(p.name for p in run_file.parent.iterdir()) == ["run.json"]
    code, output = _run("status", str(run_file), "--format", "json")
    assert code == 0, output
    assert json.loads(output)["status"] == "not-started"


def test_a_member_plan_execute_refuses_is_named_with_exit_3(run_file: Path) -> None:
    document = json.loads(run_file.read_text())
    dev_a = next(c for c in document["clusters"] if c["name"] == "dev-a")
    dev_a["plan"]["steps"][0]["title"] = "edited by hand"
    run_file.write_text(json.dumps(document))
    code, output = _run("run", str(run_file), "--sandbox", "--dry-run")
    assert code == 3, output
    assert "dev-a: refused: " in output
    assert "was edited after `eksup plan` wrote it" in output
    assert "Summary: 3 would run, 1 refused (dev-a)" in output
    assert sorted(p.name for p in run_file.parent.iterdir()) == ["run.json"]


def test_argo_dry_run_is_one_line_pointing_at_out(run_file: Path) -> None:
    code, output = _run("run", str(run_file), "--engine", "argo", "--dry-run")
    assert code == 1
    assert "Traceback" not in output
    assert len([line for line in output.splitlines() if line.strip()]) == 1, output
    assert "`--engine argo --out FILE` renders the Workflow unsubmitted" in output


def test_a_started_run_is_refused(run_file: Path) -> None:
    state = run_file.with_name("run.fleet")
    state.mkdir()
    (state / "journal.jsonl").write_text(
        '{"seq": 1, "at": 0, "kind": "run-started", "by": "x", "engine": "local"}\n'
    )
    code, output = _run("run", str(run_file), "--sandbox", "--dry-run")
    assert code == 3
    assert "has started already" in output
    assert "eksup fleet status" in output
