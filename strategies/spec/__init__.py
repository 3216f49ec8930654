"""The rollout spec: what to release, how, through which traffic switch, and when to give up.

A rollout is driven from a YAML file, so every field is validated once, here, and a bad one is
reported as `file:line: field: message` (`load_spec`). Models are frozen: the runner never edits
the spec, it derives steps from it. Every duration is in seconds and says why its default is
what it is.

    app: {name: web, namespace: shop, stable: {deployment: web-blue}, candidate: {...}}
    strategy: {kind: canary, steps: [5, 25, 50, 100], pause_seconds: 300}
    traffic: {provider: alb-elbv2, rule_arn: ..., stable_target_group: ..., ...}
    gates: [{kind: cloudwatch-alarm, alarms: [web-5xx]}, {kind: alb-target-health}]
    deadlines: {total_seconds: 7200, step_seconds: 1800, converge_seconds: 300}

One module per section of the file (strategy, traffic, gates) and one for the whole document;
this package re-exports them all, so `from strategies.spec import X` is the one way to name a
part of the spec (as `upgrader.core.kube` does for the Kubernetes types).
"""

from strategies.spec.base import Percent, Seconds
from strategies.spec.document import App, Deadlines, RolloutSpec, Side, load_spec
from strategies.spec.gates import (
    AlarmGate,
    Comparison,
    Gate,
    HttpProbeGate,
    MetricGate,
    NoData,
    PodReadinessGate,
    TargetHealthGate,
)
from strategies.spec.strategy import (
    COMPUTE_STRATEGIES,
    AbTest,
    BlueGreen,
    Canary,
    IntOrPercent,
    Linear,
    Recreate,
    Rolling,
    Shadow,
    Strategy,
)
from strategies.spec.traffic import (
    AlbIngressTraffic,
    AlbTraffic,
    GatewayTraffic,
    Labels,
    NoTraffic,
    Route53Traffic,
    ServiceBackend,
    ServiceTraffic,
    Traffic,
)

__all__ = [
    "COMPUTE_STRATEGIES",
    "AbTest",
    "AlarmGate",
    "AlbIngressTraffic",
    "AlbTraffic",
    "App",
    "BlueGreen",
    "Canary",
    "Comparison",
    "Deadlines",
    "Gate",
    "GatewayTraffic",
    "HttpProbeGate",
    "IntOrPercent",
    "Labels",
    "Linear",
    "MetricGate",
    "NoData",
    "NoTraffic",
    "Percent",
    "PodReadinessGate",
    "Recreate",
    "Rolling",
    "RolloutSpec",
    "Route53Traffic",
    "Seconds",
    "ServiceBackend",
    "ServiceTraffic",
    "Shadow",
    "Side",
    "Strategy",
    "TargetHealthGate",
    "Traffic",
    "load_spec",
]
