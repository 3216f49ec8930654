"""The `eksup` command line: parse, wire, call, render.

Commands stay thin: they build the ports (lazily, so `eksup --help` imports neither boto3 nor
the kubernetes client), call the logic, and render. Every `EksupError` becomes one line on
stderr and its exit code (see `exit_codes.py`); a user mistake never shows a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from upgrader import __version__
from upgrader.cli.help import hide_flag_types
from upgrader.cli.numbers import SECONDS, WEEK, within
from upgrader.core.errors import EksupError, UserError
from upgrader.core.exit_codes import ExitCode
from upgrader.render.console import fit

if TYPE_CHECKING:
    from strategies.ab_shadow import ExperimentReport
    from strategies.run.report import RolloutReport
    from upgrader.plan.document import Plan
    from upgrader.usecases.rollouts import RolloutPorts

app = typer.Typer(
    name="eksup",
    help="Plan and execute Amazon EKS upgrades and application rollouts, safely.",
    no_args_is_help=True,
    # `eksup --install-completion` / `--show-completion`: Typer's, for bash, zsh, fish, pwsh.
    add_completion=True,
    # Locals can hold credentials: never print them in a traceback.
    pretty_exceptions_show_locals=False,
)

hide_flag_types()

# Results go to stdout; progress, warnings and errors to stderr.
stdout = Console()
stderr = Console(stderr=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn eksup's own errors into one line on stderr and the documented exit code."""
    from upgrader.core.run.interrupts import Terminated, sigterm_interrupts

    try:
        with sigterm_interrupts():  # SIGTERM unwinds like Ctrl-C: the Lease is released
            yield
    except EksupError as error:
        # escape: a message may hold brackets (`eksup[sandbox]`) that are not rich markup.
        stderr.print(
            f"[bold red]eksup: error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt as error:
        why = "terminated (SIGTERM)" if isinstance(error, Terminated) else "interrupted"
        stderr.print(f"eksup: {why}", highlight=False)
        raise typer.Exit(ExitCode.STOPPED) from None


def _version_callback(show: bool) -> None:
    if show:
        fit(stdout)
        stdout.print(f"eksup {__version__}")
        raise typer.Exit(ExitCode.OK)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Plan and execute Amazon EKS upgrades and application rollouts, safely."""
    del version  # handled eagerly by its callback
    fit(stdout)
    fit(stderr)


@app.command()
def demo(
    fleet: Annotated[bool, typer.Option("--fleet", help="Only the fleet wave.")] = False,
) -> None:
    """The whole tool on the embedded sandbox: plan, approve and execute an upgrade, a canary,
    then a fleet wave (management -> dev -> prod) that stops when a cluster fails.

    Needs no AWS account and no cluster: everything runs in this process, on virtual time.
    """
    with reported_errors():
        if fleet:
            from upgrader.fleet.demo import run_fleet_demo

            run_fleet_demo(stdout)
            return
        from upgrader.usecases.demo import run_demo

        run_demo(stdout)


class OutputFormat(StrEnum):
    TABLE = "table"
    MARKDOWN = "markdown"
    JSON = "json"
    JUNIT = "junit"


class LogFormat(StrEnum):
    PLAIN = "plain"
    JSON = "json"


class Strategy(StrEnum):
    BLUE_GREEN = "blue-green"
    IN_PLACE = "in-place"


ClusterOption = Annotated[
    str | None,
    typer.Option("--cluster", envvar="EKSUP_CLUSTER", help="EKS cluster name."),
]
RegionOption = Annotated[
    str | None, typer.Option("--region", envvar="AWS_REGION", help="AWS region.")
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", envvar="AWS_PROFILE", help="AWS profile.")
]
ContextOption = Annotated[
    str | None,
    typer.Option(
        "--context", envvar="EKSUP_CONTEXT", help="kubeconfig context (default: current)."
    ),
]
SandboxOption = Annotated[
    bool,
    typer.Option(
        "--sandbox",
        envvar="EKSUP_SANDBOX",
        help="Use the embedded sandbox (the demo cluster), not AWS.",
    ),
]


@app.command()
def plan(
    to: Annotated[str, typer.Option("--to", help="Target Kubernetes version, e.g. 1.31.")],
    cluster: ClusterOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
    node_strategy: Annotated[
        Strategy, typer.Option("--node-strategy", help="How node groups are replaced.")
    ] = Strategy.BLUE_GREEN,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="What to print on stdout.")
    ] = OutputFormat.TABLE,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the plan (JSON) to this file.")
    ] = None,
    manifests: Annotated[
        Path | None,
        typer.Option("--manifests", help="Scan these YAML manifests for removed APIs."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default: ./.eksup.yaml).")
    ] = None,
    drain_timeout: Annotated[
        int | None,
        typer.Option(
            "--drain-timeout",
            help="Seconds a drain may take (default: config, 900); raised per node group to "
            "twice its PDB budget bound.",
            callback=within(0, above=True, high=WEEK, unit=SECONDS),
        ),
    ] = None,
    max_unavailable: Annotated[
        str | None,
        typer.Option(
            "--max-unavailable",
            help='In-place updates: nodes replaced at a time, "3" or "25%" (default: each '
            "group's own; set for the update and put back after).",
        ),
    ] = None,
    ami_type: Annotated[
        str | None,
        typer.Option(
            "--ami-type",
            help="al2023 or bottlerocket: green node groups leave Amazon Linux 2 (the way to "
            "1.33+); user data must follow (nodeadm, or TOML settings).",
        ),
    ] = None,
) -> None:
    """Read the cluster, run the pre-flight checks and write a reviewable upgrade plan.

    Reads only. Exit code 0: nothing blocks; 2: a blocking finding; 1: an error.
    """
    with reported_errors():
        made = make_plan_for(
            to,
            cluster=cluster,
            region=region,
            profile=profile,
            context=context,
            sandbox=sandbox,
            node_strategy=node_strategy.value,
            manifests=manifests,
            config_path=config,
            drain_timeout=drain_timeout,
            max_unavailable=max_unavailable,
            ami_type=ami_type,
        )
        if out is not None:
            write_text(out, made.to_json())
        emit_plan(made, output_format)
    raise typer.Exit(ExitCode.BLOCKED if made.blocking else ExitCode.OK)


def make_plan_for(
    to: str,
    *,
    cluster: str | None,
    region: str | None,
    profile: str | None,
    context: str | None,
    sandbox: bool,
    node_strategy: str,
    manifests: Path | None,
    config_path: Path | None,
    drain_timeout: int | None,
    max_unavailable: str | None = None,
    ami_type: str | None = None,
) -> Plan:
    """Discover, check and plan: the whole of `eksup plan` but the printing."""
    from upgrader.plan.ami_move import parse_family

    ami_family = parse_family(ami_type)
    if ami_family is not None and node_strategy != Strategy.BLUE_GREEN.value:
        raise UserError(
            "--ami-type needs --node-strategy blue-green: EKS cannot change a node group's "
            "AMI type in place"
        )
    from upgrader.core.aws import UpdateConfig
    from upgrader.plan.checks.config import load_config
    from upgrader.usecases.plan import plan_target
    from upgrader.usecases.targets import open_target

    if max_unavailable is not None:
        try:
            UpdateConfig.parse(max_unavailable)
        except ValueError:
            raise UserError(
                f'--max-unavailable {max_unavailable}: give a count "1"-"100" or a percentage '
                '"1%"-"100%"'
            ) from None
    settings = load_config(config_path)
    with open_target(
        cluster, region=region, profile=profile, context=context, sandbox=sandbox
    ) as target:
        return plan_target(
            target,
            to,
            node_strategy=node_strategy,
            manifests=manifests,
            config=settings,
            drain_timeout=drain_timeout,
            max_unavailable=max_unavailable,
            ami_family=ami_family,
        )


def emit_plan(made: Plan, output_format: OutputFormat) -> None:
    from upgrader.render.plan import render_json, render_junit, render_markdown
    from upgrader.render.terminal import plan_view

    if output_format is OutputFormat.TABLE:
        stdout.print(plan_view(made))
    elif output_format is OutputFormat.MARKDOWN:
        sys.stdout.write(render_markdown(made))
    elif output_format is OutputFormat.JSON:
        sys.stdout.write(render_json(made))
    else:
        sys.stdout.write(render_junit(made))


@app.command()
def schema() -> None:
    """Print the JSON Schema of the plan document (`eksup plan --format json`)."""
    from upgrader.plan.document import plan_json_schema

    sys.stdout.write(json.dumps(plan_json_schema(), indent=2) + "\n")


@app.command()
def execute(
    plan_file: Annotated[Path, typer.Argument(help="The plan `eksup plan --out` wrote.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and check everything; change nothing.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a run that stopped (journal).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before the first change.")] = False,
    take_over_lock: Annotated[
        bool, typer.Option("--take-over-lock", help="Take the lock of a run that died.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Also evict pods no controller owns (lost).")
    ] = False,
    delete_emptydir_data: Annotated[
        bool, typer.Option("--delete-emptydir-data", help="Also evict pods with emptyDir data.")
    ] = False,
    grace_period: Annotated[
        int | None,
        typer.Option(
            "--grace-period",
            help="Seconds; default: each pod's own.",
            callback=within(0, high=WEEK, unit=SECONDS),
        ),
    ] = None,
    max_grace_period: Annotated[
        int | None,
        typer.Option(
            "--max-grace-period",
            help="Cap on each pod's own grace.",
            callback=within(0, high=WEEK, unit=SECONDS),
        ),
    ] = None,
    surge: Annotated[
        bool,
        typer.Option(
            "--surge",
            help="Before a drain, raise PDB-bound Deployments' replicas so their pods move "
            "at once (originals journaled, restored after the drain or on --resume).",
        ),
    ] = False,
    skip_wait_for_delete_timeout: Annotated[
        int,
        typer.Option(
            "--skip-wait-for-delete-timeout",
            min=0,
            help="Seconds; pods deleted longer ago are not waited for (a dead kubelet). 0: wait.",
        ),
    ] = 0,
    disable_eviction: Annotated[
        bool,
        typer.Option(
            "--disable-eviction",
            help="DELETE drained pods instead of evicting them: PodDisruptionBudgets are NOT "
            "honoured. Asked in the confirmation; each deletion is journaled.",
        ),
    ] = False,
    pod_selector: Annotated[
        str | None,
        typer.Option("--pod-selector", help="Drain only the pods this label selector matches."),
    ] = None,
    replan: Annotated[
        bool,
        typer.Option(
            "--replan",
            help="Make the plan again from the cluster as it is now (same target and node "
            "strategy), keep the old one as <plan>.stale.json, and run the new one.",
        ),
    ] = False,
    cluster: ClusterOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="Progress on stderr: plain or json lines.")
    ] = LogFormat.PLAIN,
) -> None:
    """Run a plan step by step: confirm, lock, journal, resume, dry-run.

    Exit code 0: done; 1: a step failed; 2: (dry run) the real run would be blocked;
    3: refused before any change; 4: stopped part-way (re-run with --resume).
    """
    from upgrader.cli.drain_flags import drain_flags
    from upgrader.execute.steps.base import ExecuteOptions
    from upgrader.plan.checks.config import load_config
    from upgrader.plan.document import load_plan
    from upgrader.usecases.admission import region_for, target_flags
    from upgrader.usecases.execute import run_plan
    from upgrader.usecases.targets import open_target

    with reported_errors():
        if replan and resume:
            raise UserError("--replan makes a new plan, --resume continues the old one: pick one")
        plan_doc = load_plan(plan_file)
        settings = load_config(None)
        options = ExecuteOptions(
            dry_run=dry_run,
            resume=resume,
            yes=yes,
            take_over_lock=take_over_lock,
            force=force,
            delete_emptydir_data=delete_emptydir_data,
            grace_period_seconds=grace_period,
            max_grace_period_seconds=max_grace_period,
            surge=surge,
            **drain_flags(skip_wait_for_delete_timeout, disable_eviction, pod_selector),
            target_flags=target_flags(sandbox=sandbox, context=context, profile=profile),
        )
        with open_target(
            cluster or plan_doc.cluster,
            region=region_for(plan_doc, region, sandbox=sandbox),
            profile=profile,
            context=context,
            sandbox=sandbox,
        ) as target:
            if replan:
                from upgrader.usecases.replan import replan as plan_again

                again = plan_again(plan_doc, plan_file, target, settings, write=not dry_run)
                stderr.print(again.summary(), markup=False, highlight=False, soft_wrap=True)
                plan_doc = again.plan
            result = run_plan(
                plan_doc,
                plan_file,
                target,
                options,
                confirm=_confirm,
                log_format=log_format.value,
                config=settings,
            )
        stdout.print(result.summary(), highlight=False, soft_wrap=True)
    raise typer.Exit(result.exit_code)


@app.command()
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


@app.command()
def approve(
    plan_file: Annotated[Path, typer.Argument(help="The plan whose run waits at a gate.")],
    step: Annotated[
        str | None,
        typer.Option("--step", help="The approval step (default: the one the run waits at)."),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who approves (default: the AWS caller's ARN, from STS)."),
    ] = None,
    comment: Annotated[
        str, typer.Option("--comment", help="Why, for the journal (a ticket, a review).")
    ] = "",
    cluster: ClusterOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Approve the gate a stopped run waits at; `eksup execute PLAN --resume` then continues.

    Records who and when in the journal and its ConfigMap (so a run on another machine sees
    it). Runs nothing. Exit code 3: nothing waits for approval, or the journal is another
    plan's.
    """
    from upgrader.plan.checks.config import load_config
    from upgrader.plan.document import load_plan
    from upgrader.usecases.admission import admit, region_for, target_flags
    from upgrader.usecases.approve import approve as record_approval
    from upgrader.usecases.approve import approver, caller_arn
    from upgrader.usecases.targets import open_target

    def warn(message: str) -> None:
        stderr.print(f"eksup: warning: {message}", markup=False, highlight=False)

    with reported_errors():
        plan_doc = load_plan(plan_file)
        with open_target(
            cluster or plan_doc.cluster,
            region=region_for(plan_doc, region, sandbox=sandbox),
            profile=profile,
            context=context,
            sandbox=sandbox,
        ) as target:
            admit(plan_doc, plan_file, target, load_config(None))
            result = record_approval(
                plan_doc,
                plan_file,
                target.kube,
                target.clock,
                approver(by, comment, caller_arn(target.caller, warn)),
                step_id=step,
                warn=warn,
                target_flags=target_flags(sandbox=sandbox, context=context, profile=profile),
            )
        stdout.print(result.summary(str(plan_file)), markup=False, highlight=False, soft_wrap=True)


@app.command()
def rollback(
    cluster: ClusterOption = None,
    region: RegionOption = None,
    to: Annotated[
        str | None, typer.Option("--to", help="The version to go back to (default: N-1).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before the rollback.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and check everything; change nothing.")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Override ERROR rollback readiness insights and newer nodes (EKS's force).",
        ),
    ] = False,
    nodegroups: Annotated[
        bool,
        typer.Option(
            "--nodegroups", help="Roll managed node groups back first (UpdateNodegroupVersion)."
        ),
    ] = False,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Roll the control plane back one minor version, within 7 days of an in-place upgrade.

    Says plainly why not when EKS does not allow it, and what a rollback leaves to you (node
    groups, self-managed and Fargate nodes, add-ons). Exit code 0: rolled back (or, with
    --dry-run, would be); 3: refused, nothing changed; 1: failed.
    """
    from upgrader.execute.reporter import PlainReporter
    from upgrader.usecases.rollback import RollbackOptions, run_rollback
    from upgrader.usecases.targets import open_target

    with reported_errors():
        with open_target(
            cluster, region=region, profile=profile, context=context, sandbox=sandbox
        ) as target:
            options = RollbackOptions(
                to=to,
                yes=yes,
                dry_run=dry_run,
                force=force,
                nodegroups=nodegroups,
                region=target.region,
            )
            result = run_rollback(
                target.control_plane,
                target.kube,
                target.clock,
                target.cluster_name,
                options,
                reporter=PlainReporter(sys.stderr, target.clock),
                confirm=_confirm,
            )
        stdout.print(result.summary(), markup=False, highlight=False, soft_wrap=True)


def _confirm(question: str) -> bool:
    """Ask on the terminal; with no terminal to ask on, the answer is no (use --yes)."""
    if not sys.stdin.isatty():
        stderr.print(f"{question} (no terminal to ask on: pass --yes to proceed)", markup=False)
        return False
    return typer.confirm(question, default=False, err=True)


class PolicyFor(StrEnum):
    PLAN = "plan"
    DRY_RUN = "dry-run"
    EXECUTE = "execute"
    ROLLOUT = "rollout"


@app.command("iam-policy")
def iam_policy(
    command: Annotated[
        PolicyFor, typer.Argument(help="plan, dry-run (execute --dry-run), execute or rollout.")
    ],
) -> None:
    """Print the IAM policy (JSON) a command needs, derived from the AWS calls eksup makes."""
    from upgrader.adapters.aws.iam_policy import policy_json

    with reported_errors():
        sys.stdout.write(policy_json(command.value))


runbook_app = typer.Typer(help="The runbook templates plans are made from.", no_args_is_help=True)
app.add_typer(runbook_app, name="runbook")


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


rollout_app = typer.Typer(
    help="Release an application: rolling, recreate, blue/green, canary, A/B or shadow; gated, "
    "with automatic rollback.",
    no_args_is_help=True,
)
app.add_typer(rollout_app, name="rollout")
SpecArgument = Annotated[Path, typer.Argument(help="The rollout spec (YAML).")]


@rollout_app.command("plan")
def rollout_plan(spec_file: SpecArgument) -> None:
    """Validate a rollout spec and show its steps, gates and traffic provider. Reads nothing."""
    from upgrader.usecases.rollouts import describe_rollout

    with reported_errors():
        stdout.print(describe_rollout(spec_file))


YesOption = Annotated[
    bool, typer.Option("--yes", help="Do not ask before changing production traffic.")
]
TakeOverOption = Annotated[
    bool, typer.Option("--take-over-lock", help="Take the app's lock of a run that died.")
]


class StatusFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _rollout_ports(
    ctx: typer.Context, region: str | None, profile: str | None, context: str | None
) -> RolloutPorts:
    """The ports a test hands in through the context object, else AWS and the kubeconfig."""
    from upgrader.usecases.rollouts import RolloutPorts, real_ports

    if isinstance(ctx.obj, RolloutPorts):
        return ctx.obj
    return real_ports(region, profile, context)


@contextmanager
def _rollout_ports_for(
    ctx: typer.Context,
    sandbox: bool,
    region: str | None,
    profile: str | None,
    context: str | None,
    *,
    served_only: bool = False,
) -> Iterator[RolloutPorts]:
    """`--sandbox`: the served sandbox, else (run only) the demo cluster with the example
    specs' resources, embedded; see `upgrader.sandbox.rollout_ports`."""
    if not sandbox or (isinstance(ctx.obj, object) and ctx.obj is not None):
        yield _rollout_ports(ctx, region, profile, context)
        return
    from upgrader.sandbox.rollout_ports import sandbox_rollout_ports

    with sandbox_rollout_ports(served_only=served_only) as ports:
        yield ports


def _log_change(line: str) -> None:
    stderr.print(line, markup=False, highlight=False, soft_wrap=True)


def _print_report(report: RolloutReport | ExperimentReport) -> None:
    from strategies.ab_shadow import ExperimentReport

    stdout.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
    if isinstance(report, ExperimentReport):
        return  # its summary carries its notes
    for note in report.notes:
        stdout.print(f"  {note}", markup=False, highlight=False, soft_wrap=True)


def _report_exit(report: RolloutReport) -> ExitCode:
    return ExitCode.OK if report.status.value in ("succeeded", "rolled-back") else ExitCode.FAILED


@rollout_app.command("run")
def rollout_run(
    ctx: typer.Context,
    spec_file: SpecArgument,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Read everything, print each step's change; change nothing."
        ),
    ] = False,
    yes: YesOption = False,
    take_over_lock: TakeOverOption = False,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Run a rollout: move traffic step by step, check the gates, roll back on failure.

    Resumes an unfinished rollout of the app after its last completed step.
    Exit code 0: all traffic on the candidate; 1: rolled back (or failed to confirm stable);
    2: (dry run) the run would be refused (the app's lock, or rolling/recreate's Deployments)
    or roll back (a gate fails now);
    3: refused (locked, not confirmed);
    4: interrupted (run again to resume).
    """
    from upgrader.usecases.rollouts import preview_rollout, run_rollout

    with reported_errors(), _rollout_ports_for(ctx, sandbox, region, profile, context) as ports:
        if dry_run:
            shown = preview_rollout(spec_file, ports)
            for line in shown.lines():
                stdout.print(line, markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(ExitCode.BLOCKED if shown.blocked else ExitCode.OK)
        report = run_rollout(
            spec_file,
            ports,
            confirm=None if yes else _confirm,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        _print_report(report)
    raise typer.Exit(ExitCode.OK if report.status.value == "succeeded" else ExitCode.FAILED)


@rollout_app.command("status")
def rollout_status(
    ctx: typer.Context,
    spec_file: SpecArgument,
    watch: Annotated[
        bool, typer.Option("--watch", help="Poll until the rollout ends (or --timeout).")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Seconds --watch waits at most.", callback=within(0, unit=SECONDS)
        ),
    ] = None,
    output_format: Annotated[
        StatusFormat, typer.Option("--format", help="text or json.")
    ] = StatusFormat.TEXT,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Where a rollout stands (its ConfigMap) and the live weights, read from the provider.

    Exit code 0: succeeded (or nothing recorded); 1: rolled back or failed; 4: unfinished
    (running, paused, or its run killed), also --watch still going at --timeout.
    """
    from upgrader.usecases.rollouts import StatusView, read_status, watch_status

    latest: list[StatusView] = []

    def show(view: StatusView) -> None:
        # JSON is one document, the last state; text follows every change.
        if output_format is StatusFormat.JSON:
            latest[:] = [view]
            return
        for line in view.lines():
            stdout.print(line, markup=False, highlight=False, soft_wrap=True)

    with (
        reported_errors(),
        _rollout_ports_for(ctx, sandbox, region, profile, context, served_only=True) as ports,
    ):
        if watch:
            code = watch_status(spec_file, ports, timeout=timeout, show=show)
        else:
            view = read_status(spec_file, ports)
            show(view)
            code = view.exit_code
        if latest:
            sys.stdout.write(latest[-1].to_json())
        if code is ExitCode.STOPPED and watch and timeout is not None:
            stderr.print(f"eksup: still running after {timeout:g}s", highlight=False)
        elif code is ExitCode.STOPPED:
            stderr.print("eksup: the rollout is unfinished (exit 4)", highlight=False)
    raise typer.Exit(code)


@rollout_app.command("promote")
def rollout_promote(
    ctx: typer.Context,
    spec_file: SpecArgument,
    yes: YesOption = False,
    take_over_lock: TakeOverOption = False,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Skip the remaining steps: all traffic to the candidate now, read back; retire stable.

    A run in progress (holding the app's lock) is asked to do it, from any machine.
    """
    from upgrader.usecases.rollouts import promote_rollout

    with (
        reported_errors(),
        _rollout_ports_for(ctx, sandbox, region, profile, context, served_only=True) as ports,
    ):
        outcome = promote_rollout(
            spec_file,
            ports,
            confirm=None if yes else _confirm,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        if isinstance(outcome, str):
            stdout.print(outcome, markup=False, highlight=False, soft_wrap=True)
            return
        _print_report(outcome)
    raise typer.Exit(ExitCode.OK if outcome.status.value == "succeeded" else ExitCode.FAILED)


@rollout_app.command("rollback")
def rollout_rollback(
    ctx: typer.Context,
    spec_file: SpecArgument,
    yes: YesOption = False,
    take_over_lock: TakeOverOption = False,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Undo a finished rollout: scale stable back up, wait until Ready, then all traffic back
    to stable in one change, read back; the candidate is scaled down after the drain delay."""
    from upgrader.usecases.rollouts import rollback_rollout

    with (
        reported_errors(),
        _rollout_ports_for(ctx, sandbox, region, profile, context, served_only=True) as ports,
    ):
        report = rollback_rollout(
            spec_file,
            ports,
            confirm=None if yes else _confirm,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        _print_report(report)
    raise typer.Exit(_report_exit(report))


@rollout_app.command("abort")
def rollout_abort(
    ctx: typer.Context,
    spec_file: SpecArgument,
    take_over_lock: TakeOverOption = False,
    region: RegionOption = None,
    profile: ProfileOption = None,
    context: ContextOption = None,
    sandbox: SandboxOption = False,
) -> None:
    """Send all traffic back to stable now, and confirm it by reading the weights back.

    Never asks and never waits for a lock: a run in progress is told to stop."""
    from upgrader.usecases.rollouts import abort_rollout, check_abortable

    with reported_errors():
        check_abortable(spec_file)
    with (
        reported_errors(),
        _rollout_ports_for(ctx, sandbox, region, profile, context, served_only=True) as ports,
    ):
        message = abort_rollout(
            spec_file,
            ports,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        stdout.print(message, markup=False, highlight=False, soft_wrap=True)


sandbox_app = typer.Typer(
    help="The demo cluster served on loopback: its Kubernetes API and AWS side (moto).",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.callback()
def sandbox_needs_its_extra() -> None:
    # No docstring: it would replace the group's help. One line on how to install the
    # `sandbox` extra, before any command below imports it.
    from upgrader.core.sandbox_extra import require_sandbox

    with reported_errors():
        require_sandbox()


SandboxDirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar="EKSUP_SANDBOX_DIR",
        help="Where the sandbox keeps its kubeconfig, pid and log; `--sandbox` looks there too.",
    ),
]
DEFAULT_SANDBOX_DIR = Path(".eksup/sandbox")
RATE = within(0, above=True, high=10_000)  # virtual s per real s; the tickers need > 0


@sandbox_app.command("up")
def sandbox_up(
    directory: SandboxDirOption = DEFAULT_SANDBOX_DIR,
    rate: Annotated[
        float,
        typer.Option("--rate", help="Virtual seconds per real second.", callback=RATE),
    ] = 10.0,
) -> None:
    """Serve the demo cluster on loopback, in the background: its Kubernetes API and AWS (moto)."""
    from upgrader.sandbox import daemon

    with reported_errors():
        stdout.print(daemon.up(directory, rate), highlight=False, soft_wrap=True)


@sandbox_app.command("status")
def sandbox_status(directory: SandboxDirOption = DEFAULT_SANDBOX_DIR) -> None:
    """Say whether the sandbox runs and where."""
    from upgrader.sandbox import daemon

    with reported_errors():
        stdout.print(daemon.status(directory), highlight=False, soft_wrap=True)


@sandbox_app.command("down")
def sandbox_down(directory: SandboxDirOption = DEFAULT_SANDBOX_DIR) -> None:
    """Stop the sandbox."""
    from upgrader.sandbox import daemon

    with reported_errors():
        stdout.print(daemon.down(directory), highlight=False)


@sandbox_app.command("serve", hidden=True)
def sandbox_serve(
    directory: SandboxDirOption = DEFAULT_SANDBOX_DIR,
    rate: Annotated[float, typer.Option("--rate", callback=RATE)] = 10.0,
    # Only on the command line, where `sandbox down` looks for it: proof the pid is ours.
    token: Annotated[str, typer.Option("--token")] = "",  # noqa: ARG001
) -> None:
    """Serve in the foreground (what `up` starts)."""
    from upgrader.sandbox import daemon

    with reported_errors():
        daemon.serve(directory, rate)


from upgrader.fleet.cli import fleet_app  # noqa: E402 (its commands import lazily)

app.add_typer(fleet_app, name="fleet")


def write_text(path: Path, text: str) -> None:
    """Write all of `text` or nothing: a temporary file renamed into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write: {error.strerror or error}") from None


def main(argv: list[str] | None = None) -> None:
    command: Callable[..., object] = app
    command(args=argv if argv is not None else sys.argv[1:], prog_name="eksup")


if __name__ == "__main__":
    main()
