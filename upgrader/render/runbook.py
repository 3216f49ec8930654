"""A runbook template as Markdown, for an on-call engineer to follow by hand.

Placeholders stay visible as `<name>` and are listed with their meaning at the top, so the page
reads as instructions even without a cluster to fill them from. In prose they are written as
HTML entities (`&lt;name&gt;`): GitHub drops an unknown tag like `<cluster>` from the page.
"""

from __future__ import annotations

from upgrader.core.shell import md_fence, md_text
from upgrader.plan.runbooks import Command, Repeat, Runbook, RunbookStep, fill

_REPEAT_NOTE = {
    Repeat.ONCE: "",
    Repeat.PER_HOP: " (once per control-plane hop)",
    Repeat.PER_NODEGROUP: " (once per node group)",
    Repeat.PER_HOP_NODEGROUP: " (for each hop, once per node group)",
}
_LANGUAGE = {"aws": "sh", "kubectl": "sh", "eksup": "sh", "shell": "sh"}


def render_runbook(runbook: Runbook) -> str:
    lines = [f"# {md_text(runbook.title)}", "", md_text(runbook.summary.strip()), ""]
    lines += ["## Parameters", "", "| placeholder | meaning |", "| --- | --- |"]
    lines += [f"| `<{name}>` | {_cell(meaning)} |" for name, meaning in runbook.parameters.items()]
    lines.append("")
    for number, step in enumerate(runbook.steps, start=1):
        lines += _step(number, step)
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return md_text(text).replace("|", "\\|").replace("\n", " ")


def _step(number: int, step: RunbookStep) -> list[str]:
    title = md_text(fill(step.title, {}))
    lines = [f"## {number}. {title}{_REPEAT_NOTE[step.repeat]}", ""]
    if step.when:
        lines += [f"Only when: `{step.when}`.", ""]
    if step.approval:
        lines += ["**Manual approval**: a person must approve before this step runs.", ""]
    lines += [md_text(fill(step.description.strip(), {})), ""]
    if step.preconditions:
        lines += ["Before you start:", ""]
        lines += [f"- {md_text(fill(text, {}))}" for text in step.preconditions]
        lines.append("")
    for heading, commands in (
        ("Do", step.actions),
        ("Check", step.verify),
        ("If it goes wrong, go back", step.rollback),
    ):
        if commands:
            lines += [f"**{heading}:**", ""]
            lines += _commands(commands)
    return lines


def _commands(commands: list[Command]) -> list[str]:
    lines: list[str] = []
    for command in commands:
        text = fill(command.run.strip(), {})
        if command.tool == "manual":
            lines += [f"- {md_text(text)}"]
        else:
            fence = md_fence(text)
            lines += [f"{fence}{_LANGUAGE[command.tool]}", text, fence]
        if command.note:
            note = md_text(fill(command.note, {}))
            lines += [f"  {note}" if command.tool == "manual" else note]
        lines.append("")
    return lines
