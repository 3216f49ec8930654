"""Shadow: a copy of stable's requests goes to the candidate, whose answers are dropped, while
the gates watch the candidate under real load.

Steps: the gates before anything changes, the mirror on (read back, accepted), the bake, the
gates again, the mirror off. Shadow never leaves mirroring on, whatever the outcome.
"""

from __future__ import annotations

from strategies.spec import GatewayTraffic, RolloutSpec, Shadow
from strategies.steps import Analysis, Pause, RolloutStep, SetRoute


def steps(strategy: Shadow) -> list[RolloutStep]:
    return [
        Analysis(0, "before the route"),
        SetRoute(1, "mirror", True),
        Pause(1, strategy.pause_seconds),
        Analysis(1, f"after {strategy.pause_seconds:g}s"),
        SetRoute(2, "mirror", False),
    ]


def plan_lines(spec: RolloutSpec) -> list[tuple[str, str]]:
    """What `rollout plan` shows: each phase and what it mirrors."""
    strategy, traffic = spec.strategy, spec.traffic
    assert isinstance(strategy, Shadow)
    lines: list[tuple[str, str]] = [("gates", "evaluated before anything changes")]
    if isinstance(traffic, GatewayTraffic):
        namespace = traffic.namespace or spec.app.namespace
        lines.append(
            (
                "mirror on",
                f"HTTPRoute {namespace}/{traffic.route}: RequestMirror {strategy.mirror_percent}% "
                f"of the rule forwarding to {traffic.stable_backend.service}:"
                f"{traffic.stable_backend.port} to {traffic.candidate_backend.service}:"
                f"{traffic.candidate_backend.port} (answers dropped); read back, accepted",
            )
        )
    lines.append(("bake", f"{strategy.pause_seconds:g}s, then the gates decide"))
    lines.append(("end", "mirror removed and read back, whatever the outcome"))
    return lines
