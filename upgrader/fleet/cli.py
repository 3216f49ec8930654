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

from upgrader.errors import RefusedError, UserError
from upgrader.exit_codes import ExitCode

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
    bool, typer.Option("--sandbox", help="Use the embedded sandbox fleet (`eksup fleet example`).")
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
        from upgrader.fleet.pool import TurnTakingPool
        from upgrader.sandbox.fleet_world import build_fleet_world, sandbox_fleet_opener
        from upgrader.sandbox.world import Sandbox

        with Sandbox() as world:
            build_fleet_world(world)
            yield sandbox_fleet_opener(world), TurnTakingPool(world.clock)
        return
    from upgrader.adapters.system_clock import SystemClock
    from upgrader.fleet.pool import ThreadPool
    from upgrader.fleet.targets import open_member

    yield open_member, ThreadPool(SystemClock())


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

    sys.stdout.write(json.dumps(fleet_run_schema(), indent=2) + "\n")


@fleet_app.command("example")
def fleet_example() -> None:
    """Print the fleet.yaml of the sandbox fleet (a management and three workload clusters)."""
    from upgrader.sandbox.fleet_world import example_fleet_yaml

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
    from upgrader.adapters.system_clock import SystemClock
    from upgrader.fleet.render import status_json, status_table
    from upgrader.fleet.state import FleetJournal

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        record = _argo_record(run_file)
        if record is not None:
            from upgrader.fleet.engines.argo_status import workflow_state

            workflow = _server(record, server, token).get(record["namespace"], record["name"])
            state = workflow_state(run, workflow)
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


@fleet_app.command("approve")
def fleet_approve(
    run_file: RunArgument,
    gate: Annotated[
        str | None, typer.Option("--gate", help="A fleet gate, e.g. prod/before/cab.")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster", help="A cluster waiting at its own gate (clusterApproval: each)."
        ),
    ] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who approves (default: the OS user).")
    ] = None,
    comment: Annotated[str, typer.Option("--comment", help="Why: a ticket, a review.")] = "",
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Approve a gate the run waits at; `eksup fleet resume` then goes on (Argo: at once)."""
    from upgrader.fleet.engines.argo import gate_task
    from upgrader.fleet.state import ClusterStatus, FleetJournal

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        if (gate is None) == (cluster is None):
            raise UserError("give --gate GATE or --cluster NAME")
        who = by or _who()
        journal = FleetJournal(run_file)
        record = _argo_record(run_file)
        if gate is not None:
            if gate not in run.gates:
                raise UserError(
                    f"no gate {gate} in run {run.run_id}: one of {', '.join(run.gates) or 'none'}"
                )
            if record is not None:
                _server(record, server, token).resume(
                    record["namespace"], record["name"], f"displayName={gate_task(gate)}"
                )
            elif gate not in journal.state().waiting_gates:
                raise RefusedError(
                    f"gate {gate} is not waiting for approval (approving ahead of time would "
                    "make it a formality)"
                )
            journal.append(_now(), "gate-approved", gate=gate, by=who, comment=comment)
            cli.stdout.print(f"{gate} approved by {who}", markup=False, highlight=False)
            return
        assert cluster is not None
        run.cluster(cluster)
        if journal.state().cluster(cluster).status is not ClusterStatus.WAITING:
            raise RefusedError(f"cluster {cluster} is not waiting at its approval gate")
        _approve_cluster(run, run_file, cluster, who, comment)
        journal.append(_now(), "cluster-approved", cluster=cluster, by=who)
        cli.stdout.print(
            f"{cluster}'s gate approved by {who}; `eksup fleet resume {_arg(run_file)}`",
            markup=False,
            highlight=False,
        )


def _now() -> float:
    from upgrader.adapters.system_clock import SystemClock

    return SystemClock().now()


def _approve_cluster(run: FleetRun, run_file: Path, name: str, who: str, comment: str) -> None:
    from upgrader.approval import approve, approver
    from upgrader.fleet.leaf import cluster_plan_file
    from upgrader.fleet.state import state_dir
    from upgrader.fleet.targets import open_member

    cluster = run.cluster(name)
    assert cluster.plan is not None
    plan_file = cluster_plan_file(state_dir(run_file), name)
    with open_member(cluster) as target:
        approve(
            cluster.plan, plan_file, target.kube, target.clock, approver(who, comment), warn=_log
        )


@fleet_app.command("stop")
def fleet_stop(
    run_file: RunArgument,
    hard: Annotated[
        bool, typer.Option("--hard", help="argo: stop the Workflow (pods are stopped too).")
    ] = False,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Stop the run: clusters in flight finish, nothing new starts; `fleet resume` goes on."""
    cli = _cli()
    with cli.reported_errors():
        _load(run_file)
        from upgrader.fleet.state import FleetJournal

        record = _argo_record(run_file)
        journal = FleetJournal(run_file)
        if record is not None:
            argo = _server(record, server, token)
            if hard:
                argo.stop(record["namespace"], record["name"], f"eksup fleet stop by {_who()}")
            else:
                argo.suspend(record["namespace"], record["name"])
        journal.append(_now(), "stop-requested", by=_who())
        cli.stdout.print(
            "stop requested: clusters in flight finish, nothing new starts", markup=False
        )


@fleet_app.command("resume")
def fleet_resume(
    run_file: RunArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before the first change.")] = False,
    server: ServerOption = None,
    token: TokenOption = None,
    wait_for_windows: Annotated[
        bool,
        typer.Option(
            "--wait-for-windows",
            help="local: wait for closed maintenance windows instead of stopping (exit 4).",
        ),
    ] = False,
    sandbox: SandboxFlag = False,
) -> None:
    """Go on with a stopped, failed or waiting run, from the first unprocessed cluster."""
    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        record = _argo_record(run_file)
        if record is not None:
            _server(record, server, token).resume(record["namespace"], record["name"])
            cli.stdout.print(f"resumed Workflow {record['name']}", markup=False)
            return
        _local(run, run_file, sandbox, yes, resume=True, wait=wait_for_windows)


@fleet_app.command("skip")
def fleet_skip(
    run_file: RunArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the journal and status.")],
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="A cluster to leave out.")
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="STAGE.GROUP to leave out.")] = None,
) -> None:
    """Leave a cluster or a group out of the run, with a reason (local engine)."""
    from upgrader.fleet.state import ClusterStatus, FleetJournal

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        if _argo_record(run_file) is not None:
            raise UserError("skip works on local runs; for a Workflow, re-plan without the cluster")
        if (cluster is None) == (group is None) or not reason.strip():
            raise UserError("give --cluster NAME or --group STAGE.GROUP, and --reason")
        journal = FleetJournal(run_file)
        who = _who()
        if cluster is not None:
            run.cluster(cluster)
            if journal.state().cluster(cluster).status in (
                ClusterStatus.RUNNING,
                ClusterStatus.SUCCEEDED,
            ):
                raise RefusedError(
                    f"cluster {cluster} is {journal.state().cluster(cluster).status.value}: "
                    "too late to skip"
                )
            journal.append(
                _now(),
                "cluster-skipped",
                cluster=cluster,
                reason=f"{reason} (skipped by {who})",
                by=who,
            )
            cli.stdout.print(f"{cluster} skipped: {reason}", markup=False)
            return
        assert group is not None
        stage_name, _, group_name = group.partition(".")
        stage = run.stage(stage_name)
        if group_name not in {g.name for g in stage.groups}:
            raise UserError(
                f"no group {group_name} in stage {stage_name}: one of "
                + ", ".join(g.name for g in stage.groups)
            )
        journal.append(
            _now(),
            "group-skipped",
            stage=stage_name,
            group=group_name,
            reason=f"{reason} (skipped by {who})",
        )
        cli.stdout.print(f"group {group} skipped: {reason}", markup=False)


@fleet_app.command("retry")
def fleet_retry(
    run_file: RunArgument,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="One failed cluster (default: all).")
    ] = None,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Mark failed clusters to run again with the same plan (from their own journals); then
    `eksup fleet resume`. Argo: retries the Workflow's failed nodes."""
    from upgrader.fleet.state import ClusterStatus, FleetJournal

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        record = _argo_record(run_file)
        if record is not None:
            _server(record, server, token).retry(record["namespace"], record["name"])
            cli.stdout.print(
                f"retrying the failed nodes of Workflow {record['name']}", markup=False
            )
            return
        journal = FleetJournal(run_file)
        state = journal.state()
        failed = [
            c.name for c in run.clusters if state.cluster(c.name).status is ClusterStatus.FAILED
        ]
        chosen = [cluster] if cluster else failed
        if cluster and cluster not in failed:
            raise RefusedError(
                f"cluster {cluster} has not failed ({state.cluster(cluster).status.value})"
            )
        if not chosen:
            raise RefusedError("no cluster of the run has failed")
        for name in chosen:
            journal.append(
                _now(), "cluster-retry", cluster=name, stage=run.cluster(name).stage, by=_who()
            )
        cli.stdout.print(
            f"will retry {', '.join(chosen)} with the same plan: "
            f"`eksup fleet resume {_arg(run_file)}`",
            markup=False,
        )


@fleet_app.command("execute-cluster", hidden=True)
def fleet_execute_cluster(
    run_file: RunArgument,
    cluster: Annotated[str, typer.Option("--cluster")],
    plan: Annotated[Path | None, typer.Option("--plan", help="The cluster's plan file.")] = None,
    context: Annotated[str | None, typer.Option("--context")] = None,
    phase: Annotated[str, typer.Option("--phase", help="all, control-plane or nodes.")] = "all",
    yes: Annotated[bool, typer.Option("--yes")] = False,
) -> None:
    """One cluster of a fleet run (an Argo step): `eksup execute --resume --yes` plus the
    fleet's approval of the cluster gate and the control-plane soak boundary."""
    from upgrader.fleet.leaf import cluster_plan_file, run_cluster
    from upgrader.fleet.state import ClusterStatus, state_dir
    from upgrader.fleet.targets import open_member
    from upgrader.steps.base import Ports

    cli = _cli()
    with cli.reported_errors():
        if phase not in ("all", "control-plane", "nodes"):
            raise UserError("--phase is all, control-plane or nodes")
        if not yes:
            raise RefusedError("a fleet step runs unattended: pass --yes")
        run = _load(run_file)
        member = run.cluster(cluster)
        if context:
            member = member.model_copy(update={"context": context})
        if phase == "all":
            member = member.model_copy(update={"soak_after_control_plane_seconds": 0})
        plan_file = plan or cluster_plan_file(state_dir(run_file), cluster)
        with open_member(member) as target:
            ports = Ports(
                target.kube,
                target.control_plane,
                target.compute,
                target.clock,
                target.kube_server_dry_run,
            )
            result = run_cluster(
                run, member, plan_file, ports, soak_done=phase == "nodes", log=_log
            )
        cli.stdout.print(f"{cluster}: {result.status.value}: {result.detail}", markup=False)
        ok = result.status in (ClusterStatus.SUCCEEDED, ClusterStatus.SOAKING)
    raise typer.Exit(ExitCode.OK if ok else ExitCode.FAILED)


@fleet_app.command("tolerate", hidden=True)
def fleet_tolerate(
    statuses: Annotated[str, typer.Argument(help="Comma-separated Argo task statuses.")],
    allowed: Annotated[int, typer.Option("--allowed")] = 0,
) -> None:
    """Argo's failure budget: exit 1 when more tasks failed than allowed."""
    failed = sum(1 for s in statuses.split(",") if s.strip() in ("Failed", "Error"))
    verdict = "within" if failed <= allowed else "more than"
    _cli().stdout.print(f"{failed} failed, {verdict} maxAllowedFailures {allowed}", markup=False)
    raise typer.Exit(ExitCode.OK if failed <= allowed else ExitCode.FAILED)
