"""A/B: requests whose header (or cookie) matches go to the candidate (B), everyone else stays
on stable (A), while the gates watch.

Steps: the gates before anything changes, the header route on (read back), the bake, the gates
again. A passed test keeps its route: that is the experiment running, and `eksup rollout abort`
ends it; a failed one turns the route off and reads it back gone. Nothing is scaled: both sides
keep serving until someone decides.
"""

from __future__ import annotations

from strategies.spec import AbTest, AlbIngressTraffic, AlbTraffic, GatewayTraffic, RolloutSpec
from strategies.steps import Analysis, Pause, RolloutStep, SetRoute


def steps(strategy: AbTest) -> list[RolloutStep]:
    return [
        Analysis(0, "before the route"),
        SetRoute(1, "header", True),
        Pause(1, strategy.pause_seconds),
        Analysis(1, f"after {strategy.pause_seconds:g}s"),
    ]


def plan_lines(spec: RolloutSpec) -> list[tuple[str, str]]:
    """What `rollout plan` shows: each phase and what it routes. Reads nothing, so the ALB
    priority is described, not chosen."""
    strategy, traffic = spec.strategy, spec.traffic
    assert isinstance(strategy, AbTest)
    lines: list[tuple[str, str]] = [("gates", "evaluated before anything changes")]
    if isinstance(traffic, AlbTraffic):
        where = (
            f"priority {strategy.priority}"
            if strategy.priority is not None
            else "priority just above the spec's rule"
        )
        lines.append(
            (
                "route on",
                f"new ALB rule ({where}) on the listener of {traffic.rule_arn}: when "
                f"{strategy.header} matches {' or '.join(strategy.values)} (and the spec rule's "
                f"conditions), forward to {traffic.candidate_target_group}; all other requests "
                "stay on stable; read back",
            )
        )
    elif isinstance(traffic, AlbIngressTraffic):
        lines.append(
            (
                "route on",
                f"Ingress {spec.app.namespace}/{traffic.ingress}: conditions.{traffic.ab_action} "
                f"= {strategy.header} matches {' or '.join(strategy.values)}, "
                f"actions.{traffic.ab_action} = forward to {traffic.candidate_service}; all other "
                f"requests stay on stable; read back on ELBv2 rule {traffic.ab_rule_arn}",
            )
        )
    elif isinstance(traffic, GatewayTraffic):
        lines.append(
            (
                "route on",
                f"HTTPRoute {traffic.namespace or spec.app.namespace}/{traffic.route}: a new "
                f"rule with the matches of the rules forwarding to {traffic.stable_backend.service}"
                f", each also matching {strategy.header} on {' or '.join(strategy.values)}, "
                f"forwarding to {traffic.candidate_backend.service}:"
                f"{traffic.candidate_backend.port}; all other requests stay on stable; read "
                "back, accepted",
            )
        )
    lines.append(("bake", f"{strategy.pause_seconds:g}s, then the gates decide"))
    lines.append(("end", "passed: route stays (rollout abort removes it); failed: removed"))
    return lines
