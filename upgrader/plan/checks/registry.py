"""The check registry: every check's id, default severity and reads, and how to run them all.

A check is a pure function `(snapshot, context) -> list[Finding]` registered with `@check`.
The registry, not each check, enforces the two rules every check must keep:

- a check whose required read was denied is NOT_ASSESSED, naming the missing permission, and
  its function is not even called (it would see an empty list and pass);
- a check that finds nothing still reports a PASS, so the report shows what was checked.

Suppressions from the config are applied here too, after every check has run.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from upgrader.plan.checks.config import Suppression
from upgrader.plan.checks.context import CheckContext
from upgrader.plan.checks.findings import CheckStatus, Finding, Severity, not_assessed, passed
from upgrader.plan.checks.ids import CHECK_IDS
from upgrader.plan.snapshot import ClusterSnapshot, Read

CheckFunction = Callable[[ClusterSnapshot, CheckContext], list[Finding]]

# The theme modules; importing one registers its checks.
_MODULES = (
    "versions",
    "nodes",
    "addons",
    "apis",
    "aws_health",
    "disruption",
    "capacity",
    "zones",
    "ownership",
    "karpenter_placement",
)


@dataclass(frozen=True)
class Check:
    id: str
    severity: Severity  # the usual severity; a check may report a finding at another one
    title: str  # what it checks, for docs and the report
    reads: tuple[Read, ...]  # without these, the check is not assessed
    function: CheckFunction
    pass_summary: str

    def run(self, snapshot: ClusterSnapshot, context: CheckContext) -> list[Finding]:
        denied = snapshot.denied(*self.reads)
        if denied:
            return [denied_finding(self.id, self.severity, denied)]
        findings = self.function(snapshot, context)
        return findings or [passed(self.id, self.severity, self.pass_summary)]


_REGISTRY: dict[str, Check] = {}


def check(
    check_id: str,
    *,
    severity: Severity,
    title: str,
    passes: str,
    reads: Sequence[Read] = (),
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under a stable id."""

    def register(function: CheckFunction) -> CheckFunction:
        if check_id not in CHECK_IDS:
            raise ValueError(f"check id {check_id!r} is not in upgrader.plan.checks.ids")
        if check_id in _REGISTRY and _REGISTRY[check_id].function is not function:
            raise ValueError(f"check id {check_id!r} registered twice")
        _REGISTRY[check_id] = Check(check_id, severity, title, tuple(reads), function, passes)
        return function

    return register


def denied_finding(check_id: str, severity: Severity, denied: dict[str, str]) -> Finding:
    reads = ", ".join(sorted(denied))
    permissions = ", ".join(sorted(set(denied.values())))
    return not_assessed(
        check_id,
        severity,
        f"not assessed: could not read {reads} (missing permission: {permissions})",
        remedy=f"grant {permissions} to the identity eksup runs as, then plan again",
    )


def all_checks() -> tuple[Check, ...]:
    for module in _MODULES:
        importlib.import_module(f"upgrader.plan.checks.{module}")
    return tuple(_REGISTRY[key] for key in sorted(_REGISTRY))


def check_ids() -> frozenset[str]:
    return frozenset(c.id for c in all_checks())


def get_check(check_id: str) -> Check:
    checks = {c.id: c for c in all_checks()}
    return checks[check_id]


def run_checks(
    snapshot: ClusterSnapshot,
    context: CheckContext,
    only: Iterable[str] | None = None,
) -> list[Finding]:
    """Run every check (or the `only` ids), then apply the config's suppressions."""
    wanted = set(only) if only is not None else None
    findings: list[Finding] = []
    for item in all_checks():
        if wanted is None or item.id in wanted:
            findings.extend(item.run(snapshot, context))
    return suppress(findings, context.config.suppress, today=context.today)


def suppress(
    findings: Iterable[Finding], rules: Sequence[Suppression], *, today: dt.date | None = None
) -> list[Finding]:
    """Mark what the rules silence. A finding whose objects match only in part is split: the
    matching objects go into a suppressed copy, the rest stay active. A rule past its expiry
    date (by `today`, the Clock's date) silences nothing; a blocking finding is silenced only
    by a rule with a reason and an expiry date."""
    active = [rule for rule in rules if rule.active(today)]
    result: list[Finding] = []
    for finding in findings:
        result.extend(_suppress_one(finding, active))
    return result


def _suppress_one(finding: Finding, rules: Sequence[Suppression]) -> list[Finding]:
    if finding.status is CheckStatus.PASS:
        return [finding]
    for rule in rules:
        if rule.id != finding.check_id:
            continue
        if finding.blocking and not rule.may_silence_blocking:
            continue
        if not finding.objects:
            if rule.objects == "*":
                return [replace(finding, suppressed_by=str(rule))]
            continue
        matched = tuple(o for o in finding.objects if fnmatchcase(o, rule.objects))
        if not matched:
            continue
        silenced = replace(finding, objects=matched, suppressed_by=str(rule))
        silenced_set = set(matched)
        rest = tuple(o for o in finding.objects if o not in silenced_set)
        if not rest:
            return [silenced]
        # The remaining objects may match a later rule.
        return [silenced, *_suppress_one(replace(finding, objects=rest), rules)]
    return [finding]
