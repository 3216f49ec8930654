"""The plan on a terminal: the verdict, the findings that matter, the steps (rich tables).

Pure rendering into rich renderables; the CLI prints them. Row content comes from
`render_plan`, so the terminal, Markdown and JUnit views never disagree.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from upgrader.plan.document import Plan, Verdict
from upgrader.render.plan import (
    PlanTable,
    finding_rows,
    nothing_to_do,
    plan_rows,
    suppression_lines,
)

_VERDICT_STYLE = {
    Verdict.READY: "bold green",
    Verdict.READY_WITH_WARNINGS: "bold yellow",
    Verdict.NOT_READY: "bold red",
    Verdict.NOTHING_TO_DO: "bold green",
}


def _table(title: str, content: PlanTable) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for header in content.headers:
        table.add_column(header, overflow="fold")
    for row in content.rows:
        table.add_row(*row)
    return table


def plan_view(plan: Plan) -> RenderableType:
    verdict = Text(f"{plan.verdict.value}", style=_VERDICT_STYLE[plan.verdict])
    headline = Text.assemble(
        verdict,
        f"  {plan.cluster}: {plan.current_version} -> {plan.target_version}",
        f" ({len(plan.hops)} control-plane hop(s), {plan.node_replacements} node replacement(s),"
        f" {plan.node_strategy})",
    )
    parts: list[RenderableType] = [headline]
    parts.extend(Text(f"  - {reason}") for reason in plan.replacement_reasons)
    parts.extend(
        Text(f"  alternative: {alt.name}: {alt.summary}", style="cyan" if alt.cheaper else "")
        for alt in plan.alternatives
    )
    findings = finding_rows(plan)
    # Infos are in the Markdown and JSON; on a terminal only what needs a decision shows.
    decisive = PlanTable(
        findings.verdict,
        findings.headers,
        tuple(row for row in findings.rows if row[0] != "info"),
    )
    if decisive.rows:
        parts.append(_table("Findings", decisive))
    infos = len(findings.rows) - len(decisive.rows)
    if infos:
        parts.append(Text(f"{infos} informational note(s): see --format markdown", style="dim"))
    parts.extend(
        Text(f"suppressed by config: {line}", style="yellow") for line in suppression_lines(plan)
    )
    if plan.verdict is Verdict.NOTHING_TO_DO:
        parts.append(Text(nothing_to_do(plan)))
    else:
        parts.append(_table("Steps", plan_rows(plan)))
    return Group(*parts)
