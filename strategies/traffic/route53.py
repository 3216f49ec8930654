"""Weights on Route 53 weighted records, paced and waited on until INSYNC."""

from __future__ import annotations

from strategies.spec import (
    Route53Traffic,
)
from strategies.steps import Weights
from strategies.traffic.base import INSYNC_POLL_SECONDS, NotConvergedError, _check_limit
from upgrader.core.aws import WeightedRecord
from upgrader.core.errors import UserError
from upgrader.core.ports import Clock, Dns

ROUTE53_MAX_WEIGHT = 255
# Route 53 allows five API requests per second per account, shared with everything else there.
ROUTE53_REQUESTS_PER_SECOND = 5.0


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
