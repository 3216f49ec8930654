"""`eksup rollout ...`: release an application, gated, with automatic rollback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from upgrader.cli.numbers import SECONDS, within
from upgrader.cli.options import ContextOption, ProfileOption, RegionOption, SandboxOption
from upgrader.cli.output import confirm, reported_errors, stderr, stdout
from upgrader.core.exit_codes import ExitCode

if TYPE_CHECKING:
    from strategies.ports import RolloutPorts
    from strategies.run.report import ExperimentReport, RolloutReport

rollout_app = typer.Typer(
    help="Release an application: rolling, recreate, blue/green, canary, A/B or shadow; gated, "
    "with automatic rollback.",
    no_args_is_help=True,
)
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
    from strategies.ports import RolloutPorts
    from upgrader.usecases.rollouts import real_ports

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
    specs' resources, embedded; see `upgrader.demo.rollout_ports`."""
    if not sandbox or (isinstance(ctx.obj, object) and ctx.obj is not None):
        yield _rollout_ports(ctx, region, profile, context)
        return
    from upgrader.demo.rollout_ports import sandbox_rollout_ports

    with sandbox_rollout_ports(served_only=served_only) as ports:
        yield ports


@contextmanager
def _acting_on_rollout(
    ctx: typer.Context, sandbox: bool, region: str | None, profile: str | None, context: str | None
) -> Iterator[RolloutPorts]:
    """status, promote, rollback and abort: eksup's errors as one line and an exit code, and
    the ports (the served sandbox only: an embedded one would not hold the run's state)."""
    with (
        reported_errors(),
        _rollout_ports_for(ctx, sandbox, region, profile, context, served_only=True) as ports,
    ):
        yield ports


def _print_plain(text: str) -> None:
    """A result line on stdout, as written (no markup, no highlighting, no wrapping)."""
    stdout.print(text, markup=False, highlight=False, soft_wrap=True)


def _log_change(line: str) -> None:
    stderr.print(line, markup=False, highlight=False, soft_wrap=True)


def _print_report(report: RolloutReport | ExperimentReport) -> None:
    from strategies.run.report import ExperimentReport

    _print_plain(report.summary())
    if isinstance(report, ExperimentReport):
        return  # its summary carries its notes
    for note in report.notes:
        _print_plain(f"  {note}")


@rollout_app.command("run")
def rollout_run(
    ctx: typer.Context,
    spec_file: SpecArgument,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Run the steps on ports that change nothing: print each call it would make.",
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
    or would not succeed (a gate fails now);
    3: refused (locked, not confirmed);
    4: interrupted (run again to resume).
    """
    from upgrader.core.run.status import exit_code
    from upgrader.usecases.rollout_dry_run import dry_run_rollout
    from upgrader.usecases.rollouts import run_rollout, run_status

    with reported_errors(), _rollout_ports_for(ctx, sandbox, region, profile, context) as ports:
        if dry_run:
            shown = dry_run_rollout(spec_file, ports)
            for line in shown.lines():
                _print_plain(line)
            raise typer.Exit(exit_code(shown.status))
        report = run_rollout(
            spec_file,
            ports,
            confirm=None if yes else confirm,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        _print_report(report)
    raise typer.Exit(exit_code(run_status(report)))


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
    """Where a rollout of any strategy stands (its journal) and what the service has now: the
    weights, the A/B header route, the shadow mirror, or both Deployments (rolling, recreate).

    Exit code 0: succeeded (or nothing recorded); 1: rolled back or failed; 4: unfinished
    (running, paused, or its run killed), also --watch still going at --timeout.
    """
    from upgrader.usecases.rollout_status import StatusView, read_status, watch_status

    latest: list[StatusView] = []

    def show(view: StatusView) -> None:
        # JSON is one document, the last state; text follows every change.
        if output_format is StatusFormat.JSON:
            latest[:] = [view]
            return
        for line in view.lines():
            _print_plain(line)

    with _acting_on_rollout(ctx, sandbox, region, profile, context) as ports:
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
    from upgrader.core.run.status import exit_code
    from upgrader.usecases.rollouts import promote_rollout, run_status

    with _acting_on_rollout(ctx, sandbox, region, profile, context) as ports:
        outcome = promote_rollout(
            spec_file,
            ports,
            confirm=None if yes else confirm,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        if isinstance(outcome, str):
            _print_plain(outcome)
            return
        _print_report(outcome)
    raise typer.Exit(exit_code(run_status(outcome)))


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
    from upgrader.core.run.status import exit_code
    from upgrader.usecases.rollouts import rollback_rollout, run_status

    with _acting_on_rollout(ctx, sandbox, region, profile, context) as ports:
        report = rollback_rollout(
            spec_file,
            ports,
            confirm=None if yes else confirm,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        _print_report(report)
    raise typer.Exit(exit_code(run_status(report, done=("succeeded", "rolled-back"))))


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
    with _acting_on_rollout(ctx, sandbox, region, profile, context) as ports:
        message = abort_rollout(
            spec_file,
            ports,
            log=_log_change,
            take_over_lock=take_over_lock,
        )
        _print_plain(message)
