"""Everything a rollout talks to, as core's ports: what a rollout command wires (real adapters,
or the sandbox's) and hands to the step loop."""

from __future__ import annotations

from dataclasses import dataclass

from upgrader.core.ports import Clock, Cluster, Dns, HttpProbe, LoadBalancers, Metrics


@dataclass(frozen=True)
class RolloutPorts:
    """Everything a rollout command talks to."""

    load_balancers: LoadBalancers
    dns: Dns
    metrics: Metrics
    clock: Clock
    cluster: Cluster
    http: HttpProbe | None = None  # for http-probe gates
