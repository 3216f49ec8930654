"""Traffic providers: one small interface, `apply` a split and `read` the live one back.

The runner never trusts a write: it reads the weights back from the service after every change
and proves convergence before it goes on or tears anything down. Providers take the weights of
`strategies.steps` (percentages) and know their service's limits, its propagation (Route 53
INSYNC) and how long clients may keep reaching the old side after a switch (`drain_seconds`:
target-group stickiness, DNS TTL).

`provider_for` builds the provider a spec names and refuses the pairs that cannot work, with
the reason and what to use instead.
"""

from __future__ import annotations

from typing import Protocol

from strategies.spec import (
    COMPUTE_STRATEGIES,
    AbTest,
    AlbTraffic,
    NoTraffic,
    RolloutSpec,
    Route53Traffic,
    Shadow,
)
from strategies.steps import Weights
from upgrader.aws import ForwardRule, WeightedRecord
from upgrader.errors import PermanentError, UserError
from upgrader.ports import Clock, Dns, LoadBalancers

ALB_MAX_WEIGHT = 999
ROUTE53_MAX_WEIGHT = 255
# Route 53 allows five API requests per second per account, shared with everything else there.
ROUTE53_REQUESTS_PER_SECOND = 5.0
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


# ALB ------------------------------------------------------------------------------------------


def listener_of(rule_arn: str) -> str:
    """The listener ARN of a listener or listener-rule ARN.

    arn:...:listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id> belongs to
    arn:...:listener/app/<lb>/<lb-id>/<listener-id>.
    """
    prefix, sep, resource = rule_arn.rpartition(":")
    kind, _, path = resource.partition("/")
    if not sep or kind not in ("listener", "listener-rule"):
        raise UserError(f"not an ELBv2 listener or rule ARN: {rule_arn}")
    if kind == "listener":
        return rule_arn
    return f"{prefix}:listener/{path.rsplit('/', 1)[0]}"


class AlbProvider:
    """A weighted forward action on an ALB rule (or a listener's default action), via ELBv2."""

    name = "alb-elbv2"
    max_weight = ALB_MAX_WEIGHT

    def __init__(self, load_balancers: LoadBalancers, traffic: AlbTraffic) -> None:
        self._lbs = load_balancers
        self._traffic = traffic
        self._listener = listener_of(traffic.rule_arn)

    @property
    def drain_seconds(self) -> float:
        return self._traffic.stickiness_seconds

    def apply(self, weights: Weights) -> None:
        _check_limit(weights, self.max_weight, "ALB")
        # One ModifyRule/ModifyListener: both groups change together, never a moment with both
        # at 0 or the action pointing elsewhere. ELBv2 applies it synchronously.
        self._lbs.set_forward_weights(
            self._traffic.rule_arn,
            {
                self._traffic.stable_target_group: weights.stable,
                self._traffic.candidate_target_group: weights.candidate,
            },
        )

    def read(self) -> Weights:
        rule = self._rule()
        return self._weights(rule)

    def _rule(self) -> ForwardRule:
        for rule in self._lbs.describe_forward_rules(self._listener):
            if rule.arn == self._traffic.rule_arn:
                return rule
        raise UserError(f"{self._traffic.rule_arn} not found on listener {self._listener}")

    def _weights(self, rule: ForwardRule) -> Weights:
        ours = (self._traffic.stable_target_group, self._traffic.candidate_target_group)
        others = [t.target_group_arn for t in rule.targets if t.target_group_arn not in ours]
        if others:
            # Setting two weights would silently drop these groups from the action.
            raise UserError(
                f"{rule.arn} also forwards to {', '.join(others)}, which the spec does not "
                "name; eksup only moves traffic between the stable and candidate groups"
            )
        if not rule.targets:
            raise UserError(f"{rule.arn} has no forward action")
        found = {t.target_group_arn: t.weight for t in rule.targets}
        return Weights(stable=found.get(ours[0], 0), candidate=found.get(ours[1], 0))


# Route 53 -------------------------------------------------------------------------------------


class RateLimiter:
    """At most `per_second` calls per second, waiting through the Clock."""

    def __init__(self, clock: Clock, per_second: float) -> None:
        self._clock = clock
        self._gap = 1.0 / per_second
        self._last: float | None = None

    def wait(self) -> None:
        now = self._clock.now()
        if self._last is not None and now - self._last < self._gap:
            self._clock.sleep(self._gap - (now - self._last))
        self._last = self._clock.now()


class Route53Provider:
    """Two weighted records of one name, one per side; changed together in one UPSERT batch."""

    name = "route53"
    max_weight = ROUTE53_MAX_WEIGHT

    def __init__(
        self,
        dns: Dns,
        clock: Clock,
        traffic: Route53Traffic,
        converge_seconds: float = 300.0,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._dns = dns
        self._clock = clock
        self._traffic = traffic
        self._converge_seconds = converge_seconds
        self._limiter = limiter or RateLimiter(clock, ROUTE53_REQUESTS_PER_SECOND)

    @property
    def drain_seconds(self) -> float:
        return float(self._traffic.ttl_seconds)

    def apply(self, weights: Weights) -> None:
        _check_limit(weights, self.max_weight, "Route 53")
        t = self._traffic
        # Weight-only records: the adapter keeps each record's values, TTL and health check.
        records = [
            WeightedRecord(t.record_name, t.record_type, t.stable_set_identifier, weights.stable),
            WeightedRecord(
                t.record_name, t.record_type, t.candidate_set_identifier, weights.candidate
            ),
        ]
        self._limiter.wait()
        change = self._dns.upsert_weighted_records(t.zone_id, records)
        self._wait_insync(change)

    def read(self) -> Weights:
        t = self._traffic
        self._limiter.wait()
        records = self._dns.weighted_records(t.zone_id, t.record_name, t.record_type)
        by_id = {r.set_identifier: r.weight for r in records}
        missing = [
            s for s in (t.stable_set_identifier, t.candidate_set_identifier) if s not in by_id
        ]
        if missing:
            raise UserError(
                f"{t.record_name} {t.record_type} in zone {t.zone_id} has no weighted record "
                f"with set identifier {', '.join(missing)}; create it (weight 0) first"
            )
        return Weights(by_id[t.stable_set_identifier], by_id[t.candidate_set_identifier])

    def _wait_insync(self, change_id: str) -> None:
        deadline = self._clock.now() + self._converge_seconds
        while True:
            self._limiter.wait()
            if self._dns.change_status(change_id) == "INSYNC":
                return
            if self._clock.now() + INSYNC_POLL_SECONDS > deadline:
                raise NotConvergedError(
                    f"Route 53 change {change_id} not INSYNC after {self._converge_seconds:g}s"
                )
            self._clock.sleep(INSYNC_POLL_SECONDS)


# choosing one ---------------------------------------------------------------------------------


def _check_limit(weights: Weights, limit: int, service: str) -> None:
    for weight in (weights.stable, weights.candidate):
        if not 0 <= weight <= limit:
            raise UserError(f"{service} weights must be 0-{limit}, got {weights}")
    if weights.total == 0:
        raise UserError(f"{service}: at least one side needs a positive weight")


MIRROR_ADVICE = "use a Gateway API HTTPRoute with a RequestMirror filter"


def refusal(spec: RolloutSpec) -> str | None:
    """Why this strategy cannot run on this traffic provider, or None when it can."""
    strategy, traffic = spec.strategy, spec.traffic
    if isinstance(strategy, COMPUTE_STRATEGIES):
        if isinstance(traffic, NoTraffic):
            return None
        return (
            f"{strategy.kind} moves pods, not traffic weights: traffic follows the Ready pods "
            "through the Service both Deployments share; leave traffic out (provider: none)"
        )
    if isinstance(traffic, NoTraffic):
        return f"{strategy.kind} moves traffic: give a traffic provider (alb-elbv2 or route53)"
    if isinstance(strategy, Shadow):
        if isinstance(traffic, AlbTraffic):
            return f"ALB cannot mirror traffic; {MIRROR_ADVICE}"
        return (
            "Route 53 answers each DNS query with one record, so it cannot copy a request to "
            f"two sides; {MIRROR_ADVICE}"
        )
    if isinstance(strategy, AbTest):
        if isinstance(traffic, Route53Traffic):
            return (
                "Route 53 never sees HTTP headers or cookies, so it cannot route by them; "
                "use alb-elbv2 traffic (an http-header rule condition)"
            )
        return "A/B header routing on alb-elbv2 is not implemented yet (issue 5)"
    return None


def provider_for(
    spec: RolloutSpec, *, load_balancers: LoadBalancers, dns: Dns, clock: Clock
) -> TrafficProvider:
    """The provider the spec names; raises UserError for a pair that cannot work."""
    reason = refusal(spec)
    if reason is not None:
        raise UserError(f"{spec.strategy.kind} on {spec.traffic.provider}: {reason}")
    if isinstance(spec.traffic, AlbTraffic):
        return AlbProvider(load_balancers, spec.traffic)
    if isinstance(spec.traffic, NoTraffic):
        raise UserError(
            f"{spec.strategy.kind} has no traffic switch (provider: none): traffic follows the "
            "pods, so scale the Deployments instead (stable back up, candidate to 0)"
        )
    return Route53Provider(dns, clock, spec.traffic, spec.deadlines.converge_seconds)
