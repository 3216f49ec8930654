"""A/B on an ALB through ELBv2: one extra listener rule that sends a header's matches to B.

The rule copies the spec rule's conditions and adds an http-header condition, so it only
takes requests the spec rule would have taken, and only those whose header (a cookie through
the `Cookie` header, with wildcards) matches; everyone else stays on A. It sits just above the
spec rule (one priority less) so no other rule in between changes meaning. On the listener's
default action, it goes after every existing rule.

The rule is found again from the spec alone (same conditions, forwarding only to the candidate
group), so a second run, or `rollout abort` from another machine, sees the same rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from strategies.spec import AbTest, AlbTraffic
from strategies.traffic.alb import listener_of
from strategies.traffic.base import RouteReading
from upgrader.core.aws import ForwardRule
from upgrader.core.errors import ConflictError, NotFoundError, UserError
from upgrader.core.ports import LoadBalancers

MAX_PRIORITY = 50000

_CONFIGS = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-header": "HttpHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
}


def condition_key(condition: Mapping[str, object]) -> str:
    """A condition, comparable whichever form (Config block or legacy Values) it came in."""
    field = str(condition.get("Field", ""))
    config = condition.get(_CONFIGS.get(field, ""))
    body = config if isinstance(config, Mapping) else {"Values": condition.get("Values", [])}
    if field == "http-header" and isinstance(body, Mapping):
        # Header names are case-insensitive, so is ALB's match on them.
        body = {**body, "HttpHeaderName": str(body.get("HttpHeaderName", "")).lower()}
    values = body.get("Values") if isinstance(body, Mapping) else None
    if isinstance(values, list | tuple):
        body = {**body, "Values": sorted(str(v) for v in values)}
    return json.dumps({"Field": field, **body}, sort_keys=True, default=str)


def _short(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


class HeaderRoute:
    """`ExperimentRoute` for A/B on alb-elbv2."""

    name = "alb-elbv2"

    def __init__(self, load_balancers: LoadBalancers, traffic: AlbTraffic, ab: AbTest) -> None:
        self._lbs = load_balancers
        self._traffic = traffic
        self._ab = ab
        self._listener = listener_of(traffic.rule_arn)
        self._on_default = self._listener == traffic.rule_arn

    # ---------------------------------------------------------------- reading

    def _rules(self) -> tuple[ForwardRule, list[ForwardRule]]:
        """The spec's rule (or default action) and the listener's numbered rules."""
        rules = self._lbs.describe_forward_rules(self._listener)
        numbered = [r for r in rules if r.priority != "default"]
        base = next((r for r in rules if r.arn == self._traffic.rule_arn), None)
        if base is None:
            raise UserError(f"{self._traffic.rule_arn} not found on listener {self._listener}")
        return base, numbered

    def _expected(self, base: ForwardRule) -> list[str]:
        header = {
            "Field": "http-header",
            "HttpHeaderConfig": {
                "HttpHeaderName": self._ab.header,
                "Values": list(self._ab.values),
            },
        }
        return sorted(condition_key(c) for c in (*base.conditions, header))

    def _is_ours(self, rule: ForwardRule, expected: list[str]) -> bool:
        return sorted(condition_key(c) for c in rule.conditions) == expected and [
            t.target_group_arn for t in rule.targets if t.weight > 0
        ] == [self._traffic.candidate_target_group]

    def _find(self) -> tuple[ForwardRule, list[ForwardRule], list[ForwardRule]]:
        base, numbered = self._rules()
        expected = self._expected(base)
        return base, numbered, [r for r in numbered if self._is_ours(r, expected)]

    def read(self) -> RouteReading:
        base, _, ours = self._find()
        if not ours:
            return RouteReading(on=False, off=True, detail=f"no A/B rule on {self._where(base)}")
        rule = ours[0]
        # Only a rule evaluated before the spec's takes any of its requests.
        ahead = self._on_default or int(rule.priority) < int(base.priority)
        detail = (
            f"A/B rule {_short(rule.arn)} (priority {rule.priority}): {self._match()} -> "
            f"{_short(self._traffic.candidate_target_group)}"
        )
        if not ahead:
            detail += f", but after the spec's rule (priority {base.priority}): it never matches"
        return RouteReading(on=ahead and len(ours) == 1, off=False, detail=detail)

    # ---------------------------------------------------------------- changing

    def turn_on(self) -> None:
        base, numbered, ours = self._find()
        if ours:
            return
        priority = self._priority(base, numbered)
        try:
            self._lbs.put_header_rule(
                self._listener,
                priority,
                self._ab.header,
                self._ab.values,
                target_group_arn=self._traffic.candidate_target_group,
                conditions=base.conditions,
            )
        except ConflictError as error:
            raise UserError(
                f"{error}: another rule took it; give strategy.priority or run again"
            ) from error

    def turn_off(self) -> None:
        _, _, ours = self._find()
        for rule in ours:
            try:
                self._lbs.delete_rule(rule.arn)
            except NotFoundError:
                continue  # already gone: that is what was wanted

    def planned_priority(self) -> str:
        """The priority `turn_on` would give the rule now, next to the spec rule's (reads only,
        for dry runs); raises UserError as `turn_on` would."""
        base, numbered, _ = self._find()
        chosen = self._priority(base, numbered)
        if self._on_default:
            return f"priority {chosen}, after every rule of the listener"
        return f"priority {chosen}, just before the spec rule's {base.priority}"

    def _priority(self, base: ForwardRule, numbered: Sequence[ForwardRule]) -> int:
        taken = {int(r.priority) for r in numbered}
        given = self._ab.priority
        if self._on_default:
            chosen = given if given is not None else max(taken, default=0) + 1
            if chosen > MAX_PRIORITY:
                raise UserError(f"no ALB rule priority left above {max(taken)}")
        else:
            spec_priority = int(base.priority)
            chosen = given if given is not None else spec_priority - 1
            if chosen >= spec_priority:
                raise UserError(
                    f"strategy.priority {chosen} must be below the spec rule's {spec_priority}: "
                    "ALB evaluates lower numbers first"
                )
            before = [p for p in taken if p < spec_priority]
            if given is None and (chosen < 1 or chosen in before):
                raise UserError(
                    f"no free ALB priority just above the spec's rule ({spec_priority}); "
                    "give strategy.priority, or renumber the listener's rules"
                )
        if chosen in taken:
            raise UserError(f"ALB rule priority {chosen} is taken on {self._listener}")
        return chosen

    # ---------------------------------------------------------------- describing

    def _match(self) -> str:
        return f"{self._ab.header} ~ {' | '.join(self._ab.values)}"

    def _where(self, base: ForwardRule) -> str:
        return "the listener" if self._on_default else f"the rule {_short(base.arn)}"

    def describe_on(self) -> str:
        where = (
            f"priority {self._ab.priority}"
            if self._ab.priority is not None
            else "priority just above the spec rule"
        )
        return (
            f"elbv2 create-rule --listener-arn {self._listener} ({where}): "
            f"if {self._match()} forward {_short(self._traffic.candidate_target_group)}"
        )

    def describe_off(self) -> str:
        return (
            f"elbv2 delete-rule: the rule on {self._listener} matching {self._match()} "
            f"that forwards to {_short(self._traffic.candidate_target_group)}"
        )
