"""`LoadBalancers` in a dry run: reads pass through, rule changes recorded and overlaid."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace

from upgrader.core.aws import ForwardRule, TargetHealth, TargetWeight
from upgrader.core.ports import LoadBalancers
from upgrader.execute.dry_run.record import DRY_RUN_UPDATE_PREFIX, Recorder


class DryRunLoadBalancers:
    """`LoadBalancers`: reads through; rule changes recorded and overlaid on the reads."""

    def __init__(self, inner: LoadBalancers, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder
        self._weights: dict[str, tuple[TargetWeight, ...]] = {}
        self._created: dict[str, list[ForwardRule]] = {}  # by listener
        self._deleted: set[str] = set()
        self._serial = itertools.count(1)

    def describe_forward_rules(self, listener_arn: str) -> list[ForwardRule]:
        rules = [
            replace(r, targets=self._weights.get(r.arn, r.targets))
            for r in [*self.inner.describe_forward_rules(listener_arn)]
            if r.arn not in self._deleted
        ]
        created = [r for r in self._created.get(listener_arn, []) if r.arn not in self._deleted]
        return [rules[0], *sorted([*rules[1:], *created], key=lambda r: int(r.priority))]

    def set_forward_weights(self, rule_arn: str, weights: Mapping[str, int]) -> ForwardRule:
        self.recorder.record(
            "elbv2",
            "ModifyRule",
            rule=rule_arn,
            forward=",".join(f"{arn.rsplit('/', 2)[-2]}={w}" for arn, w in weights.items()),
        )
        self._weights[rule_arn] = tuple(TargetWeight(a, w) for a, w in weights.items())
        return ForwardRule(rule_arn, "", self._weights[rule_arn])

    def target_health(self, target_group_arn: str) -> list[TargetHealth]:
        return self.inner.target_health(target_group_arn)

    def put_header_rule(
        self,
        listener_arn: str,
        priority: int,
        header: str,
        values: Sequence[str],
        *,
        target_group_arn: str,
        conditions: Sequence[Mapping[str, object]] = (),
    ) -> ForwardRule:
        self.recorder.record(
            "elbv2",
            "CreateRule",
            listener=listener_arn,
            priority=priority,
            header=f"{header}={'|'.join(values)}",
            forward=target_group_arn,
        )
        condition = {
            "Field": "http-header",
            "HttpHeaderConfig": {"HttpHeaderName": header, "Values": list(values)},
        }
        listener = listener_arn.replace(":listener/", ":listener-rule/", 1)
        rule = ForwardRule(
            arn=f"{listener}/{DRY_RUN_UPDATE_PREFIX}{next(self._serial)}",
            priority=str(priority),
            targets=(TargetWeight(target_group_arn, 1),),
            conditions=(*conditions, condition),
        )
        self._created.setdefault(listener_arn, []).append(rule)
        return rule

    def delete_rule(self, rule_arn: str) -> None:
        self.recorder.record("elbv2", "DeleteRule", rule=rule_arn)
        self._deleted.add(rule_arn)
