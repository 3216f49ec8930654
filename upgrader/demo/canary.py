"""The demo's canary: the shop's web app behind an ALB in the sandbox, released 5 -> 25 -> 50 ->
100 with an alarm gate, the weights read back from ELBv2 after every step.

The load balancer, target groups and alarm are made in moto; the candidate Deployment in the
FakeCluster; the rollout itself is `strategies.loop`, exactly as `eksup rollout` will run it.
"""

from __future__ import annotations

from strategies.loop import build_runner
from strategies.run.report import RolloutReport
from strategies.spec import RolloutSpec
from upgrader.sandbox.demo_world import DEMO_CLUSTER, add_shop_candidate
from upgrader.sandbox.weighted_alb import ALARM, shop_alb
from upgrader.sandbox.world import Sandbox


def run_demo_canary(world: Sandbox) -> RolloutReport:
    rule, stable, candidate = shop_alb(world)
    kube = world.kube(DEMO_CLUSTER)
    add_shop_candidate(world)
    spec = RolloutSpec.model_validate(
        {
            "app": {
                "name": "web",
                "namespace": "shop",
                "stable": {"deployment": "web"},
                "candidate": {"deployment": "web-candidate"},
            },
            "strategy": {"kind": "canary", "steps": [5, 25, 50, 100], "pause_seconds": 300},
            "traffic": {
                "provider": "alb-elbv2",
                "rule_arn": rule,
                "stable_target_group": stable,
                "candidate_target_group": candidate,
            },
            "gates": [
                {"kind": "cloudwatch-alarm", "alarms": [ALARM]},
                {"kind": "alb-target-health"},
            ],
        }
    )
    runner = build_runner(
        spec,
        load_balancers=world.aws,
        dns=world.aws,
        metrics=world.aws,
        clock=world.clock,
        cluster=kube,
    )
    report = runner.run()
    assert isinstance(report, RolloutReport)  # a canary moves weights
    return report
