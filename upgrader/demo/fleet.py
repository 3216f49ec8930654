"""The fleet wave at the end of `eksup demo` (and all of `eksup demo --fleet`).

management -> dev (two clusters in parallel) -> prod, on the local engine and the sandbox fleet.
dev-b's pre-flight refuses to drain its bare pod, dev's policy is fail-fast, so dev-a (already
in flight) finishes and prod never starts; the status table says why for every cluster.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console

from upgrader.demo.fleet_world import build_fleet_world, example_fleet_yaml, sandbox_fleet_opener
from upgrader.fleet.journal import FleetJournal
from upgrader.fleet.render import plan_table, status_table
from upgrader.fleet.spec_file import load_fleet_spec
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.fleet.engines.local import LocalEngine
from upgrader.usecases.fleet.planning import plan_fleet
from upgrader.usecases.fleet.pool import TurnTakingPool


def run_fleet_demo(console: Console, number: int = 1) -> str:
    """Returns the run's outcome status (for tests)."""
    with tempfile.TemporaryDirectory() as scratch, Sandbox() as world:
        spec_file = Path(scratch) / "fleet.yaml"
        spec_file.write_text(example_fleet_yaml(), encoding="utf-8")
        console.print(
            f"\n[bold]{number}. A fleet wave: eksup fleet plan fleet.yaml --out run.json[/] "
            "(a management cluster and three workload clusters, two accounts, two regions)"
        )
        console.print(spec_file.read_text(encoding="utf-8"), markup=False, highlight=False)
        build_fleet_world(world)
        spec = load_fleet_spec(spec_file)
        run = plan_fleet(
            spec, "fleet.yaml", sandbox_fleet_opener(world), TurnTakingPool(world.clock)
        )
        run_file = Path(scratch) / "run.json"
        run_file.write_text(run.to_json(), encoding="utf-8")
        console.print(plan_table(run))
        console.print("\n[bold]   eksup fleet run run.json --engine local --yes[/]")
        started = world.clock.now()
        outcome = LocalEngine(
            run,
            run_file,
            sandbox_fleet_opener(world),
            TurnTakingPool(world.clock),
            log=lambda line: console.print(f"  {line}", markup=False, highlight=False),
            by="demo",
        ).execute()
        hours = (world.clock.now() - started) / 3600
        console.print(
            f"  [bold]{outcome.status}[/] after {hours:.1f} virtual hours: {outcome.reason}",
            highlight=False,
        )
        console.print("\n[bold]   eksup fleet status run.json[/]")
        journal = FleetJournal(run_file)
        console.print(
            status_table(run, journal.state(), world.clock.now(), "run.fleet/journal.jsonl")
        )
        return outcome.status
