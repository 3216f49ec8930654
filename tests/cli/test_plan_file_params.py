"""A hand-edited step parameter, through the CLI: one line naming the step and the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app

PLAN = Path(__file__).resolve().parents[1] / "plan" / "data" / "plan_untyped_params_blue_green.json"


@pytest.mark.parametrize("command", ["execute", "status"])
def test_a_mistyped_param_is_one_line_and_nothing_runs(tmp_path: Path, command: str) -> None:
    document = json.loads(PLAN.read_text(encoding="utf-8"))
    step = next(s for s in document["steps"] if s["id"] == "nodegroup-general-1.29")
    step["params"]["drain_timeout_seconds"] = "soon"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = CliRunner().invoke(app, [command, str(path), "--sandbox"], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert (
        "step 'nodegroup-general-1.29' (nodegroup-blue-green): params: drain_timeout_seconds: "
        "Input should be a valid integer"
    ) in result.stderr
    assert "re-run `eksup plan`" in result.stderr
    assert not list(tmp_path.glob("*.journal*"))
