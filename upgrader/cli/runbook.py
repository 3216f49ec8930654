"""`eksup runbook ...`: the runbook templates plans are made from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from upgrader.cli.output import reported_errors, stdout, write_text

runbook_app = typer.Typer(help="The runbook templates plans are made from.", no_args_is_help=True)


@runbook_app.command("list")
def runbook_list() -> None:
    """List the runbooks: id, purpose and title."""
    from rich.table import Table

    from upgrader.plan.runbooks import all_runbooks

    with reported_errors():
        table = Table("id", "purpose", "title", "steps")
        for runbook in all_runbooks().values():
            table.add_row(runbook.id, runbook.purpose, runbook.title, str(len(runbook.steps)))
        stdout.print(table)


@runbook_app.command("show")
def runbook_show(runbook_id: Annotated[str, typer.Argument(help="A runbook id.")]) -> None:
    """Show a runbook's steps on the terminal."""
    from rich.markdown import Markdown

    from upgrader.plan.runbooks import get_runbook
    from upgrader.render.runbook import render_runbook

    with reported_errors():
        stdout.print(Markdown(render_runbook(get_runbook(runbook_id))))


@runbook_app.command("render")
def runbook_render(
    runbook_id: Annotated[str, typer.Argument(help="A runbook id.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
) -> None:
    """Render a runbook to Markdown, with the equivalent aws/kubectl commands."""
    from upgrader.plan.runbooks import get_runbook
    from upgrader.render.runbook import render_runbook

    with reported_errors():
        text = render_runbook(get_runbook(runbook_id))
        if out is None:
            sys.stdout.write(text)
        else:
            write_text(out, text)
