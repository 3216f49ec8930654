"""What a drain tells its caller: the report (what went, what is stuck and why), the progress
observer, the two ways it stops (refused before any eviction, or timed out with pods left) and
the one-line summary of a step's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from upgrader.core.errors import RefusedError, TemporaryError
from upgrader.core.progress import DrainTally
from upgrader.drain.rules import PodDecision


@dataclass(frozen=True)
class StuckPod:
    pod: str
    node: str
    pdb: str | None
    disruptions_allowed: int | None
    reason: str
    cause: str = ""  # a drain_diagnosis.Cause value
    advice: str = ""  # what would move it, matching the cause


@dataclass
class DrainReport:
    nodes: list[str] = field(default_factory=list)
    evicted: list[str] = field(default_factory=list)
    refused_evictions: int = 0  # 429s: each one is a budget eksup misjudged or raced
    skipped: list[str] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    stuck: list[StuckPod] = field(default_factory=list)
    # "ns/pod 600s->60s": pods whose own grace period --max-grace-period shortened
    grace_capped: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.finished_at - self.started_at


class DrainObserver(Protocol):
    def drain_progress(
        self,
        nodes: int,
        pods_left: int,
        evicted: int,
        waiting: dict[str, list[str]],
        *,
        tally: DrainTally | None = None,
    ) -> None: ...


class DrainRefusedError(RefusedError):
    def __init__(self, decisions: list[PodDecision]) -> None:
        named = "; ".join(f"{d.pod.key} on {d.pod.node_name}: {d.reason}" for d in decisions[:5])
        more = f" (and {len(decisions) - 5} more)" if len(decisions) > 5 else ""
        super().__init__(f"drain refused before any eviction: {named}{more}")
        self.decisions = decisions


class DrainTimeoutError(TemporaryError):
    """The drain stopped with pods left: at its deadline, or at once when no amount of waiting
    could move them (`hopeless`). Each stuck pod carries its cause and the advice for it."""

    def __init__(self, report: DrainReport, timeout: float, *, hopeless: bool = False) -> None:
        held = "; ".join(
            f"{s.pod} on {s.node}"
            + (
                f" held by PDB {s.pdb} ({s.disruptions_allowed} disruptions allowed)"
                if s.pdb
                else ""
            )
            + (f" [{s.reason}]" if s.reason else "")
            for s in report.stuck[:10]
        )
        more = f" (and {len(report.stuck) - 10} more)" if len(report.stuck) > 10 else ""
        when = (
            "drain stopped: waiting cannot move what is left"
            if hopeless
            else f"drain timed out after {timeout:.0f}s"
        )
        super().__init__(f"{when}; still there: {held}{more}")
        self.report = report
        self.hopeless = hopeless

    @property
    def advice(self) -> str:
        """The distinct remedies, in the order the stuck pods need them."""
        seen: list[str] = []
        for stuck in self.report.stuck:
            if stuck.advice and stuck.advice not in seen:
                seen.append(stuck.advice)
        return "; ".join(seen[:4])


def drain_summary(report: DrainReport) -> str:
    """One line for the step's result: what went, how long, and any grace period cut short."""
    text = f"{len(report.evicted)} pods evicted in {report.seconds:.0f}s"
    if report.grace_capped:
        shown = ", ".join(report.grace_capped[:3])
        more = f" and {len(report.grace_capped) - 3} more" if len(report.grace_capped) > 3 else ""
        text += f"; --max-grace-period cut the grace period of {shown}{more}"
    return text
