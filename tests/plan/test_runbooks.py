"""Runbooks validate, render, and a broken one is refused with file:line: field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.errors import UserError
from upgrader.plan.runbooks import all_runbooks, load_runbook_file
from upgrader.render.runbook import render_runbook

REQUIRED = {
    "eks-upgrade-blue-green",
    "eks-upgrade-in-place",
    "eks-cluster-blue-green",
    "canary-release",
    "emergency-rollback",
    "stuck-drain-triage",
}

GOOD = """\
id: tiny
title: Tiny
summary: A runbook.
purpose: triage
parameters:
  cluster: the cluster
steps:
  - id: look
    kind: manual
    title: Look at {cluster}
    description: Read it.
    actions:
      - tool: kubectl
        run: kubectl get nodes
"""


def test_every_runbook_validates_and_renders_with_its_commands() -> None:
    runbooks = all_runbooks()
    assert set(runbooks) >= REQUIRED
    for runbook in runbooks.values():
        text = render_runbook(runbook)
        assert text.startswith(f"# {runbook.title}")
        for step in runbook.steps:
            for command in step.actions:
                if command.tool != "manual":
                    assert command.run.split()[0] in text


def write(tmp_path: Path, text: str, name: str = "tiny") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_a_good_runbook_loads(tmp_path: Path) -> None:
    assert load_runbook_file(write(tmp_path, GOOD)).steps[0].id == "look"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("kind: manual", "kind: teleport"), ":9: steps.0.kind:"),
        (("    description: Read it.", "    descripton: Read it."), ":11: steps.0.descripton:"),
        (("Look at {cluster}", "Look at {node}"), ":8: steps.0: uses {node}"),
        (("tool: kubectl", "tool: curl"), ":13: steps.0.actions.0.tool:"),
        (("purpose: triage", "purpose: fun"), ":4: purpose:"),
    ],
)
def test_a_broken_runbook_names_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(UserError) as error:
        load_runbook_file(path)
    assert str(error.value).startswith(str(path))
    assert expected in str(error.value)


def test_the_id_must_match_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"other\.yaml:1: id: 'tiny' must match"):
        load_runbook_file(write(tmp_path, GOOD.replace("id: tiny", "id: tiny"), name="other"))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"tiny\.yaml:\d+: not valid YAML"):
        load_runbook_file(write(tmp_path, GOOD + "  - [unclosed\n"))


def test_runbook_cli_lists_renders_and_refuses_unknown_ids(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["runbook", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    assert "stuck-drain-triage" in listed.output
    out = tmp_path / "rb.md"
    rendered = runner.invoke(
        app, ["runbook", "render", "eks-upgrade-blue-green", "--out", str(out)]
    )
    assert rendered.exit_code == 0
    assert "aws eks update-cluster-version" in out.read_text()
    unknown = runner.invoke(app, ["runbook", "render", "nope"])
    assert unknown.exit_code == 1
    assert "no runbook 'nope'" in unknown.stderr
