"""Pre-flight checks: pure functions from a cluster snapshot to findings.

    from upgrader.plan.checks import CheckContext, run_checks, verdict
    findings = run_checks(snapshot, CheckContext(target="1.31", catalog=default_catalog(),
                                                 today=date.today()))

Each theme module (versions, nodes, addons, apis, aws_health, disruption, capacity, zones,
ownership) registers its checks with `@check`; `all_checks()` lists them, and docs/checks.md
documents every id. Ids are stable: configs suppress by them and CI may grep for them.
"""

from upgrader.plan.checks.context import CheckContext, NodeStrategy
from upgrader.plan.checks.findings import CheckStatus, Finding, Severity, sort_key, verdict
from upgrader.plan.checks.registry import (
    Check,
    all_checks,
    check_ids,
    get_check,
    run_checks,
    suppress,
)

__all__ = [
    "Check",
    "CheckContext",
    "CheckStatus",
    "Finding",
    "NodeStrategy",
    "Severity",
    "all_checks",
    "check_ids",
    "get_check",
    "run_checks",
    "sort_key",
    "suppress",
    "verdict",
]
