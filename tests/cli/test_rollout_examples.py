"""The example rollout specs in `examples/rollouts/` are valid, and the sandbox ones run as
the README writes them: `eksup rollout run examples/rollouts/canary-alb.yaml --sandbox`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from strategies.ports import RolloutPorts
from upgrader.cli import app
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
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
    ingress = yaml.safe_load((EXAMPLES / "ab-ingress.yaml").read_text())["traffic"]
    assert (
        ingress["rule_arn"],
        ingress["ab_rule_arn"],
        ingress["stable_target_group"],
        ingress["candidate_target_group"],
    ) == (
        ids.ingress_rule_arn,
        ids.ingress_ab_rule_arn,
        ids.ingress_stable_target_group,
        ids.ingress_candidate_target_group,
    ), "regenerate the ids with `python -m upgrader.sandbox.rollout_world`"


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


def test_the_ab_ingress_example_runs_as_written() -> None:
    """The fake Load Balancer Controller turns eksup's annotations into the A/B rule's header
    condition, read back from ELBv2 before the route counts as on."""
    code, stdout, stderr = run(
        "rollout", "run", "examples/rollouts/ab-ingress.yaml", "--sandbox", "--yes"
    )
    assert code == 0, stderr
    assert "web: ab succeeded (gates passed); A/B on: ELBv2 rule" in stdout
    assert "(priority 1): Cookie ~ *variant=b* -> k8s-shop-web-candidate" in stdout


def test_the_shadow_gateway_example_runs_as_written() -> None:
    """The sandbox's HTTPRoute takes the mirror (generation 2) and loses it (generation 3),
    each accepted by its Gateway before eksup goes on."""
    code, stdout, stderr = run(
        "rollout", "run", "examples/rollouts/shadow-gateway.yaml", "--sandbox", "--yes"
    )
    assert code == 0, stderr
    assert "web: shadow succeeded (gates passed); no mirror on HTTPRoute shop/web generation 3" in (
        stdout
    )


def test_the_ab_ingress_example_on_the_sandbox_reads_back_on_elbv2_until_abort() -> None:
    """What the run left on the sandbox's ALB: the A/B path's rule matches the cookie and
    forwards to the candidate group only; `rollout abort` forwards it to stable again."""
    with Sandbox() as world:
        build_demo_world(world)
        ids = build_rollout_world(world)
        ports = RolloutPorts(world.aws, world.aws, world.aws, world.clock, world.kube(DEMO_CLUSTER))
        spec = "examples/rollouts/ab-ingress.yaml"
        result = CliRunner().invoke(app, ["rollout", "run", spec, "--yes"], obj=ports)
        assert result.exit_code == 0, result.stderr
        elbv2: Any = world.boto3_client("elbv2")

        def ab_rule() -> dict[str, Any]:
            rule: dict[str, Any] = elbv2.describe_rules(RuleArns=[ids.ingress_ab_rule_arn])[
                "Rules"
            ][0]
            return rule

        def forwards(rule: dict[str, Any]) -> list[str]:
            groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
            return [g["TargetGroupArn"] for g in groups if g.get("Weight", 1) > 0]

        header = {"HttpHeaderName": "Cookie", "Values": ["*variant=b*"]}
        fields = {c["Field"]: c for c in ab_rule()["Conditions"]}
        assert fields["http-header"]["HttpHeaderConfig"] == header
        assert fields["path-pattern"]["PathPatternConfig"]["Values"] == ["/*"]
        assert forwards(ab_rule()) == [ids.ingress_candidate_target_group]

        result = CliRunner().invoke(app, ["rollout", "abort", spec], obj=ports)
        assert result.exit_code == 0, result.stderr
        assert forwards(ab_rule()) == [ids.ingress_stable_target_group]
