"""The fleet on the sandbox, end to end: real plans, the real run engine, two accounts (STS
AssumeRole in moto) and two regions; the demo's wave stops as dev's fail-fast policy says."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.fleet.run_doc import fleet_run_schema


def test_demo_wave_stops_when_dev_b_fails_its_preflight() -> None:
    result = CliRunner().invoke(app, ["demo", "--fleet"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.output
    assert "failed after" in text
    assert "dev-b: FAILED preflight" in text
    assert "debug-shell" in text
    assert "dev-a: succeeded" in text  # in flight when dev-b failed: it finished
    assert "prod-eu: started" not in text
    assert "waits for stage dev (failed)" in text


def test_fleet_plan_cli_on_the_sandbox_writes_a_run_matching_its_schema(tmp_path: Path) -> None:
    runner = CliRunner()
    spec = tmp_path / "fleet.yaml"
    spec.write_text(runner.invoke(app, ["fleet", "example"]).output)
    out = tmp_path / "run.json"
    result = runner.invoke(
        app, ["fleet", "plan", str(spec), "--sandbox", "--out", str(out), "--format", "markdown"]
    )
    assert result.exit_code == 0, result.output
    assert "# Fleet runbook" in result.output
    assert "## 3. Stage prod" in result.output
    document = json.loads(out.read_text())
    jsonschema.validate(document, fleet_run_schema())
    by_name = {c["name"]: c for c in document["clusters"]}
    assert by_name["dev-b"]["account"] == "210987654321"
    assert by_name["dev-b"]["plan"]["region"] == "eu-west-1"
    assert by_name["dev-b"]["reason"].startswith("warnings:")
    assert all(c["fingerprint"] for c in document["clusters"])
    # One version of each add-on for the whole fleet, both regions.
    assert {a["addon"] for a in document["addon_choices"]} >= {"kube-proxy", "vpc-cni"}
