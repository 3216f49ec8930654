"""`eksup fleet` at the command line: bad input is one line and a documented exit code, a run is
not started twice, approvals are never given ahead of time, and the published schema is current."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.usecases.fleet.builders import FLEET, make_run
from upgrader.cli import app


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["fleet", *args])
    return result.exit_code, result.output


def _one_line(output: str) -> None:
    assert "Traceback" not in output
    assert len([line for line in output.splitlines() if line.strip()]) == 1, output


def test_the_published_fleet_run_schema_is_current() -> None:
    code, output = _run("schema")
    assert code == 0
    published = Path(__file__).resolve().parents[2] / "docs" / "fleet-run.schema.json"
    assert json.loads(published.read_text()) == json.loads(output), (
        "docs/fleet-run.schema.json is stale: run `eksup fleet schema > docs/fleet-run.schema.json`"
    )


def test_a_bad_fleet_yaml_is_one_line_with_its_line(tmp_path: Path) -> None:
    spec = tmp_path / "fleet.yaml"
    spec.write_text(
        FLEET.replace("{allowed}", "0").replace("maxConcurrency: 2", "maxConcurrency: -1")
    )
    code, output = _run("plan", str(spec))
    assert code == 1
    _one_line(output)
    assert f"{spec}:14: stages.1.maxConcurrency:" in output
    code, output = _run("plan", str(tmp_path / "missing.yaml"))
    assert code == 1
    _one_line(output)


def test_a_bad_run_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "run.json"
    bad.write_text('{"kind": "something-else"}')
    code, output = _run("status", str(bad))
    assert code == 1
    _one_line(output)
    assert "not a fleet run" in output
    code, output = _run("status", str(tmp_path / "nope.json"))
    assert code == 1
    assert "eksup fleet plan fleet.yaml --out" in output


def test_a_run_is_not_started_twice_and_asks_first(tmp_path: Path) -> None:
    _, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    # No terminal to ask on and no --yes: refused before anything happens.
    code, output = _run("run", str(run_file))
    assert code == 3
    assert "pass --yes" in output
    (run_file.with_name("run.fleet")).mkdir()
    (run_file.with_name("run.fleet") / "journal.jsonl").write_text(
        '{"seq": 1, "at": 0, "kind": "run-started", "by": "x", "engine": "local"}\n'
    )
    code, output = _run("run", str(run_file), "--yes")
    assert code == 3
    assert "eksup fleet resume" in output


def test_gates_are_not_approved_ahead_of_time(tmp_path: Path) -> None:
    text = FLEET.replace("{allowed}", "0").replace(
        "selector: env=prod", "selector: env=prod\n    beforeGates: [{name: cab}]"
    )
    _, run_file = make_run(tmp_path, text)
    code, output = _run("approve", str(run_file), "--gate", "prod/before/cab")
    assert code == 3
    assert "not waiting for approval" in output
    code, output = _run("approve", str(run_file), "--gate", "prod/before/nope")
    assert code == 1
    assert "one of prod/before/cab" in output


def test_skip_stop_retry_need_what_they_act_on(tmp_path: Path) -> None:
    _, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    code, output = _run("skip", str(run_file), "--reason", " ")
    assert code == 1
    _one_line(output)
    code, output = _run("skip", str(run_file), "--cluster", "nope", "--reason", "x")
    assert code == 1
    assert "no cluster nope" in output
    code, output = _run("retry", str(run_file))
    assert code == 3
    assert "no cluster of the run has failed" in output
    code, output = _run("skip", str(run_file), "--group", "dev.dev", "--reason", "freeze")
    assert code == 0
    code, output = _run("stop", str(run_file))
    assert code == 0
    code, output = _run("status", str(run_file), "--format", "json")
    shown = json.loads(output)
    assert shown["clusters"][1]["cluster"] == "dev-a"


def test_argo_needs_out_or_server(tmp_path: Path) -> None:
    _, run_file = make_run(tmp_path, FLEET.replace("{allowed}", "0"))
    code, output = _run("run", str(run_file), "--engine", "argo")
    assert code == 1
    assert "--out FILE" in output
    code, output = _run("run", str(run_file), "--engine", "argo", "--out", "wf.yaml")
    assert code == 1
    assert "--engine argo needs --image" in output
