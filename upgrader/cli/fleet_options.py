"""What the `eksup fleet` commands share: the `fleet_app` they register on, their options, the
world they open (AWS or the sandbox fleet), and the helpers that load, journal and run a
fleet run. `fleet` (plan, run, status) and `fleet_control` (what acts on a run in flight)
both import it, so neither imports the other's module.
"""

from __future__ import annotations

import getpass
import shlex
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from upgrader.core.errors import RefusedError, UserError

if TYPE_CHECKING:
    from upgrader.fleet.run_doc import FleetRun
    from upgrader.usecases.fleet.planning import Opener
    from upgrader.usecases.fleet.pool import Pool


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
        from upgrader.demo.targets import open_sandbox_fleet

        with open_sandbox_fleet() as world:
            yield world
        return
    from upgrader.adapters.clock import clock_from_environment
    from upgrader.usecases.fleet.pool import ThreadPool
    from upgrader.usecases.fleet.targets import open_member

    # A shell that sourced a served sandbox's aws.env lives on the sandbox's clock.
    yield open_member, ThreadPool(clock_from_environment())


@contextmanager
def _members(sandbox: bool) -> Iterator[Opener]:
    """How to reach one cluster of the fleet at a time, outside a run (skip, approve)."""
    with _world(sandbox) as (opener, _pool):
        yield opener


def _load(run_file: Path) -> FleetRun:
    from upgrader.fleet.run_doc import load_run

    return load_run(run_file)


def _argo_record(run_file: Path) -> dict[str, Any] | None:
    from upgrader.fleet.journal import FleetJournal

    return FleetJournal(run_file).argo_submission()


def _server(record: dict[str, Any], server: str | None, token: str | None) -> Any:
    from upgrader.adapters.argo_server import ArgoServer

    url = server or record.get("server")
    if not url:
        raise UserError("the run was rendered for Argo, not submitted: give --server to reach it")
    return ArgoServer(url, token)


def _local(
    run: FleetRun, run_file: Path, sandbox: bool, yes: bool, *, resume: bool, wait: bool
) -> None:
    from upgrader.fleet.journal import FleetJournal
    from upgrader.usecases.fleet.engines.local import LocalEngine

    cli = _cli()
    journal = FleetJournal(run_file)
    if journal.started() and not resume:
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
        from upgrader.fleet.records import Request

        # From another thread: the signal may have stopped this one inside a journal write,
        # whose file lock the request must wait for.
        why = (clock.now(), Request.STOP, f"{_who()} (Ctrl-C)")
        threading.Thread(target=journal.ask, args=why, name="fleet-stop").start()
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


def _now() -> float:
    from upgrader.adapters.clock import SystemClock

    return SystemClock().now()
