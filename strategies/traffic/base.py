"""Traffic routers: one small interface, `apply` a split and `read` the live one back.

The runner never trusts a write: it reads the weights back from the service after every change
and proves convergence before it goes on or tears anything down. Routers take the weights of
`strategies.steps` (percentages) and know their service's limits, its propagation (Route 53
INSYNC) and how long clients may keep reaching the old side after a switch (`drain_seconds`:
target-group stickiness, DNS TTL). One module per service: alb, route53, ingress_lbc, service,
gateway; `factory.provider_for` builds the one a spec names.
"""

from __future__ import annotations

from typing import Protocol

from strategies.steps import Weights
from upgrader.core.errors import PermanentError, UserError

# Between two GetChange polls; a change is usually INSYNC within 60 s.
INSYNC_POLL_SECONDS = 5.0


class NotConvergedError(PermanentError):
    """The service did not reach the weights eksup wrote within the deadline."""


class TrafficProvider(Protocol):
    """Moves traffic between the stable and the candidate side of one app."""

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
