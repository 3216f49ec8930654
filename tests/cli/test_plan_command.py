"""`eksup plan` end to end through the CLI, on the embedded sandbox."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.errors import UserError
from upgrader.core.exit_codes import ExitCode
from upgrader.plan.document import Plan, load_plan
from upgrader.sandbox.demo_world import DEMO_VERSION
from upgrader.sandbox.eks import extension as moto_eks


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def test_plan_on_the_sandbox_prints_verdict_and_steps(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code, stdout, _ = run("plan", "--sandbox", "--to", "1.31", "--out", str(out))
    assert code == 0
    assert "READY WITH WARNINGS" in stdout
    assert "control-plane-1.30" in stdout
    plan = load_plan(out)
    assert plan.hops == ["1.30", "1.31"]
    assert [s.id for s in plan.steps if s.kind.value == "control-plane"] == [
        "control-plane-1.30",
        "control-plane-1.31",
    ]
    # Managed node groups follow every hop: EKS refuses a CP update while one lags.
    assert plan.node_replacements == 4


@pytest.mark.parametrize("fmt", ["json", "markdown", "junit"])
def test_plan_formats(fmt: str) -> None:
    code, stdout, _ = run("plan", "--sandbox", "--to", "1.30", "--format", fmt)
    assert code == 0
    if fmt == "json":
        plan = Plan.model_validate(json.loads(stdout))
        assert plan.target_version == "1.30"
    elif fmt == "markdown":
        assert stdout.startswith("# Upgrade demo from 1.29 to 1.30")
        assert "aws eks update-cluster-version" in stdout
    else:
        root = ET.fromstring(stdout)
        assert root.iter("testcase")


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("1.28", "downgrade"),
        ("1.99", "1.99"),
        ("one.thirty", "one.thirty"),
    ],
)
def test_impossible_targets_are_one_line_errors(target: str, words: str) -> None:
    code, stdout, stderr = run("plan", "--sandbox", "--to", target)
    assert code == 1
    assert "Traceback" not in stderr + stdout
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("eksup: error:")
    assert words in lines[0]


def test_the_current_version_is_nothing_to_do_and_exits_0() -> None:
    # Terraform's "No changes" and kubectl diff's empty diff are success: so is this.
    code, stdout, _ = run("plan", "--sandbox", "--to", DEMO_VERSION)
    assert code == 0
    assert stdout.startswith("NOTHING TO DO")
    assert f"Nothing to do: the cluster and its nodes are on {DEMO_VERSION}." in stdout
    assert "NOT READY" not in stdout


def test_a_cluster_is_required_outside_the_sandbox() -> None:
    code, _, stderr = run("plan", "--to", "1.30")
    assert code == 1
    assert "--cluster is required" in stderr


def test_missing_aws_credentials_are_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    code, stdout, stderr = run("plan", "--cluster", "prod", "--region", "us-east-1", "--to", "1.30")
    assert code == 1
    assert "Traceback" not in stderr + stdout
    assert len([line for line in stderr.splitlines() if line.strip()]) == 1
    assert "credentials" in stderr.lower()


def test_schema_is_published() -> None:
    code, stdout, _ = run("schema")
    assert code == 0
    schema = json.loads(stdout)
    assert "steps" in schema["properties"]


def kubeconfig_at(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


@pytest.fixture
def aws_account(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto standing in for AWS, so the real adapters run against it in this process."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    moto_eks.install()
    with mock_aws():
        yield


def test_a_missing_cluster_is_one_line(
    aws_account: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_at(tmp_path, "http://127.0.0.1:9")))
    code, stdout, stderr = run("plan", "--cluster", "nope", "--region", "us-east-1", "--to", "1.30")
    assert code == 1
    assert "Traceback" not in stderr + stdout
    assert len([line for line in stderr.splitlines() if line.strip()]) == 1
    assert "nope" in stderr
    assert "not found" in stderr


def test_an_unreachable_api_server_is_one_line(
    aws_account: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    eks = boto3.client("eks", region_name="us-east-1")
    eks.create_cluster(
        name="prod",
        version="1.29",
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": []},
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig_at(tmp_path, "http://127.0.0.1:9")))
    code, stdout, stderr = run("plan", "--cluster", "prod", "--region", "us-east-1", "--to", "1.30")
    assert code == 1
    assert "Traceback" not in stderr + stdout
    assert len([line for line in stderr.splitlines() if line.strip()]) == 1
    assert "127.0.0.1:9" in stderr


def test_the_published_schema_file_is_current() -> None:
    code, stdout, _ = run("schema")
    assert code == 0
    published = Path(__file__).resolve().parents[2] / "docs" / "plan.schema.json"
    assert json.loads(published.read_text()) == json.loads(stdout), (
        "docs/plan.schema.json is stale: run `eksup schema > docs/plan.schema.json`"
    )


def test_a_bad_max_unavailable_is_one_line_and_exit_1() -> None:
    code, _, stderr = run("plan", "--sandbox", "--to", "1.30", "--max-unavailable", "0")
    assert code == 1
    assert stderr.strip().count("\n") == 0
    assert '--max-unavailable 0: give a count "1"-"100"' in stderr


def test_max_unavailable_reaches_the_in_place_steps() -> None:
    code, stdout, _ = run(
        "plan",
        "--sandbox",
        "--to",
        "1.30",
        "--node-strategy",
        "in-place",
        "--max-unavailable",
        "25%",
        "--format",
        "json",
    )
    assert code == 0
    steps = json.loads(stdout)["steps"]
    in_place = [s for s in steps if s["kind"] == "nodegroup-in-place"]
    assert in_place
    assert {s["params"]["max_unavailable"] for s in in_place} == {"25%"}


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (("schema",), "upgrader.plan.document.plan_json_schema"),
        (("fleet", "schema"), "upgrader.fleet.run_doc.fleet_run_schema"),
    ],
)
def test_schema_errors_are_one_line(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], target: str
) -> None:
    """Like every command, `eksup schema` and `eksup fleet schema` report eksup's own errors
    as one line with their exit code (cli/output.py reported_errors), never a traceback."""

    def broken() -> None:
        raise UserError("the schema cannot be built: a model is invalid")

    monkeypatch.setattr(target, broken)
    code, stdout, stderr = run(*args)
    assert code == ExitCode.FAILED  # UserError.exit_code
    assert "Traceback" not in stderr + stdout
    assert [line for line in stderr.splitlines() if line.strip()] == [
        "eksup: error: the schema cannot be built: a model is invalid"
    ]
