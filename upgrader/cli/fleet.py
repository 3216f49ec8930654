"""`eksup fleet ...`: parse, wire, call, render. The logic lives in `upgrader.fleet` (the
domain) and `upgrader.usecases.fleet` (planning, the engines)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from upgrader.cli.fleet_options import (
    Engine,
    NamespaceOption,
    PlanFormat,
    RunArgument,
    SandboxFlag,
    ServerOption,
    StatusFormat,
    TokenOption,
    _arg,
    _argo_record,
    _cli,
    _load,
    _local,
    _log,
    _now,
    _server,
    _who,
    _world,
    fleet_app,
)
from upgrader.core.errors import RefusedError, UserError
from upgrader.core.exit_codes import ExitCode

# `upgrader.cli.app` mounts fleet_app from here: importing this module registers the commands
# (its own and fleet_control's) on it.
__all__ = ["fleet_app"]


@fleet_app.command("plan")
def fleet_plan(
    spec_file: Annotated[Path, typer.Argument(help="fleet.yaml")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the fleet run (JSON) here.")
    ] = None,
    output_format: Annotated[
        PlanFormat, typer.Option("--format", help="What to print.")
    ] = PlanFormat.TABLE,
    sandbox: SandboxFlag = False,
) -> None:
    """Plan every cluster (read-only, in parallel) and freeze one fleet run.

    Exit code 0: every cluster ready or at target; 2: a cluster is blocked or unreachable.
    """
    from upgrader.fleet.render import plan_markdown, plan_table
    from upgrader.fleet.spec_file import load_fleet_spec
    from upgrader.usecases.fleet.planning import plan_fleet

    cli = _cli()
    with cli.reported_errors():
        spec = load_fleet_spec(spec_file)
        with _world(sandbox) as (opener, pool):
            run = plan_fleet(spec, str(spec_file), opener, pool)
        if out is not None:
            cli.write_text(out, run.to_json())
        if output_format is PlanFormat.TABLE:
            cli.stdout.print(plan_table(run))
        elif output_format is PlanFormat.MARKDOWN:
            sys.stdout.write(plan_markdown(run, str(out or "run.json")))
        else:
            sys.stdout.write(run.to_json())
    bad = [c for c in run.clusters if c.verdict.value in ("blocked", "unreachable")]
    raise typer.Exit(ExitCode.BLOCKED if bad else ExitCode.OK)


@fleet_app.command("schema")
def fleet_schema() -> None:
    """Print the JSON Schema of the fleet run document."""
    from upgrader.fleet.run_doc import fleet_run_schema

    with _cli().reported_errors():
        sys.stdout.write(json.dumps(fleet_run_schema(), indent=2) + "\n")


@fleet_app.command("example")
def fleet_example() -> None:
    """Print the fleet.yaml of the sandbox fleet (a management and three workload clusters)."""
    from upgrader.demo.fleet_world import example_fleet_yaml

    sys.stdout.write(example_fleet_yaml())


@fleet_app.command("run")
def fleet_run(
    run_file: RunArgument,
    engine: Annotated[
        Engine, typer.Option("--engine", help="local: this process; argo: a Workflow.")
    ] = Engine.LOCAL,
    out: Annotated[
        Path | None, typer.Option("--out", help="argo: write the Workflow YAML here (GitOps).")
    ] = None,
    server: ServerOption = None,
    token: TokenOption = None,
    namespace: NamespaceOption = "argo",
    image: Annotated[
        str,
        typer.Option(
            "--image", help="argo: the eksup image the steps run (deploy/fleet/Dockerfile)."
        ),
    ] = "",
    service_account: Annotated[
        str,
        typer.Option(
            "--service-account", help="argo: the pods' ServiceAccount (IRSA/Pod Identity)."
        ),
    ] = "eksup-fleet",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before the first change.")] = False,
    wait_for_windows: Annotated[
        bool,
        typer.Option(
            "--wait-for-windows",
            help="local: wait for closed maintenance windows instead of stopping (exit 4).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="local: `eksup execute --dry-run` of every member, in the run's order; "
            "nothing is changed or written.",
        ),
    ] = False,
    sandbox: SandboxFlag = False,
) -> None:
    """Execute a fleet run: stages in order, fail-fast unless maxAllowedFailures allows.

    Exit code 0: every cluster upgraded or skipped; 1: a stage failed (or completed with
    tolerated failures); 3: refused; 4: stopped or waiting (approval, window): `fleet resume`.
    With --dry-run: 0 every member would run; 2 one is blocked or unreachable; 3 one refused.
    """
    from upgrader.usecases.fleet.engines.argo import (
        render_workflow,
        schema_available,
        validate_workflow,
    )

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        if dry_run:
            from upgrader.cli.fleet_dry_run import dry_run as fleet_dry_run

            if engine is not Engine.LOCAL or out is not None or server is not None:
                raise UserError(
                    "--dry-run dry-runs each member from here, whichever engine runs it: drop "
                    "--engine argo; `--engine argo --out FILE` renders the Workflow unsubmitted"
                )
            fleet_dry_run(run, run_file, sandbox)
        if engine is Engine.LOCAL:
            if out is not None or server is not None:
                raise UserError("--out and --server are for --engine argo")
            _local(run, run_file, sandbox, yes, resume=False, wait=wait_for_windows)
            return
        if (out is None) == (server is None):
            raise UserError("--engine argo needs --out FILE (GitOps) or --server URL (submit)")
        if not image:
            raise UserError(
                "--engine argo needs --image: the eksup image its steps run (build "
                "deploy/fleet/Dockerfile and push it to a registry the cluster can pull from)"
            )
        workflow = render_workflow(
            run, image=image, namespace=namespace, service_account=service_account
        )
        if schema_available():
            validate_workflow(workflow)
        else:
            _log("eksup: warning: not checked against Argo's schema: install eksup[fleet] (hera)")
        if out is not None:
            import yaml

            cli.write_text(out, yaml.safe_dump(workflow, sort_keys=False, width=100))
            cli.stdout.print(
                f"wrote {out}: Workflow {workflow['metadata']['name']}",
                markup=False,
                highlight=False,
            )
            return
        assert server is not None
        from upgrader.adapters.argo_server import ArgoServer
        from upgrader.fleet.journal import FleetJournal

        if not yes and not cli._confirm(f"Submit run {run.run_id} to {server}?"):
            raise RefusedError("not confirmed; nothing was submitted")
        created = ArgoServer(server, token).create(namespace, workflow)
        name = created.get("metadata", {}).get("name", workflow["metadata"]["name"])
        FleetJournal(run_file).submitted_to_argo(_now(), _who(), server, namespace, name)
        cli.stdout.print(
            f"submitted Workflow {namespace}/{name}; `eksup fleet status {_arg(run_file)}`",
            markup=False,
            highlight=False,
        )


@fleet_app.command("status")
def fleet_status(
    run_file: RunArgument,
    output_format: Annotated[
        StatusFormat, typer.Option("--format", help="text or json.")
    ] = StatusFormat.TEXT,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Where the run stands, per stage, with the reason for every pending, skipped or failed
    cluster: from the local journal, or the Workflow's status for a run submitted to Argo."""
    from upgrader.adapters.clock import SystemClock
    from upgrader.fleet.journal import FleetJournal
    from upgrader.fleet.render import status_json, status_table

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        record = _argo_record(run_file)
        if record is not None:
            from upgrader.usecases.fleet.engines.argo_status import (
                with_requested_skips,
                workflow_state,
            )

            workflow = _server(record, server, token).get(record["namespace"], record["name"])
            state = with_requested_skips(
                workflow_state(run, workflow), FleetJournal(run_file).state()
            )
            source = f"Workflow {record['namespace']}/{record['name']}"
        else:
            journal = FleetJournal(run_file)
            state = journal.state()
            source = str(journal.path)
        now = SystemClock().now()
        if output_format is StatusFormat.JSON:
            sys.stdout.write(status_json(run, state, now, source))
        else:
            cli.stdout.print(status_table(run, state, now, source))


# The commands that act on a run in flight live beside this module; importing it registers them.
from upgrader.cli import fleet_control  # noqa: E402, F401
