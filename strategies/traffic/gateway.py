"""Gateway API HTTPRoute (gateway.networking.k8s.io/v1): mirroring for shadow, backendRef
weights for canary and blue/green.

Every rule of the route that forwards to the stable Service is changed, all in one replace of
`spec.rules` (a compare-and-swap on the route's resourceVersion, retried on a conflict: a
controller writing status moves it too). A change counts once it reads back as written and
every parent Gateway's controller has accepted that generation with its refs resolved: a
mirror to a Service that does not exist is dropped by the Gateway, with ResolvedRefs False.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from strategies.spec import GatewayTraffic, ServiceBackend, Shadow
from strategies.steps import Weights
from strategies.traffic.base import NotConvergedError, RouteReading
from upgrader.core.errors import ConflictError, UserError
from upgrader.core.kube import BackendRef, HTTPRoute, HTTPRouteRule, RequestMirror
from upgrader.core.ports import Clock, Cluster

# A backendRef weight is 0-1,000,000.
GATEWAY_MAX_WEIGHT = 1_000_000
# Read-modify-write attempts of the route before a conflict reaches the caller.
CONFLICT_ATTEMPTS = 3
# Between two looks at the route's status while its controller catches up.
ACCEPT_POLL_SECONDS = 2.0


def backend(service: ServiceBackend) -> BackendRef:
    return BackendRef(name=service.service, port=service.port)


def _same(ref: BackendRef, wanted: BackendRef, namespace: str) -> bool:
    """The same Service and port; an omitted namespace is the route's."""
    return replace(ref, namespace=ref.namespace or namespace, weight=1, filters=()).same_target(
        replace(wanted, namespace=wanted.namespace or namespace)
    )


def caught_up(route: HTTPRoute) -> tuple[bool, str]:
    """Whether every parent has seen this generation: what it no longer has is gone from the
    Gateway, whatever else its status says about the route."""
    for parent in route.parents:
        if parent.observed_generation < route.generation:
            return False, (
                f"Gateway {parent.parent} has not seen generation {route.generation} yet "
                f"(at {parent.observed_generation})"
            )
    return True, "seen by every Gateway"


def accepted(route: HTTPRoute) -> tuple[bool, str]:
    """Whether every parent accepted this generation with all refs resolved, and why not."""
    if not route.parents:
        return False, "no Gateway reports on the route yet (status.parents is empty)"
    seen, why = caught_up(route)
    if not seen:
        return False, why
    for parent in route.parents:
        if not (parent.accepted and parent.resolved_refs):
            return False, f"Gateway {parent.parent}: {parent.message or 'not accepted'}"
    return True, "accepted"


class RouteEditor:
    """The route of a spec, the rules that forward to its stable Service, and safe rewrites."""

    def __init__(self, cluster: Cluster, traffic: GatewayTraffic, namespace: str) -> None:
        self.cluster = cluster
        self.traffic = traffic
        self.namespace = traffic.namespace or namespace
        self.stable = backend(traffic.stable_backend)
        self.candidate = backend(traffic.candidate_backend)
        self.where = f"HTTPRoute {self.namespace}/{traffic.route}"

    def get(self) -> HTTPRoute:
        return self.cluster.get_http_route(self.namespace, self.traffic.route)

    def forwards(self, rule: HTTPRouteRule, *, or_candidate: bool = False) -> bool:
        refs = rule.backend_refs
        if any(_same(r, self.stable, self.namespace) for r in refs):
            return True
        return or_candidate and any(_same(r, self.candidate, self.namespace) for r in refs)

    def ours(self, route: HTTPRoute, *, or_candidate: bool = False) -> list[HTTPRouteRule]:
        rules = [r for r in route.rules if self.forwards(r, or_candidate=or_candidate)]
        if not rules:
            raise UserError(
                f"{self.where} has no rule forwarding to {self.stable.name}:{self.stable.port}"
            )
        return rules

    def rewrite(
        self, change: Callable[[HTTPRouteRule], HTTPRouteRule], *, or_candidate: bool = False
    ) -> HTTPRoute:
        """Apply `change` to every rule of ours; rules already as wanted send nothing."""

        def each(rules: tuple[HTTPRouteRule, ...]) -> tuple[HTTPRouteRule, ...]:
            return tuple(
                change(r) if self.forwards(r, or_candidate=or_candidate) else r for r in rules
            )

        return self.rewrite_rules(each, or_candidate=or_candidate)

    def rewrite_rules(
        self,
        change: Callable[[tuple[HTTPRouteRule, ...]], tuple[HTTPRouteRule, ...]],
        *,
        or_candidate: bool = False,
    ) -> HTTPRoute:
        """Replace the route's rules with `change(rules)`, on the version just read; nothing is
        sent when they are already as wanted."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            route = self.get()
            self.ours(route, or_candidate=or_candidate)
            rules = change(route.rules)
            if rules == route.rules:
                return route
            try:
                return self.cluster.replace_http_route_rules(
                    self.namespace, self.traffic.route, rules, route.resource_version
                )
            except ConflictError:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


# shadow ---------------------------------------------------------------------------------------


class MirrorRoute:
    """`ExperimentRoute` for shadow: a RequestMirror filter to the candidate on every rule
    that forwards to stable."""

    name = "gateway-api"

    def __init__(
        self, cluster: Cluster, traffic: GatewayTraffic, shadow: Shadow, namespace: str
    ) -> None:
        self._edit = RouteEditor(cluster, traffic, namespace)
        self._mirror = RequestMirror(self._edit.candidate, shadow.mirror_percent)

    def _mirrors_candidate(self, mirror: RequestMirror) -> bool:
        return _same(mirror.backend, self._edit.candidate, self._edit.namespace)

    def _with_mirror(self, rule: HTTPRouteRule) -> HTTPRouteRule:
        kept = tuple(m for m in rule.mirrors if not self._mirrors_candidate(m))
        return replace(rule, mirrors=(*kept, self._mirror))

    def _without_mirror(self, rule: HTTPRouteRule) -> HTTPRouteRule:
        return replace(
            rule, mirrors=tuple(m for m in rule.mirrors if not self._mirrors_candidate(m))
        )

    def read(self) -> RouteReading:
        route = self._edit.get()
        rules = self._edit.ours(route)
        mirrors = [[m for m in r.mirrors if self._mirrors_candidate(m)] for r in rules]
        ok, status = accepted(route)
        where = f"{self._edit.where} generation {route.generation}"
        if not any(mirrors):
            # Off needs no acceptance: a rule the Gateway refuses mirrors nothing either.
            gone, why = caught_up(route)
            return RouteReading(on=False, off=gone, detail=f"no mirror on {where} ({why})")
        percents = sorted({m.percent for found in mirrors for m in found})
        exact = all(len(found) == 1 and found[0] == self._mirror for found in mirrors)
        detail = (
            f"mirror {'/'.join(map(str, percents))}% to {self._edit.candidate.name}:"
            f"{self._edit.candidate.port} on {sum(map(bool, mirrors))} of {len(rules)} rule(s) "
            f"of {where} ({status})"
        )
        return RouteReading(on=exact and ok, off=False, detail=detail)

    def turn_on(self) -> None:
        self._edit.rewrite(self._with_mirror)

    def turn_off(self) -> None:
        self._edit.rewrite(self._without_mirror)

    def describe_on(self) -> str:
        return (
            f"kubectl replace {self._edit.where}: RequestMirror {self._mirror.percent}% to "
            f"{self._edit.candidate.name}:{self._edit.candidate.port} on the rules forwarding "
            f"to {self._edit.stable.name}:{self._edit.stable.port}"
        )

    def describe_off(self) -> str:
        return (
            f"kubectl replace {self._edit.where}: remove the RequestMirror filters to "
            f"{self._edit.candidate.name}:{self._edit.candidate.port}"
        )


# weights --------------------------------------------------------------------------------------


class GatewayWeightsProvider:
    """`TrafficProvider` on HTTPRoute backendRef weights: the rules forwarding to stable get
    the stable and the candidate Service, weighted; a weighted canary as the API defines it."""

    name = "gateway-api"
    max_weight = GATEWAY_MAX_WEIGHT
    # The Gateway stops sending new requests to a 0-weight backend once it has the change.
    drain_seconds = 0.0

    def __init__(
        self,
        cluster: Cluster,
        clock: Clock,
        traffic: GatewayTraffic,
        namespace: str,
        converge_seconds: float = 300.0,
    ) -> None:
        self._edit = RouteEditor(cluster, traffic, namespace)
        self._clock = clock
        self._converge_seconds = converge_seconds

    def _weighted(self, weights: Weights) -> Callable[[HTTPRouteRule], HTTPRouteRule]:
        edit = self._edit

        def change(rule: HTTPRouteRule) -> HTTPRouteRule:
            others = tuple(
                r
                for r in rule.backend_refs
                if not (
                    _same(r, edit.stable, edit.namespace)
                    or _same(r, edit.candidate, edit.namespace)
                )
            )
            if others:
                raise UserError(
                    f"{edit.where} also forwards to {', '.join(r.name for r in others)}, which "
                    "the spec does not name; eksup only moves traffic between the two backends"
                )
            return replace(
                rule,
                backend_refs=(
                    replace(edit.stable, weight=weights.stable),
                    replace(edit.candidate, weight=weights.candidate),
                ),
            )

        return change

    def apply(self, weights: Weights) -> None:
        for weight in (weights.stable, weights.candidate):
            if not 0 <= weight <= GATEWAY_MAX_WEIGHT:
                raise UserError(f"HTTPRoute weights must be 0-{GATEWAY_MAX_WEIGHT}, got {weights}")
        if weights.total == 0:
            raise UserError("HTTPRoute: at least one backend needs a positive weight")
        self._edit.rewrite(self._weighted(weights), or_candidate=True)
        self._wait_accepted()

    def read(self) -> Weights:
        route = self._edit.get()
        found = set()
        for rule in self._edit.ours(route, or_candidate=True):
            stable = sum(
                r.weight
                for r in rule.backend_refs
                if _same(r, self._edit.stable, self._edit.namespace)
            )
            candidate = sum(
                r.weight
                for r in rule.backend_refs
                if _same(r, self._edit.candidate, self._edit.namespace)
            )
            found.add(Weights(stable, candidate))
        if len(found) != 1:
            raise UserError(f"{self._edit.where}: its rules disagree on the weights ({found})")
        return found.pop()

    def describe_change(self, weights: Weights) -> str:
        edit = self._edit
        return (
            f"kubectl replace {edit.where}: backendRefs {edit.stable.name}:{edit.stable.port}="
            f"{weights.stable} {edit.candidate.name}:{edit.candidate.port}={weights.candidate}"
        )

    def _wait_accepted(self) -> None:
        deadline = self._clock.now() + self._converge_seconds
        while True:
            ok, why = accepted(self._edit.get())
            if ok:
                return
            if self._clock.now() + ACCEPT_POLL_SECONDS > deadline:
                raise NotConvergedError(
                    f"{self._edit.where} not accepted after {self._converge_seconds:g}s: {why}"
                )
            self._clock.sleep(ACCEPT_POLL_SECONDS)
