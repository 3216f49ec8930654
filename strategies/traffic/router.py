"""`ServiceRouter`: one service's `TrafficRouter`, joined from the parts its module implements.

A service module implements what the service can do: a `TrafficProvider` that moves weights
(every service but the no-op one), a `SwitchRoute` for a header match (ALB, Ingress/LBC, Gateway
API) and one for a mirror (Gateway API). The router answers every call of the interface: the
parts it has do the work, and a call it cannot serve is refused once, here, with the reason
and what to use instead (as Argo Rollouts' routers return an error for an unsupported
SetMirrorRoute), so the step loop never asks a strategy or a service what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from strategies.steps import TOTAL, RouteKind, Weights
from strategies.traffic.base import RouteReading, SwitchRoute, TrafficProvider
from upgrader.core.errors import UserError

_WHAT = {"weights": "move weights", "header": "route by header", "mirror": "mirror requests"}


@dataclass(frozen=True)
class ServiceRouter:
    """The router of one service (`name`, as the spec's `traffic.provider` names it)."""

    name: str
    weights: TrafficProvider | None = None
    header: SwitchRoute | None = None
    mirror: SwitchRoute | None = None
    # Why a missing part is missing, keyed "weights", "header" or "mirror".
    cannot: Mapping[str, str] = field(default_factory=dict)

    @property
    def max_weight(self) -> int:
        return self.weights.max_weight if self.weights is not None else TOTAL

    @property
    def drain_seconds(self) -> float:
        return self.weights.drain_seconds if self.weights is not None else 0.0

    def _refuse(self, capability: str) -> UserError:
        why = self.cannot.get(capability, "not configured by this spec")
        return UserError(f"{self.name} cannot {_WHAT[capability]}: {why}")

    def _weights(self) -> TrafficProvider:
        if self.weights is None:
            raise self._refuse("weights")
        return self.weights

    def _route(self, kind: RouteKind) -> SwitchRoute:
        route = self.header if kind == "header" else self.mirror
        if route is None:
            raise self._refuse(kind)
        return route

    def set_weights(self, weights: Weights) -> None:
        self._weights().apply(weights)

    def read_weights(self) -> Weights:
        return self._weights().read()

    def describe_weights(self, weights: Weights) -> str:
        return self._weights().describe_change(weights)

    def set_header_route(self, on: bool) -> None:
        _switch(self._route("header"), on)

    def set_mirror_route(self, on: bool) -> None:
        _switch(self._route("mirror"), on)

    def read_route(self, kind: RouteKind) -> RouteReading:
        return self._route(kind).read()

    def describe_route(self, kind: RouteKind, on: bool) -> str:
        route = self._route(kind)
        return route.describe_on() if on else route.describe_off()


def _switch(route: SwitchRoute, on: bool) -> None:
    if on:
        route.turn_on()
    else:
        route.turn_off()
