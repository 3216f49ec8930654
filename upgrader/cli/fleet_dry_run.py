"""`eksup fleet run --dry-run`: wire the world and the config, call, print, exit.

The logic is `upgrader.usecases.fleet.dry_run`'s; this module only reads what the command is
given and prints the report (stdout) while each member's lines go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from upgrader.cli.fleet_options import _cli, _log, _world
from upgrader.core.errors import RefusedError

if TYPE_CHECKING:
    from upgrader.fleet.run_doc import FleetRun


def dry_run(run: FleetRun, run_file: Path, sandbox: bool) -> NoReturn:
    from upgrader.fleet.journal import FleetJournal
    from upgrader.plan.checks.config import load_config
    from upgrader.usecases.fleet.dry_run import dry_run_fleet, started_refusal
    from upgrader.usecases.fleet.dry_run_report import report_lines

    journal = FleetJournal(run_file)  # read only: it creates nothing
    refusal = started_refusal(run, run_file, journal.started())
    if refusal is not None:
        raise RefusedError(refusal)
    config = load_config(None)  # `.eksup.yaml` here, as `eksup execute --dry-run` reads it
    with _world(sandbox) as (opener, pool):
        result = dry_run_fleet(
            run, run_file, opener, journal.state(), config=config, now=pool.clock.now(), log=_log
        )
    cli = _cli()
    for line in report_lines(result):
        cli.stdout.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)
