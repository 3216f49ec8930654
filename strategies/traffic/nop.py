"""`NopRouter`: the router of strategies that move pods, not traffic (rolling, recreate).

Stable and candidate sit behind one Service, so traffic follows the Ready pods and there is
nothing to write (Flagger's `NopRouter` for its Kubernetes-only deployments). The loop still
calls `set_weights` with the replica split a step makes, and reads it back: the weights are the
split the pods make, remembered, not read from a service. Header and mirror routes are
refused once, with the reason.
"""

from __future__ import annotations

from strategies.steps import ALL_STABLE, TOTAL, RouteKind, Weights
from strategies.traffic.base import RouteReading
from upgrader.core.errors import UserError


class NopRouter:
    """`TrafficRouter` that moves no traffic."""

    name = "none"
    max_weight = TOTAL
    drain_seconds = 0.0

    def __init__(self, why: str, start: Weights = ALL_STABLE) -> None:
        self.why = why  # why there is no route to set: said by every route call
        self._weights = start

    def set_weights(self, weights: Weights) -> None:
        self._weights = weights

    def read_weights(self) -> Weights:
        return self._weights

    def describe_weights(self, weights: Weights) -> str:
        return f"no traffic change: traffic follows the Ready pods ({weights})"

    # The route calls take the interface's arguments and refuse whatever they are.
    def set_header_route(self, on: bool) -> None:
        del on
        raise UserError(self.why)

    def set_mirror_route(self, on: bool) -> None:
        del on
        raise UserError(self.why)

    def read_route(self, kind: RouteKind) -> RouteReading:
        del kind
        raise UserError(self.why)

    def describe_route(self, kind: RouteKind, on: bool) -> str:
        del kind, on
        raise UserError(self.why)
