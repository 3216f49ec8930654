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
    AlbIngressTraffic,
    AlbTraffic,
    GatewayTraffic,
    NoTraffic,
    RolloutSpec,
    Route53Traffic,
    ServiceTraffic,
    Shadow,
)
from strategies.steps import Weights
from upgrader.core.aws import ForwardRule, WeightedRecord
from upgrader.core.errors import PermanentError, UserError
from upgrader.core.ports import Clock, Cluster, Dns, LoadBalancers

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

    def describe_change(self, weights: Weights) -> str:
        """The exact change `apply(weights)` would make, for --dry-run (one line or a few), e.g.
        'elbv2 modify-rule --rule-arn ARN: forward stable-tg=90 candidate-tg=10'."""
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

    def describe_change(self, weights: Weights) -> str:
        t = self._traffic
        # A listener ARN means its default action: ModifyListener, not ModifyRule.
        call = (
            f"modify-listener --listener-arn {t.rule_arn}"
            if t.rule_arn == self._listener
            else f"modify-rule --rule-arn {t.rule_arn}"
        )
        return (
            f"elbv2 {call}: forward {t.stable_target_group}={weights.stable} "
            f"{t.candidate_target_group}={weights.candidate}"
        )

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

    def describe_change(self, weights: Weights) -> str:
        t = self._traffic
        return (
            f"route53 change-resource-record-sets --hosted-zone-id {t.zone_id}: UPSERT "
            f"{t.record_name} {t.record_type} {t.stable_set_identifier} weight={weights.stable}, "
            f"{t.candidate_set_identifier} weight={weights.candidate} (one batch, then wait INSYNC)"
        )

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
HEADER_ADVICE = (
    "use alb-elbv2 traffic (an http-header rule condition) or gateway-api (an HTTPRoute "
    "header match)"
)

# Why a provider cannot mirror (shadow); a provider missing here cannot either.
_NO_MIRROR = {
    "alb-elbv2": f"ALB cannot mirror traffic; {MIRROR_ADVICE}",
    "route53": (
        "Route 53 answers each DNS query with one record, so it cannot copy a request to two "
        f"sides; {MIRROR_ADVICE}"
    ),
}
# Why a provider cannot route by header (A/B).
_NO_HEADER = {
    "route53": (
        f"Route 53 never sees HTTP headers or cookies, so it cannot route by them; {HEADER_ADVICE}"
    ),
}


def refusal(spec: RolloutSpec) -> str | None:
    """Why this strategy cannot run on this traffic provider, or None when it can."""
    strategy, traffic, provider = spec.strategy, spec.traffic, spec.traffic.provider
    if isinstance(strategy, COMPUTE_STRATEGIES):
        if isinstance(traffic, NoTraffic):
            return None
        return (
            f"{strategy.kind} moves pods, not traffic weights: traffic follows the Ready pods "
            "through the Service both Deployments share; leave traffic out (provider: none)"
        )
    if isinstance(traffic, NoTraffic):
        return (
            f"{strategy.kind} moves traffic: give a traffic provider (alb-elbv2, alb-ingress, "
            "route53, service or gateway-api)"
        )
    # Providers that move traffic through Kubernetes objects keep their reasons with them.
    if isinstance(traffic, AlbIngressTraffic):
        from strategies.traffic.ingress_lbc import ingress_refusal

        return ingress_refusal(spec)
    if isinstance(traffic, ServiceTraffic):
        from strategies.traffic.service import service_refusal

        return service_refusal(spec)
    if isinstance(strategy, Shadow) and provider != "gateway-api":
        return _NO_MIRROR.get(
            provider, f"{provider} cannot copy a request to two sides; {MIRROR_ADVICE}"
        )
    if isinstance(strategy, AbTest) and provider not in ("alb-elbv2", "gateway-api"):
        return _NO_HEADER.get(
            provider, f"{provider} does not route by HTTP header or cookie; {HEADER_ADVICE}"
        )
    return None


def no_switch(spec: RolloutSpec) -> str:
    """Why there is no traffic to move back for a rolling or recreate spec."""
    return (
        f"{spec.strategy.kind} has no traffic switch (provider: none): traffic follows the "
        "pods, so scale the Deployments instead (stable back up, candidate to 0)"
    )


def provider_for(
    spec: RolloutSpec,
    *,
    load_balancers: LoadBalancers,
    dns: Dns,
    clock: Clock,
    cluster: Cluster | None = None,
) -> TrafficProvider:
    """The provider the spec names; raises UserError for a pair that cannot work.

    `cluster` is needed by the providers that move traffic through Kubernetes objects."""
    reason = refusal(spec)
    if reason is not None:
        raise UserError(f"{spec.strategy.kind} on {spec.traffic.provider}: {reason}")
    if isinstance(spec.strategy, Shadow | AbTest):
        raise UserError(
            f"the {spec.strategy.kind} strategy routes or mirrors requests rather than moving "
            "weights: `eksup rollout run` starts it and `eksup rollout abort` ends it"
        )
    if isinstance(spec.traffic, AlbIngressTraffic | ServiceTraffic):
        if cluster is None:
            raise UserError(
                f"traffic provider {spec.traffic.provider} works through the Kubernetes API: "
                "it needs a cluster (kubeconfig context)"
            )
        if isinstance(spec.traffic, AlbIngressTraffic):
            from strategies.traffic.ingress_lbc import AlbIngressProvider

            return AlbIngressProvider(
                cluster,
                load_balancers,
                clock,
                spec.app.namespace,
                spec.traffic,
                converge_seconds=spec.deadlines.converge_seconds,
            )
        from strategies.traffic.service import service_provider

        return service_provider(spec, cluster=cluster, clock=clock)
    if isinstance(spec.traffic, AlbTraffic):
        return AlbProvider(load_balancers, spec.traffic)
    if isinstance(spec.traffic, GatewayTraffic):
        from strategies.traffic.gateway import GatewayWeightsProvider

        if cluster is None:
            raise UserError("gateway-api traffic changes an HTTPRoute: it needs a cluster")
        return GatewayWeightsProvider(
            cluster, clock, spec.traffic, spec.app.namespace, spec.deadlines.converge_seconds
        )
    if isinstance(spec.traffic, NoTraffic):
        raise UserError(no_switch(spec))
    return Route53Provider(dns, clock, spec.traffic, spec.deadlines.converge_seconds)
