"""`eksup rollback` through the CLI: exit codes, one-line refusals, what is left to do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.cli import targets as cli_targets
from upgrader.demo import targets
from upgrader.sandbox.eks.extension import settings
from upgrader.sandbox.world import Sandbox

CLUSTER = "prod"
SUBNETS = ["subnet-0a", "subnet-0b"]
DAY = 24 * 3600.0


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A cluster upgraded from 1.29 to 1.30 a minute ago; the CLI's target is this world."""
    with Sandbox() as sandbox:
        sandbox.create_cluster(CLUSTER, "1.29", SUBNETS)
        sandbox.aws.update_cluster_version(CLUSTER, "1.30")
        sandbox.clock.sleep(settings.cluster_update_seconds + 60)

        @contextmanager
        def open_target(cluster: str | None, **_: Any) -> Iterator[targets.Target]:
            yield replace(targets.sandbox_target(sandbox, CLUSTER), cluster_name=cluster or "")

        monkeypatch.setattr(cli_targets, "open_target", open_target)
        yield sandbox


def test_rollback_with_yes_rolls_back_and_exits_0(world: Sandbox) -> None:
    code, stdout, stderr = run("rollback", "--cluster", CLUSTER, "--yes")

    assert code == 0, stderr
    assert "control plane of prod rolled back to 1.29" in stdout
    assert "-> eks:UpdateClusterVersion cluster=prod version=1.29 (rollback)" in stderr
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"


def test_dry_run_exits_0_and_changes_nothing(world: Sandbox) -> None:
    code, stdout, stderr = run("rollback", "--cluster", CLUSTER, "--dry-run")

    assert code == 0, stderr
    assert "would roll back prod from 1.30 to 1.29; nothing changed" in stdout
    assert "would call eks:UpdateClusterVersion cluster=prod version=1.29" in stderr
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"
    assert len(world.aws.list_updates(CLUSTER)) == 1


def test_without_yes_and_no_terminal_it_is_refused(world: Sandbox) -> None:
    code, _, stderr = run("rollback", "--cluster", CLUSTER)

    assert code == 3
    assert "--yes" in stderr
    assert "not confirmed; nothing was changed" in stderr
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"


@pytest.mark.parametrize(
    ("args", "days", "expected"),
    [
        ((), 8, "EKS allows a rollback only within 7 days of an upgrade"),
        (("--to", "1.28"), 0, "EKS rolls back one minor version only"),
        (("--to", "1.31"), 0, "a rollback goes to an older version, not 1.31"),
    ],
    ids=["window-closed", "two-minors", "up"],
)
def test_refusals_are_one_line_and_exit_3(
    world: Sandbox, args: tuple[str, ...], days: int, expected: str
) -> None:
    world.clock.sleep(days * DAY)

    code, stdout, stderr = run("rollback", "--cluster", CLUSTER, "--yes", *args)

    assert code == 3
    assert expected in stderr
    assert "Traceback" not in stdout + stderr
    assert len([line for line in stderr.splitlines() if line.strip()]) == 1
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"


def test_an_unknown_cluster_fails_with_exit_1(world: Sandbox) -> None:
    code, stdout, stderr = run("rollback", "--cluster", "nope", "--yes")

    assert code == 1
    assert "nope" in stderr
    assert "Traceback" not in stdout + stderr


def test_the_demo_sandbox_cluster_was_never_upgraded() -> None:
    code, _, stderr = run("rollback", "--sandbox", "--yes")

    assert code == 3
    assert "demo was created at 1.29" in stderr
