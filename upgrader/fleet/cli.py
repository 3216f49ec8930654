"""`eksup fleet ...`: parse, wire, call, render. The logic lives in `upgrader.fleet`."""

from __future__ import annotations

import getpass
import json
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from upgrader.core.errors import RefusedError, UserError
from upgrader.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from upgrader.fleet.planning import Opener
    from upgrader.fleet.pool import Pool
    from upgrader.fleet.run_doc import FleetRun

fleet_app = typer.Typer(
    help="Upgrade many clusters in stages: upstream before downstream, soaks, approvals, "
    "failure budgets; locally or as an Argo Workflow.",
    no_args_is_help=True,
)

RunArgument = Annotated[Path, typer.Argument(help="The fleet run `eksup fleet plan --out` wrote.")]
SandboxFlag = Annotated[
    bool,
    typer.Option(
        "--sandbox",
        help="Use the sandbox fleet (`eksup fleet example`): served by `eksup sandbox up "
        "--fleet` when it runs, else embedded for this command.",
    ),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server", envvar="ARGO_SERVER_URL", help="Argo Server URL, e.g. https://argo:2746."
    ),
]
TokenOption = Annotated[
    str | None, typer.Option("--token", envvar="ARGO_TOKEN", help="Argo Server bearer token.")
]
NamespaceOption = Annotated[str, typer.Option("--namespace", help="Argo namespace.")]


class PlanFormat(StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"


class Engine(StrEnum):
    LOCAL = "local"
    ARGO = "argo"


class StatusFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _cli() -> Any:
    from upgrader import cli

    return cli


def _log(line: str) -> None:
    _cli().stderr.print(line, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def _world(sandbox: bool) -> Iterator[tuple[Opener, Pool]]:
    """The clusters and the pool: the sandbox fleet on virtual time, or AWS on threads."""
    if sandbox:
        from upgrader.adapters.clock import ServedSandboxClock
        from upgrader.fleet.pool import ThreadPool, TurnTakingPool
        from upgrader.sandbox.daemon import running_sandbox, sandbox_directory, served_fleet

        served = running_sandbox(sandbox_directory())
        if served is not None and served_fleet(served.directory):
            from upgrader.fleet.served import served_fleet_opener

            # `eksup sandbox up --fleet`: one world that every command sees and changes.
            yield served_fleet_opener(served), ThreadPool(ServedSandboxClock(served.clock_url))
            return
        from upgrader.fleet.sandbox_world import build_fleet_world, sandbox_fleet_opener
        from upgrader.sandbox.world import Sandbox

        with Sandbox() as world:
            build_fleet_world(world)
            yield sandbox_fleet_opener(world), TurnTakingPool(world.clock)
        return
    from upgrader.adapters.clock import clock_from_environment
    from upgrader.fleet.pool import ThreadPool
    from upgrader.fleet.targets import open_member

    # A shell that sourced a served sandbox's aws.env lives on the sandbox's clock.
    yield open_member, ThreadPool(clock_from_environment())


@contextmanager
def _members(sandbox: bool) -> Iterator[Opener]:
    """How to reach one cluster of the fleet at a time, outside a run (skip, approve)."""
    with _world(sandbox) as (opener, _pool):
        yield opener


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
    from upgrader.fleet.planning import plan_fleet
    from upgrader.fleet.render import plan_markdown, plan_table
    from upgrader.fleet.spec import load_fleet_spec

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
    from upgrader.fleet.sandbox_world import example_fleet_yaml

    sys.stdout.write(example_fleet_yaml())


def _load(run_file: Path) -> FleetRun:
    from upgrader.fleet.run_doc import load_run

    return load_run(run_file)


def _argo_record(run_file: Path) -> dict[str, Any] | None:
    from upgrader.fleet.state import FleetJournal

    found = [r for r in FleetJournal(run_file).records() if r["kind"] == "argo-submitted"]
    return found[-1] if found else None


def _server(record: dict[str, Any], server: str | None, token: str | None) -> Any:
    from upgrader.adapters.argo_server import ArgoServer

    url = server or record.get("server")
    if not url:
        raise UserError("the run was rendered for Argo, not submitted: give --server to reach it")
    return ArgoServer(url, token)


def _local(
    run: FleetRun, run_file: Path, sandbox: bool, yes: bool, *, resume: bool, wait: bool
) -> None:
    from upgrader.fleet.engines.local import LocalEngine
    from upgrader.fleet.state import FleetJournal

    cli = _cli()
    journal = FleetJournal(run_file)
    started = any(r["kind"] == "run-started" for r in journal.records())
    if started and not resume:
        raise RefusedError(
            f"run {run.run_id} has started already ({journal.path}): "
            f"`eksup fleet resume {_arg(run_file)}` goes on from where it stopped"
        )
    if not yes:
        question = (
            f"Upgrade {len(run.clusters)} clusters in {len(run.stages)} stages to "
            f"{run.target_version} (run {run.run_id})?"
        )
        if not cli._confirm(question):
            raise RefusedError("not confirmed; nothing was changed")
    with _world(sandbox) as (opener, pool), _ctrl_c_stops(journal, pool.clock):
        outcome = LocalEngine(
            run, run_file, opener, pool, log=_log, by=_who(), wait_for_windows=wait
        ).execute()
    cli.stdout.print(
        f"fleet run {run.run_id} {outcome.status}: {outcome.reason}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(outcome.exit_code)


@contextmanager
def _ctrl_c_stops(journal: Any, clock: Any) -> Iterator[None]:
    """The first Ctrl-C is `eksup fleet stop` (clusters in flight finish, nothing new starts);
    a second one interrupts at once."""
    asked: list[bool] = []

    def handle(_signum: int, _frame: FrameType | None) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(True)
        journal.append(clock.now(), "stop-requested", by=f"{_who()} (Ctrl-C)")
        _log("eksup: stopping: clusters in flight finish, nothing new starts (Ctrl-C again: now)")

    if threading.current_thread() is not threading.main_thread():
        yield  # signals reach the main thread only (a test runner's worker, say)
        return
    previous = signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _arg(path: Path) -> str:
    """A path as it is safe to paste into a shell."""
    return shlex.quote(str(path))


def _who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


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
    sandbox: SandboxFlag = False,
) -> None:
    """Execute a fleet run: stages in order, fail-fast unless maxAllowedFailures allows.

    Exit code 0: every cluster upgraded or skipped; 1: a stage failed (or completed with
    tolerated failures); 3: refused; 4: stopped or waiting (approval, window): `fleet resume`.
    """
    from upgrader.fleet.engines.argo import (
        render_workflow,
        schema_available,
        validate_workflow,
    )

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
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
        from upgrader.fleet.state import FleetJournal

        if not yes and not cli._confirm(f"Submit run {run.run_id} to {server}?"):
            raise RefusedError("not confirmed; nothing was submitted")
        created = ArgoServer(server, token).create(namespace, workflow)
        name = created.get("metadata", {}).get("name", workflow["metadata"]["name"])
        FleetJournal(run_file).append(
            _now(), "argo-submitted", server=server, namespace=namespace, name=name
        )
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
    from upgrader.fleet.render import status_json, status_table
    from upgrader.fleet.state import FleetJournal

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        record = _argo_record(run_file)
        if record is not None:
            from upgrader.fleet.engines.argo_status import with_requested_skips, workflow_state

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


def _now() -> float:
    from upgrader.adapters.clock import SystemClock

    return SystemClock().now()


# The commands that act on a run in flight live beside this module; importing it registers them.
from upgrader.fleet import cli_control  # noqa: E402, F401
