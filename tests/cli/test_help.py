"""`--help` reads as kubectl's and terraform's do: a flag shows no value type."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from upgrader.cli import app


@pytest.mark.parametrize(
    "command",
    [["plan"], ["execute"], ["status"], ["approve"], ["rollback"], ["rollout", "run"]],
)
def test_flags_show_no_bool_type(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    # Options that take a value still say which.
    if command == ["plan"]:
        assert "<str>" in result.stdout


def test_an_eks_arn_context_stands_in_for_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EKSUP_CLUSTER", "AWS_REGION", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    arn = "arn:aws:eks:eu-west-1:111122223333:cluster/prod"
    result = CliRunner().invoke(app, ["plan", "--to", "1.31", "--context", arn, "--cluster", "x"])
    assert result.exit_code == 1
    assert "--cluster x but --context" in result.stderr
    assert "is cluster prod" in result.stderr
