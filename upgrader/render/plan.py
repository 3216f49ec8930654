"""Renderings of a plan for people and for CI: Markdown, JSON, JUnit XML, and table rows.

Pure functions from a `Plan` to text, so the CLI only chooses one and writes it, and tests read
the output directly. The Markdown is a runbook an on-call engineer can follow by hand when eksup
is not at hand: the verdict, the findings, then each step with its description, the equivalent
commands and, for every step that changes something, how to go back. JUnit XML gives CI one test
case per check finding that is not INFO, so a blocking finding, and only that, shows up as a
failed test.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from upgrader.core.shell import md_code, md_fence, md_text
from upgrader.plan.document import Plan, PlannedFinding, Step, Verdict

__all__ = [
    "PlanTable",
    "finding_rows",
    "nothing_to_do",
    "plan_rows",
    "render_json",
    "render_junit",
    "render_markdown",
    "suppression_lines",
]

_FAIL = "fail"
_NOT_ASSESSED = "not-assessed"
_PASS = "pass"
_ERROR = "error"
_INFO = "info"
_VERDICT_NOTE = {
    Verdict.READY: "no blocking finding and no warning",
    Verdict.READY_WITH_WARNINGS: "nothing blocks; read every warning before you start",
    Verdict.NOT_READY: "a blocking finding must be fixed (or suppressed with a reason) first",
    Verdict.NOTHING_TO_DO: "the cluster and its nodes are already on the target",
}


# -- table rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanTable:
    """What a terminal table shows: the verdict above, one row per step."""

    verdict: Verdict
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def plan_rows(plan: Plan) -> PlanTable:
    """One row per step: number, id, what it does, on what, and whether it changes anything."""
    rows = tuple(
        (
            str(number),
            step.id,
            step.title or step.kind.value,
            step.target,
            step.hop or "",
            _effect(step),
        )
        for number, step in enumerate(plan.steps, start=1)
    )
    return PlanTable(plan.verdict, ("#", "step", "what", "target", "hop", "effect"), rows)


def finding_rows(plan: Plan, *, include_passes: bool = False) -> PlanTable:
    """One row per finding, blocking ones first (the plan keeps them in that order)."""
    rows = tuple(
        (f.severity, _status(f), f.check_id, f.message, f.remedy)
        for f in plan.findings
        if include_passes or f.status != _PASS
    )
    return PlanTable(plan.verdict, ("severity", "status", "check", "finding", "remedy"), rows)


def suppression_lines(plan: Plan) -> list[str]:
    """One line per `.eksup.yaml` suppression in force: every output format lists them."""
    return [
        f"{s.rule}: {s.reason or '(no reason)'}"
        + (f", until {s.expires}" if s.expires else "")
        + f" ({s.findings} finding{'s' if s.findings != 1 else ''})"
        + ("" if s.silences_blocking else "; blocking findings need a reason and an expiry date")
        for s in plan.suppressions
    ]


def _effect(step: Step) -> str:
    if step.approval:
        return "approval"
    return "changes" if step.mutating else "read-only"


def _status(finding: PlannedFinding) -> str:
    return f"{finding.status} (suppressed)" if finding.suppressed else finding.status


# -- JSON ----------------------------------------------------------------------------------------


def render_json(plan: Plan) -> str:
    """The plan document itself, as `eksup execute` reads it back."""
    return plan.to_json()


# -- Markdown ------------------------------------------------------------------------------------


def render_markdown(plan: Plan) -> str:
    """The plan as a runbook to follow by hand."""
    parts = [
        *_md_header(plan),
        *_md_summary(plan),
        *_md_findings(plan),
        *_md_suppressions(plan),
        *_md_steps(plan),
    ]
    return "\n".join(parts).rstrip() + "\n"


def _md_header(plan: Plan) -> list[str]:
    return [
        f"# Upgrade {md_text(plan.cluster)} from {plan.current_version} to "
        f"{md_text(plan.target_version)}",
        "",
        f"**Verdict: {plan.verdict.value}** ({_VERDICT_NOTE[plan.verdict]})",
        "",
        f"- Region: {md_text(plan.region or 'unknown')}",
        f"- Node strategy: {plan.node_strategy} (runbook `{plan.runbook}`)",
        f"- Planned at {plan.created_at} by eksup {plan.eksup_version}",
        f"- Cluster fingerprint: `{plan.fingerprint}` (eksup refuses the plan once it changes)",
        "",
    ]


def _md_summary(plan: Plan) -> list[str]:
    lines = ["## Summary", ""]
    if not plan.steps:
        lines += [nothing_to_do(plan), ""]
        return lines
    hops = " -> ".join([plan.current_version, *plan.hops]) if plan.hops else "none"
    lines += [
        f"- Control-plane hops: {hops}",
        f"- Node replacements: {plan.node_replacements}",
        *(f"  - {md_text(reason)}" for reason in plan.replacement_reasons),
    ]
    for alternative in plan.alternatives:
        mark = "cheaper" if alternative.cheaper else "not cheaper"
        lines.append(f"- Alternative `{alternative.name}` ({mark}): {md_text(alternative.summary)}")
    lines.append("")
    return lines


def nothing_to_do(plan: Plan) -> str:
    """The one line every format gives a plan with no step (exit code 0)."""
    return f"Nothing to do: the cluster and its nodes are on {plan.target_version}."


def _md_findings(plan: Plan) -> list[str]:
    shown = [f for f in plan.findings if f.status != _PASS]
    passed = sorted({f.check_id for f in plan.findings if f.status == _PASS})
    lines = ["## Findings", ""]
    if shown:
        lines += [
            "| Severity | Status | Check | Finding | Remedy |",
            "|---|---|---|---|---|",
            *(
                f"| {f.severity} | {_cell(_status(f))} | `{f.check_id}` | {_cell(f.message)} "
                f"| {_cell(_suppression(f) or f.remedy)} |"
                for f in shown
            ),
            "",
        ]
    else:
        lines += ["No check found anything to report.", ""]
    if passed:
        lines += [f"Passed: {', '.join(f'`{c}`' for c in passed)}.", ""]
    return lines


def _md_suppressions(plan: Plan) -> list[str]:
    lines = suppression_lines(plan)
    if not lines:
        return []
    return ["## Suppressed by `.eksup.yaml`", "", *(f"- {md_text(line)}" for line in lines), ""]


def _suppression(finding: PlannedFinding) -> str:
    return f"suppressed by {finding.suppressed_by}" if finding.suppressed_by else ""


def _cell(text: str) -> str:
    """Table cells cannot hold a pipe or a line break (nor HTML, like any prose)."""
    return md_text(text).replace("|", "\\|").replace("\n", " ")


def _md_steps(plan: Plan) -> list[str]:
    if not plan.steps:
        return []
    lines = ["## Steps", ""]
    stage: str | None = "start"
    for number, step in enumerate(plan.steps, start=1):
        heading = _stage_heading(plan, step)
        if heading != stage:
            lines += [f"### {heading}", ""] if heading else []
            stage = heading
        lines += _md_step(number, step)
    return lines


def _stage_heading(plan: Plan, step: Step) -> str:
    if step.hop is None:
        return ""
    if step.hop == plan.current_version:
        if not plan.hops:
            return f"Nodes still behind the control plane ({plan.current_version})"
        return f"Before the first hop: nodes behind {plan.current_version}"
    return f"Hop to {step.hop}"


def _md_step(number: int, step: Step) -> list[str]:
    effect = "approval gate" if step.approval else _effect(step)
    lines = [
        f"#### {number}. {md_text(step.title or step.id)}",
        "",
        f"{md_code(step.id)} · {step.kind.value} · {md_code(step.target)} · {effect}",
        "",
        md_text(step.description),
        "",
    ]
    if step.verifies:
        lines += [f"Re-checked first: {', '.join(f'`{c}`' for c in step.verifies)}.", ""]
    if step.preconditions:
        lines += ["Before you start:", "", *(f"- {md_text(p)}" for p in step.preconditions), ""]
    lines += _code("Run:", step.commands)
    lines += _code("Check:", step.verification)
    if step.rollback:
        lines += ["##### Rollback", "", *_code("If this step has to be undone:", step.rollback)]
    return lines


def _code(label: str, commands: Sequence[str]) -> list[str]:
    if not commands:
        return []
    fence = md_fence("\n".join(commands))
    return [label, "", f"{fence}sh", *commands, fence, ""]


# -- JUnit XML -----------------------------------------------------------------------------------


def render_junit(plan: Plan) -> str:
    """JUnit that agrees with the exit code: only a blocking finding (an unsuppressed ERROR that
    tripped, exit 2) is a failure. A warning is a passing test case carrying the warning in
    `system-out` and a `severity` property; a check not assessed or a suppressed finding is
    skipped; an INFO note is no test result at all, only the suite's `system-out`."""
    suite = ET.Element("testsuite", name=f"eksup plan {plan.cluster} -> {plan.target_version}")
    properties = ET.SubElement(suite, "properties")
    for name, text in (
        ("verdict", plan.verdict.value),
        ("current_version", plan.current_version),
        ("target_version", plan.target_version),
        ("steps", str(len(plan.steps))),
    ):
        ET.SubElement(properties, "property", name=name, value=text)
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    if plan.suppressions:  # JUnit wants <properties> before the test cases
        properties = ET.SubElement(suite, "properties")
        for line in suppression_lines(plan):
            ET.SubElement(properties, "property", name="eksup.suppressed", value=line)
    for name, finding in _case_names(f for f in plan.findings if f.severity != _INFO):
        case = ET.SubElement(suite, "testcase", classname=f"eksup.{plan.cluster}", name=name)
        counts["tests"] += 1
        outcome = _junit_outcome(case, finding)
        if outcome:
            counts[outcome] += 1
    notes = [f"[{f.check_id}] {f.message}" for f in plan.findings if f.severity == _INFO]
    if plan.verdict is Verdict.NOTHING_TO_DO:
        notes.insert(0, nothing_to_do(plan))
    if notes:
        ET.SubElement(suite, "system-out").text = "\n".join(notes)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("errors", "0")
    root = ET.Element("testsuites", name="eksup")
    for key, value in [*counts.items(), ("errors", 0)]:
        root.set(key, str(value))
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case_names(findings: Iterable[PlannedFinding]) -> list[tuple[str, PlannedFinding]]:
    """A check may report several findings; each case name must still be unique."""
    seen: dict[str, int] = {}
    named = []
    for finding in findings:
        seen[finding.check_id] = seen.get(finding.check_id, 0) + 1
        count = seen[finding.check_id]
        named.append((finding.check_id if count == 1 else f"{finding.check_id} #{count}", finding))
    return named


def _junit_outcome(case: ET.Element, finding: PlannedFinding) -> str | None:
    detail = "\n".join(
        part for part in (finding.message, "\n".join(finding.objects), finding.remedy) if part
    )
    if finding.suppressed:
        ET.SubElement(case, "skipped", message=f"suppressed: {finding.message}")
        return "skipped"
    if finding.status == _NOT_ASSESSED:
        ET.SubElement(case, "skipped", message=finding.message)
        return "skipped"
    if finding.status == _FAIL and finding.severity == _ERROR:
        failure = ET.SubElement(case, "failure", message=finding.message, type=finding.severity)
        failure.text = detail
        return "failures"
    if finding.status == _FAIL:
        # A warning: CI shows it without turning red, as the exit code (0) says.
        properties = ET.SubElement(case, "properties")
        ET.SubElement(properties, "property", name="severity", value=finding.severity)
        ET.SubElement(case, "system-out").text = f"{finding.severity}: {detail}"
    return None
