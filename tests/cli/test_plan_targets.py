"""`eksup plan --to`: MAJOR.MINOR, `next` or `latest`; anything else is one line, exit 1. The
plan says where its version facts came from; on the sandbox, from its own EKS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("to", ["1.30.2", "v1.30"])
def test_a_patch_or_prefix_is_refused_with_the_minor_to_use(to: str) -> None:
    code, stdout, stderr = run("plan", "--sandbox", "--to", to)
    assert code == 1  # bad input eksup can name (exit_codes.py)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "--to 1.30" in lines[0]
    assert "Traceback" not in stdout + stderr


def test_next_plans_one_minor_up_from_aws_facts(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code, _, stderr = run("plan", "--sandbox", "--to", "next", "--out", str(out))
    assert code == 0, stderr
    plan = json.loads(out.read_text())
    assert (plan["current_version"], plan["target_version"]) == ("1.29", "1.30")
    assert plan["version_facts"] == "aws"
    # The sandbox's EKS and the data file agree: no version-data warning.
    version_data = [f for f in plan["findings"] if f["check_id"] == "version-data"]
    assert [f["status"] for f in version_data] == ["pass"]


def test_latest_is_what_the_sandboxes_eks_offers_on_its_date(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code, _, stderr = run("plan", "--sandbox", "--to", "latest", "--out", str(out))
    assert code in (0, 2), stderr  # a five-minor jump may well be blocked; it is still planned
    assert json.loads(out.read_text())["target_version"] == "1.34"  # the newest on 2026-01-01


def test_tables_do_not_wrap_at_80_columns_without_a_terminal() -> None:
    # No COLUMNS and no terminal (a CI log): rows stay whole.
    code, stdout, _ = run("plan", "--sandbox", "--to", "1.31", env={"COLUMNS": None})
    assert code == 0
    assert max(len(line) for line in stdout.splitlines()) > 80


def test_the_embedded_sandbox_ignores_the_users_aws_settings(tmp_path: Path) -> None:
    # A shell that sourced a served sandbox's aws.env (now gone), with a profile of its own.
    config = tmp_path / "config"
    config.write_text("[profile prod]\nregion = eu-west-1\n")
    shell = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_PROFILE": "no-such-profile",
        "AWS_CONFIG_FILE": str(config),
        "AWS_ACCESS_KEY_ID": "AKIAREALLOOKINGKEY00",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    code, _, stderr = run("plan", "--sandbox", "--to", "1.30", env=shell)
    assert code == 0, stderr


def test_a_sandbox_clock_must_be_on_loopback() -> None:
    code, stdout, stderr = run(
        "plan", "--cluster", "x", "--to", "1.30", env={"EKSUP_SANDBOX_CLOCK": "http://10.1.2.3/c"}
    )
    assert code == 1
    assert "loopback" in stderr
    assert "Traceback" not in stdout + stderr
