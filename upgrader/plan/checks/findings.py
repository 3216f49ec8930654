"""What a check says: a finding with a stable id, a severity, a status, the objects and a remedy.

The status and the severity are separate on purpose. The status says what the check could
establish (it tripped, it passed, or its input could not be read); the severity says how much a
tripped check matters (ERROR blocks the plan, WARNING informs, INFO is context). A check whose
read was denied is NOT_ASSESSED, never PASS: an empty list read without permission proves
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from upgrader.plan.document import Verdict

# A finding about 40,000 pods must still be one readable line; the full list stays in `objects`.
_NAMED_IN_MESSAGE = 8


class Severity(StrEnum):
    ERROR = "error"  # blocks the plan
    WARNING = "warning"  # the plan can go on; a human should know
    INFO = "info"  # context for the reviewer

    @property
    def rank(self) -> int:
        return {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}[self]


class CheckStatus(StrEnum):
    FAIL = "fail"  # the check tripped
    PASS = "pass"
    NOT_ASSESSED = "not-assessed"  # a read it needs was denied or is missing


@dataclass(frozen=True)
class Finding:
    """One result of one check.

    `summary` says what is wrong without naming the objects; `message` adds the first few
    names, so that suppression can split a finding's objects without rewriting its text.
    """

    check_id: str
    severity: Severity
    status: CheckStatus
    summary: str
    objects: tuple[str, ...] = ()
    remedy: str = ""
    suppressed_by: str | None = None  # the suppression rule, as written in the config

    @property
    def message(self) -> str:
        if not self.objects:
            return self.summary
        named = ", ".join(self.objects[:_NAMED_IN_MESSAGE])
        more = len(self.objects) - _NAMED_IN_MESSAGE
        if more > 0:
            named += f" and {more} more"
        return f"{self.summary}: {named}"

    @property
    def suppressed(self) -> bool:
        return self.suppressed_by is not None

    @property
    def blocking(self) -> bool:
        return (
            self.status is CheckStatus.FAIL
            and self.severity is Severity.ERROR
            and not self.suppressed
        )

    @property
    def warns(self) -> bool:
        """Worth a human's attention without blocking: a warning, or a check not assessed."""
        if self.suppressed or self.blocking:
            return False
        if self.status is CheckStatus.NOT_ASSESSED:
            return self.severity is not Severity.INFO
        return self.status is CheckStatus.FAIL and self.severity is Severity.WARNING

    def __str__(self) -> str:
        return f"[{self.check_id}] {self.severity.value} {self.status.value}: {self.message}"


def fail(
    check_id: str,
    severity: Severity,
    summary: str,
    objects: Iterable[str] = (),
    remedy: str = "",
) -> Finding:
    return Finding(check_id, severity, CheckStatus.FAIL, summary, tuple(objects), remedy)


def passed(check_id: str, severity: Severity, summary: str) -> Finding:
    return Finding(check_id, severity, CheckStatus.PASS, summary)


def not_assessed(
    check_id: str, severity: Severity, summary: str, objects: Iterable[str] = (), remedy: str = ""
) -> Finding:
    return Finding(check_id, severity, CheckStatus.NOT_ASSESSED, summary, tuple(objects), remedy)


def verdict(findings: Iterable[Finding]) -> Verdict:
    """NOT READY on any unsuppressed blocking finding; WITH WARNINGS on a warning or a gap."""
    result = Verdict.READY
    for finding in findings:
        if finding.blocking:
            return Verdict.NOT_READY
        if finding.warns:
            result = Verdict.READY_WITH_WARNINGS
    return result


def sort_key(finding: Finding) -> tuple[int, int, str]:
    """Report order: what blocks first, then by severity, then by check id."""
    status_rank = {CheckStatus.FAIL: 0, CheckStatus.NOT_ASSESSED: 1, CheckStatus.PASS: 2}
    return (status_rank[finding.status], finding.severity.rank, finding.check_id)
