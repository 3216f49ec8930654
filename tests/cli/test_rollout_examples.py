"""The example rollout specs in `examples/rollouts/` are valid, and the sandbox ones run as
the README writes them: `eksup rollout run examples/rollouts/canary-alb.yaml --sandbox`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.sandbox.demo_world import build_demo_world
from upgrader.sandbox.rollout_world import build_rollout_world
from upgrader.sandbox.world import Sandbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rollouts"
KINDS = {
    "canary-alb.yaml": ("canary", "alb-elbv2"),
    "blue-green-route53.yaml": ("blue-green", "route53"),
    "ab-ingress.yaml": ("ab", "alb-ingress"),
    "shadow-gateway.yaml": ("shadow", "gateway-api"),
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.stdout, result.stderr


def test_every_promised_example_ships_and_is_valid() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted(KINDS)
    for name, (strategy, provider) in KINDS.items():
        document = yaml.safe_load((EXAMPLES / name).read_text())
        assert (document["strategy"]["kind"], document["traffic"]["provider"]) == (
            strategy,
            provider,
        )
        code, _, stderr = run("rollout", "plan", str(EXAMPLES / name))
        assert code == 0, f"{name}: {stderr}"


def test_the_sandbox_examples_carry_the_sandbox_ids() -> None:
    with Sandbox() as world:
        build_demo_world(world)
        ids = build_rollout_world(world)
    canary = yaml.safe_load((EXAMPLES / "canary-alb.yaml").read_text())["traffic"]
    assert (
        canary["rule_arn"],
        canary["stable_target_group"],
        canary["candidate_target_group"],
    ) == (ids.rule_arn, ids.stable_target_group, ids.candidate_target_group), (
        "regenerate the ids with `python -m upgrader.sandbox.rollout_world`"
    )
    route53 = yaml.safe_load((EXAMPLES / "blue-green-route53.yaml").read_text())["traffic"]
    assert route53["zone_id"] == ids.zone_id


@pytest.mark.parametrize("name", ["canary-alb.yaml", "blue-green-route53.yaml"])
def test_a_sandbox_example_runs_as_written(name: str) -> None:
    code, stdout, stderr = run("rollout", "run", f"examples/rollouts/{name}", "--sandbox", "--yes")
    assert code == 0, stderr
    assert "web: succeeded" in stdout
    assert "set weights stable 0 / candidate 100" in stderr


def test_a_sandbox_example_dry_run_changes_nothing() -> None:
    code, stdout, _ = run(
        "rollout", "run", "examples/rollouts/canary-alb.yaml", "--sandbox", "--dry-run"
    )
    assert code == 0
    assert "modify-rule" in stdout
