"""`eksup status`: where the run of a plan stands, from its journal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from upgrader.cli.options import (
    ClusterOption,
    ContextOption,
    ProfileOption,
    RegionOption,
    SandboxOption,
)
from upgrader.cli.output import reported_errors, stderr, stdout, write_text


def status(
    plan_file: Annotated[Path, typer.Argument(help="The plan a run executes.")],
    gantt: Annotated[
        bool, typer.Option("--gantt", help="Print a mermaid Gantt chart of the run instead.")
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write a self-contained HTML report to this file."),
    ] = None,
    cluster: ClusterOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Show where the run of a plan stands, from its journal: steps, outcomes, durations.

    Reads the local journal and, when it is absent or a cluster/context is given, the
    cluster's copy (ConfigMap kube-system/eksup-journal-CLUSTER); it shows the union.
    """
    from rich.table import Table

    from upgrader.cli.targets import open_target
    from upgrader.core.run.journal import journal_path_for
    from upgrader.plan.document import load_plan
    from upgrader.render.status import clock_text, mermaid_gantt, run_state, step_statuses
    from upgrader.usecases.status_source import read_status_records

    with reported_errors():
        plan_doc = load_plan(plan_file)
        found = read_status_records(
            plan_doc.cluster,
            plan_doc.region,
            journal_path_for(plan_file),
            cluster=cluster,
            region=region,
            profile=profile,
            context=context,
            sandbox=sandbox,
            open_target=open_target,
        )
        if found.note:
            stderr.print(f"eksup: warning: {found.note}", markup=False, highlight=False)
        records = found.records
        statuses = step_statuses(plan_doc, records)
        if html is not None:
            from upgrader.render.status_html import render_html

            write_text(html, render_html(plan_doc, statuses, records))
        if gantt:
            sys.stdout.write(mermaid_gantt(plan_doc, statuses))
            return
        table = Table(
            "step", "state", "run", "started", "took", "detail", title=found.source or None
        )
        for item in statuses:
            took = "" if item.seconds is None else f"{item.seconds:.0f}s"
            table.add_row(
                item.step_id, item.state, item.run, clock_text(item.started_at), took, item.detail
            )
        stdout.print(table)
        stdout.print(run_state(records), highlight=False)
