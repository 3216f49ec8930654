"""`eksup fleet approve|stop|resume|skip|retry` and the hidden commands an Argo step runs:
what acts on a fleet run once it exists. Registered on `fleet_app` by `upgrader.cli.fleet`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from upgrader.cli.fleet_options import (
    RunArgument,
    SandboxFlag,
    ServerOption,
    TokenOption,
    _arg,
    _argo_record,
    _cli,
    _load,
    _local,
    _log,
    _members,
    _now,
    _server,
    _who,
    fleet_app,
)
from upgrader.core.errors import RefusedError, UserError
from upgrader.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from upgrader.fleet.run_doc import FleetRun


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
    sandbox: SandboxFlag = False,
) -> None:
    """Approve a gate the run waits at; `eksup fleet resume` then goes on (Argo: at once)."""
    from upgrader.fleet.journal import FleetJournal
    from upgrader.fleet.records import cluster_step, gate_step
    from upgrader.fleet.state import ClusterStatus
    from upgrader.usecases.fleet.engines.argo import gate_task

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
            journal.approve(_now(), gate_step(gate), who, comment)
            cli.stdout.print(f"{gate} approved by {who}", markup=False, highlight=False)
            return
        assert cluster is not None
        run.cluster(cluster)
        if journal.state().cluster(cluster).status is not ClusterStatus.WAITING:
            raise RefusedError(f"cluster {cluster} is not waiting at its approval gate")
        _approve_cluster(run, run_file, cluster, who, comment, sandbox)
        journal.approve(_now(), cluster_step(cluster), who)
        cli.stdout.print(
            f"{cluster}'s gate approved by {who}; `eksup fleet resume {_arg(run_file)}`",
            markup=False,
            highlight=False,
        )


def _approve_cluster(
    run: FleetRun, run_file: Path, name: str, who: str, comment: str, sandbox: bool
) -> None:
    """The cluster plan's own gate, approved as `eksup approve` would: in its journal and in
    the cluster's copy of it."""
    from upgrader.fleet.state import state_dir
    from upgrader.usecases.approve import approve, approver
    from upgrader.usecases.fleet.leaf import cluster_plan_file

    cluster = run.cluster(name)
    assert cluster.plan is not None
    plan_file = cluster_plan_file(state_dir(run_file), name)
    with _members(sandbox) as opener, opener(cluster) as target:
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
        from upgrader.fleet.journal import FleetJournal
        from upgrader.fleet.records import Request

        record = _argo_record(run_file)
        journal = FleetJournal(run_file)
        if record is not None:
            argo = _server(record, server, token)
            if hard:
                argo.stop(record["namespace"], record["name"], f"eksup fleet stop by {_who()}")
            else:
                argo.suspend(record["namespace"], record["name"])
        journal.ask(_now(), Request.STOP, _who())
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
    server: ServerOption = None,
    token: TokenOption = None,
    sandbox: SandboxFlag = False,
) -> None:
    """Leave a cluster or a group out of the run, with a reason. On Argo the cluster is marked
    in its own cluster and its step skips it when it starts (a failed one: `fleet retry`)."""
    from upgrader.fleet.journal import FleetJournal
    from upgrader.fleet.records import Request, cluster_step, group_step
    from upgrader.fleet.state import ClusterStatus

    cli = _cli()
    with cli.reported_errors():
        run = _load(run_file)
        if (cluster is None) == (group is None) or not reason.strip():
            raise UserError("give --cluster NAME or --group STAGE.GROUP, and --reason")
        journal = FleetJournal(run_file)
        record = _argo_record(run_file)
        state = journal.state()
        if record is not None:
            from upgrader.usecases.fleet.engines.argo_status import workflow_state

            argo = _server(record, server, token)
            state = workflow_state(run, argo.get(record["namespace"], record["name"]))
        who = _who()
        if cluster is not None:
            names = [cluster]
            run.cluster(cluster)
        else:
            assert group is not None
            stage_name, _, group_name = group.partition(".")
            stage = run.stage(stage_name)
            found = [g for g in stage.groups if g.name == group_name]
            if not found:
                raise UserError(
                    f"no group {group_name} in stage {stage_name}: one of "
                    + ", ".join(g.name for g in stage.groups)
                )
            names = found[0].members
        late = [
            n
            for n in names
            if state.cluster(n).status in (ClusterStatus.RUNNING, ClusterStatus.SUCCEEDED)
        ]
        if cluster is not None and late:
            raise RefusedError(
                f"cluster {cluster} is {state.cluster(cluster).status.value}: too late to skip"
            )
        why = f"{reason} (skipped by {who})"
        if record is not None:
            _mark_skipped(run, [n for n in names if n not in late], why, sandbox)
        if cluster is not None:
            journal.ask(_now(), Request.SKIP, who, cluster_step(cluster), why)
            cli.stdout.print(f"{cluster} skipped: {reason}", markup=False)
            return
        assert group is not None
        journal.ask(_now(), Request.SKIP, who, group_step(*group.split(".", 1)), why)
        if record is not None:
            for name in names:
                if name not in late:
                    journal.ask(_now(), Request.SKIP, who, cluster_step(name), why)
        cli.stdout.print(f"group {group} skipped: {reason}", markup=False)


def _mark_skipped(run: FleetRun, names: list[str], why: str, sandbox: bool) -> None:
    """Mark each cluster in its own cluster, where its Argo step looks before it starts."""
    from upgrader.usecases.fleet.engines.argo_guard import write_skip_marker

    with _members(sandbox) as opener:
        for name in names:
            with opener(run.cluster(name)) as target:
                write_skip_marker(target.kube, run, name, why)


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
    from upgrader.fleet.journal import FleetJournal
    from upgrader.fleet.records import Request, cluster_step
    from upgrader.fleet.state import ClusterStatus

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
            stage = run.cluster(name).stage
            journal.ask(_now(), Request.RETRY, _who(), cluster_step(name), stage=stage)
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
    workflow: Annotated[
        str | None,
        typer.Option("--workflow", help="NAMESPACE/NAME of the Workflow this step runs in."),
    ] = None,
    outcome_file: Annotated[
        Path | None, typer.Option("--outcome-file", help="Where to write the step's outcome.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes")] = False,
) -> None:
    """One cluster of a fleet run (an Argo step): the fleet's rules (skip, allowances,
    upstream) read from its own Workflow, then `eksup execute --resume --yes` plus the fleet's
    approval of the cluster gate and the control-plane soak boundary."""
    from upgrader.fleet.state import state_dir
    from upgrader.usecases.fleet.engines.argo_step import argo_step, step_ok
    from upgrader.usecases.fleet.leaf import cluster_plan_file
    from upgrader.usecases.fleet.targets import open_member

    cli = _cli()
    with cli.reported_errors():
        if phase not in ("all", "control-plane", "nodes"):
            raise UserError("--phase is all, control-plane or nodes")
        if not yes:
            raise RefusedError("a fleet step runs unattended: pass --yes")
        read = _workflow_reader(workflow)
        run = _load(run_file)
        member = run.cluster(cluster)
        if context:
            member = member.model_copy(update={"context": context})
        if phase == "all":
            member = member.model_copy(update={"soak_after_control_plane_seconds": 0})
        plan_file = plan or cluster_plan_file(state_dir(run_file), cluster)
        with open_member(member) as target:
            verdict = argo_step(
                run,
                member,
                plan_file,
                target,
                soak_done=phase == "nodes",
                read_workflow=read,
                log=_log,
            )
        if outcome_file is not None:
            outcome_file.write_text(verdict.outcome, encoding="utf-8")
        cli.stdout.print(f"{cluster}: {verdict.outcome}", markup=False)
    raise typer.Exit(ExitCode.OK if step_ok(verdict) else ExitCode.FAILED)


def _workflow_reader(workflow: str | None) -> Callable[[], dict[str, Any]] | None:
    if workflow is None:
        return None
    namespace, _, name = workflow.partition("/")
    if not namespace or not name:
        raise UserError(f"--workflow {workflow!r}: give NAMESPACE/NAME")
    from upgrader.adapters.argo_workflow import read_own_workflow

    return lambda: read_own_workflow(namespace, name)


@fleet_app.command("tolerate", hidden=True)
def fleet_tolerate(
    statuses: Annotated[
        str, typer.Argument(help="Comma-separated Argo task statuses, or groups' failure counts.")
    ],
    allowed: Annotated[int, typer.Option("--allowed")] = 0,
    count_file: Annotated[
        Path | None, typer.Option("--count-file", help="Write the number of failures here.")
    ] = None,
) -> None:
    """Argo's failure budget: exit 1 when more tasks failed than allowed."""
    tokens = [s.strip() for s in statuses.split(",") if s.strip()]
    failed = sum(int(t) if t.isdigit() else t in ("Failed", "Error") for t in tokens)
    if count_file is not None:
        count_file.write_text(str(failed), encoding="utf-8")
    verdict = "within" if failed <= allowed else "more than"
    _cli().stdout.print(f"{failed} failed, {verdict} maxAllowedFailures {allowed}", markup=False)
    raise typer.Exit(ExitCode.OK if failed <= allowed else ExitCode.FAILED)
