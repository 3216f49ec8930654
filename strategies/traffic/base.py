"""Traffic routers: one interface every strategy drives, shaped like Argo Rollouts' traffic
routing (set weight, set header route, set mirror route, verify) and Flagger's router + no-op
router.

`TrafficRouter` is what the step loop sees: set the weights, turn the header route or the
mirror route on or off, read each back. A service that cannot do one of them says so once, in
the router, with what to use instead; strategies that only move pods get the `NopRouter`
(`strategies.traffic.nop`), so no strategy needs a special case.

Each service implements its parts in its own module (alb, route53, ingress_lbc, service,
gateway, with their *_header companions): a `TrafficProvider` moves weights, a `SwitchRoute`
turns one route on and off. `strategies.traffic.router.ServiceRouter` joins one service's parts
into its router, and `factory.router_for` builds the one a spec names.

The loop never trusts a write: it reads the weights (or the route) back from the service after
every change and proves convergence before it goes on or tears anything down. Routers take the
weights of `strategies.steps` (percentages) and know their service's limits, its propagation
(Route 53 INSYNC) and how long clients may keep reaching the old side after a switch
(`drain_seconds`: target-group stickiness, DNS TTL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from strategies.steps import RouteKind, Weights
from upgrader.core.errors import PermanentError, UserError

# Between two GetChange polls; a change is usually INSYNC within 60 s.
INSYNC_POLL_SECONDS = 5.0


class NotConvergedError(PermanentError):
    """The service did not reach the weights eksup wrote within the deadline."""


@dataclass(frozen=True)
class RouteReading:
    """A route as read from the service: exactly as eksup writes it (`on`), without any trace
    of it (`off`), or neither (a change still propagating, or someone else's edit)."""

    on: bool
    off: bool
    detail: str


class TrafficRouter(Protocol):
    """Moves one app's traffic between its stable and candidate sides: by weight, by a header
    match, or by a mirrored copy; every change is read back before it counts."""

    @property
    def name(self) -> str: ...

    @property
    def max_weight(self) -> int: ...

    @property
    def drain_seconds(self) -> float:
        """How long clients may still reach a side after its weight went to 0."""
        ...

    def set_weights(self, weights: Weights) -> None:
        """Set the weights and wait until the service says the change is in effect."""
        ...

    def read_weights(self) -> Weights:
        """The weights the service has now, read back from it."""
        ...

    def describe_weights(self, weights: Weights) -> str:
        """The exact change `set_weights(weights)` would make, for plans and dry runs."""
        ...

    def set_header_route(self, on: bool) -> None:
        """Turn on (or remove) the route that sends the spec's header matches to the candidate."""
        ...

    def set_mirror_route(self, on: bool) -> None:
        """Turn on (or remove) the copy of stable's requests to the candidate."""
        ...

    def read_route(self, kind: RouteKind) -> RouteReading:
        """The header or mirror route as the service has it now."""
        ...

    def describe_route(self, kind: RouteKind, on: bool) -> str:
        """The exact change turning that route on (or off) makes, for plans and dry runs."""
        ...


def verified(target: Weights, live: Weights) -> bool:
    """Whether `live` (read back) is `target` (written), as Argo's VerifyWeight decides it: all
    on one side counts whatever the scale (a hand-made rule with weight 1 is all traffic),
    a split must read back exactly as written."""
    if target.only_stable:
        return live.only_stable
    if target.only_candidate:
        return live.only_candidate
    return live == target


class SwitchRoute(Protocol):
    """One service's route for one experiment (a header match, a mirror): on, off, read."""

    @property
    def name(self) -> str: ...

    def describe_on(self) -> str:
        """The exact change `turn_on` makes, for plans and dry runs."""
        ...

    def describe_off(self) -> str: ...

    def turn_on(self) -> None: ...

    def turn_off(self) -> None: ...

    def read(self) -> RouteReading: ...


class TrafficProvider(Protocol):
    """One service's weights part: moves traffic between the stable and the candidate side."""

    @property
    def name(self) -> str: ...

    @property
    def max_weight(self) -> int: ...

    @property
    def drain_seconds(self) -> float:
        """How long clients may still reach a side after its weight went to 0."""
        ...

    def apply(self, weights: Weights) -> None:
        """Set the weights and wait until the service says the change is in effect."""
        ...

    def read(self) -> Weights:
        """The weights the service has now, read back from it."""
        ...

    def describe_change(self, weights: Weights) -> str:
        """The exact change `apply(weights)` would make, for --dry-run (one line or a few), e.g.
        'elbv2 modify-rule --rule-arn ARN: forward stable-tg=90 candidate-tg=10'."""
        ...


# choosing one ---------------------------------------------------------------------------------


def _check_limit(weights: Weights, limit: int, service: str) -> None:
    for weight in (weights.stable, weights.candidate):
        if not 0 <= weight <= limit:
            raise UserError(f"{service} weights must be 0-{limit}, got {weights}")
    if weights.total == 0:
        raise UserError(f"{service}: at least one side needs a positive weight")


MIRROR_ADVICE = "use a Gateway API HTTPRoute with a RequestMirror filter"
HEADER_ADVICE = (
    "use alb-elbv2 traffic (an http-header rule condition) or gateway-api (an HTTPRoute "
    "header match)"
)
