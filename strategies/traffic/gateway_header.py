"""A/B on a Gateway API HTTPRoute: one more rule sending a header's matches to B.

The new rule repeats every match of the rules forwarding to stable, each with one more header
match, and forwards to the candidate Service only. Gateway API gives the rule with more header
matches precedence over the same path without them, so the new rule takes exactly the matching
requests the stable rules would have taken; everyone else stays on A.

ALB-style values (`*variant=b*`) become a RegularExpression header match (extended support in
Gateway API: the Gateway may refuse it, which shows as the route not accepted); values without
wildcards are an Exact match (core support).
"""

from __future__ import annotations

import re
from typing import Any

from strategies.spec import AbTest, GatewayTraffic
from strategies.traffic.base import RouteReading
from strategies.traffic.gateway import RouteEditor, accepted, caught_up
from upgrader.core.errors import UserError
from upgrader.core.kube import HTTPRoute, HTTPRouteRule
from upgrader.core.ports import Cluster

# Gateway API: at most 64 matches per rule.
MAX_MATCHES = 64


def header_match(header: str, value: str) -> dict[str, str]:
    """An HTTPHeaderMatch for an ALB-style value: * any run of characters, ? one."""
    if not any(c in value for c in "*?"):
        return {"type": "Exact", "name": header, "value": value}
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return {"type": "RegularExpression", "name": header, "value": pattern}


class HeaderMatchRoute:
    """`ExperimentRoute` for A/B on gateway-api."""

    name = "gateway-api"

    def __init__(self, cluster: Cluster, traffic: GatewayTraffic, ab: AbTest, namespace: str):
        if ab.priority is not None:
            raise UserError(
                "strategy.priority is an ALB rule priority; an HTTPRoute orders rules by match"
            )
        self._edit = RouteEditor(cluster, traffic, namespace)
        self._ab = ab

    def _wanted(self, route: HTTPRoute) -> HTTPRouteRule:
        matches: list[dict[str, Any]] = []
        for rule in self._edit.ours(route):
            for match in rule.matches or ({},):
                headers = list(match.get("headers") or ())  # type: ignore[call-overload]
                for value in self._ab.values:
                    extra = header_match(self._ab.header, value)
                    matches.append({**match, "headers": [*headers, extra]})
        if len(matches) > MAX_MATCHES:
            raise UserError(
                f"{self._edit.where}: the A/B rule would need {len(matches)} matches, "
                f"an HTTPRoute rule takes at most {MAX_MATCHES}"
            )
        return HTTPRouteRule(backend_refs=(self._edit.candidate,), matches=tuple(matches))

    def read(self) -> RouteReading:
        route = self._edit.get()
        wanted = self._wanted(route)
        ours = [r for r in route.rules if r == wanted]
        where = f"{self._edit.where} generation {route.generation}"
        if not ours:
            gone, why = caught_up(route)
            return RouteReading(on=False, off=gone, detail=f"no A/B rule on {where} ({why})")
        ok, status = accepted(route)
        detail = (
            f"A/B rule on {where}: {self._ab.header} ~ {' | '.join(self._ab.values)} -> "
            f"{self._edit.candidate.name}:{self._edit.candidate.port} ({status})"
        )
        return RouteReading(on=ok and len(ours) == 1, off=False, detail=detail)

    def turn_on(self) -> None:
        def add(rules: tuple[HTTPRouteRule, ...]) -> tuple[HTTPRouteRule, ...]:
            route = HTTPRoute(self._edit.namespace, self._edit.traffic.route, rules=rules)
            wanted = self._wanted(route)
            if wanted in rules:
                return rules
            last = max(i for i, r in enumerate(rules) if self._edit.forwards(r))
            return (*rules[: last + 1], wanted, *rules[last + 1 :])

        self._edit.rewrite_rules(add)

    def turn_off(self) -> None:
        def remove(rules: tuple[HTTPRouteRule, ...]) -> tuple[HTTPRouteRule, ...]:
            route = HTTPRoute(self._edit.namespace, self._edit.traffic.route, rules=rules)
            wanted = self._wanted(route)
            return tuple(r for r in rules if r != wanted)

        self._edit.rewrite_rules(remove)

    def describe_on(self) -> str:
        return (
            f"kubectl replace {self._edit.where}: a rule with the stable rules' matches and "
            f"{self._ab.header} ~ {' | '.join(self._ab.values)}, forwarding to "
            f"{self._edit.candidate.name}:{self._edit.candidate.port}"
        )

    def describe_off(self) -> str:
        return (
            f"kubectl replace {self._edit.where}: remove the rule forwarding "
            f"{self._ab.header} matches to {self._edit.candidate.name}"
        )
