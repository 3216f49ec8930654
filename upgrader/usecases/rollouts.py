"""The `eksup rollout` use cases: wire a rollout spec to the ports, lock, confirm, call, render.

The strategies, providers, gates and the runner live in `strategies/`; this module builds their
ports (the real AWS and Kubernetes adapters, or the ones a test hands in through the CLI's
context object), takes the app's lock around every change and renders what comes back.

Every command writes the app's journal (`strategies.run.journal`: the run engine's journal, a
local file mirrored merge-on-write to the ConfigMap `eksup-rollout-<app>`) under its own run id;
the app's lock is the engine's Lease, its holder naming that run id. A `rollout promote` or
`abort` while a `rollout run` holds the lock does not wait for it: it adds a request for that
run to the journal, which the run takes and answers within `CHECK_EVERY_SECONDS`. An abort
also puts traffic on stable itself at once: the safety action never waits on anyone.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from strategies import ab, recreate, rolling, shadow
from strategies.gates.kinds import Gate, gates_for
from strategies.loop import CHECK_EVERY_SECONDS, StepLoop
from strategies.ports import RolloutPorts
from strategies.registry import steps_for
from strategies.run.journal import (
    TERMINAL,
    Actor,
    Request,
    RolloutJournal,
    config_map_name,
    journal_file,
)
from strategies.run.report import ExperimentReport, RolloutReport
from strategies.spec import AbTest, NoTraffic, Recreate, Rolling, RolloutSpec, Shadow, load_spec
from strategies.steps import Weights
from strategies.traffic.base import TrafficRouter
from strategies.traffic.factory import no_switch, provider_for, refusal, router_for
from strategies.traffic.service import warnings_for
from upgrader.core.errors import EksupError, RefusedError, UserError
from upgrader.core.kube import Lease
from upgrader.core.run.lock import ClusterLock
from upgrader.core.run.lock_holder import dead_here, holder_name
from upgrader.core.run.records import Record
from upgrader.core.run.status import RunStatus

Confirm = Callable[[str], bool]
Log = Callable[[str], None]


def real_ports(region: str | None, profile: str | None, context: str | None) -> RolloutPorts:
    from upgrader.adapters.aws.adapter import Boto3Aws
    from upgrader.adapters.clock import clock_from_environment
    from upgrader.adapters.http_probe import UrllibHttpProbe
    from upgrader.adapters.kubernetes.client import KubernetesCluster

    aws = Boto3Aws(region=region, profile=profile)
    clock = clock_from_environment()
    cluster = KubernetesCluster.from_kubeconfig(context=context, clock=clock)
    return RolloutPorts(aws, aws, aws, clock, cluster, UrllibHttpProbe())


def _checked_spec(spec_file: Path) -> RolloutSpec:
    spec = load_spec(spec_file)
    refused = refusal(spec)
    if refused:
        raise UserError(f"{spec_file}: {refused}")
    return spec


def describe_rollout(spec_file: Path) -> RenderableType:
    spec = _checked_spec(spec_file)
    gates = ", ".join(gate.kind for gate in spec.gates) or "none"
    strategy = spec.strategy
    if isinstance(strategy, AbTest | Shadow):
        # A/B and shadow move no weights: the plan says what is routed or mirrored, and when.
        table = Table(title=f"{spec.app.namespace}/{spec.app.name}: {strategy.kind}")
        table.add_column("phase")
        table.add_column("what")
        lines = ab.plan_lines(spec) if isinstance(strategy, AbTest) else shadow.plan_lines(spec)
        for phase, what in lines:
            table.add_row(phase, Text(what))
        return Group(Text(f"traffic: {spec.traffic.provider}; gates: {gates}"), table)
    if isinstance(strategy, Rolling | Recreate):
        what = rolling.describe(spec) if isinstance(strategy, Rolling) else recreate.describe(spec)
        return Text(f"{what}\ngates: {gates}")
    steps = Table(title=f"{spec.app.namespace}/{spec.app.name}: {strategy.kind}")
    for column in ("step", "stable %", "candidate %", "pause"):
        steps.add_column(column)
    for step in steps_for(strategy):
        steps.add_row(
            str(step.number),
            str(step.weights.stable),
            str(step.weights.candidate),
            f"{step.pause_seconds:.0f}s",
        )
    warnings = [Text(f"warning: {w}", style="yellow") for w in warnings_for(spec)]
    return Group(
        Text(f"traffic: {spec.traffic.provider}; gates: {gates}"),
        steps,
        *warnings,
    )


@dataclass
class _Wired:
    spec: RolloutSpec
    ports: RolloutPorts
    router: TrafficRouter
    journal: RolloutJournal
    lock: ClusterLock
    who: str
    run_id: str

    def runner(self, log: Log) -> StepLoop:
        return StepLoop(
            self.spec,
            router=self.router,
            gates=_gates(self.spec, self.ports),
            clock=self.ports.clock,
            cluster=self.ports.cluster,
            journal=self.journal,
            keepalive=self.lock.renew,
            who=self.who,
            log=log,
        )

    def actor(self) -> Actor:
        return Actor(self.who, self.ports.clock.now())


def _gates(spec: RolloutSpec, ports: RolloutPorts) -> Sequence[Gate]:
    return gates_for(
        spec,
        metrics=ports.metrics,
        load_balancers=ports.load_balancers,
        clock=ports.clock,
        cluster=ports.cluster,
        http=ports.http,
    )


def _wire(
    spec_file: Path,
    ports: RolloutPorts,
    *,
    take_over_lock: bool = False,
    weights: bool = True,
    command: str = "",
    log: Log | None = None,
) -> _Wired:
    """The spec wired to its router, journal and lock. `weights`: the command moves weights
    (promote, abort, rollback, status), which A/B, shadow, rolling and recreate refuse with
    the reason and what to use instead. `command` names a command that may write the journal
    (its local file too); without one the journal is read from the ConfigMap only."""
    spec = _checked_spec(spec_file)
    if weights:
        provider_for(
            spec,
            load_balancers=ports.load_balancers,
            dns=ports.dns,
            clock=ports.clock,
            cluster=ports.cluster,
        )
    router = router_for(
        spec,
        load_balancers=ports.load_balancers,
        dns=ports.dns,
        clock=ports.clock,
        cluster=ports.cluster,
    )
    who = holder_name()
    run_id = f"r-{uuid.uuid4().hex[:8]}"
    app = spec.app
    journal = RolloutJournal(
        ports.cluster,
        ports.clock,
        app.namespace,
        app.name,
        run_id=run_id,
        who=who,
        path=journal_file(app.namespace, app.name) if command else None,
        command=command or "read",
        on_error=log or _quiet,
    )
    lock = ClusterLock(
        ports.cluster,
        ports.clock,
        f"{who} run {run_id}",
        take_over_stale=take_over_lock,
        namespace=app.namespace,
        name=config_map_name(app.name),
        what=f"rollout of {app.namespace}/{app.name}",
    )
    return _Wired(spec, ports, router, journal, lock, who, run_id)


@contextmanager
def _locked(
    wired: _Wired, confirm: Confirm | None, question: str, log: Log | None = None
) -> Iterator[None]:
    """Refuse if another run holds the app, ask (unless `confirm` is None), hold the lease."""
    lock = wired.lock
    blocker = lock.blocker()
    if blocker is not None:
        raise RefusedError(blocker)
    if confirm is not None and not confirm(question):
        raise RefusedError("not confirmed; nothing was changed")
    lock.acquire()
    if lock.notice is not None and log is not None:
        log(lock.notice)
    try:
        yield
    finally:
        lock.release()


# ------------------------------------------------------------------------------- commands


def _question(wired: _Wired, loop: StepLoop) -> str:
    spec, app = wired.spec, _app(wired.spec)
    if loop.route is not None:
        what = "route matching requests" if loop.route == "header" else "mirror traffic"
        return f"{what.capitalize()} of {app} to the candidate ({spec.strategy.kind})?"
    if loop.moves_pods:
        moves = rolling.describe(spec) if isinstance(spec.strategy, Rolling) else None
        return f"Replace {app} with the candidate ({moves or recreate.describe(spec)})?"
    current = wired.journal.read()
    where = (
        f"resume after step {current.step} of {len(loop.steps)}"
        if current is not None and current.resumable
        else f"{len(loop.steps)} steps"
    )
    return (
        f"Move production traffic of {app} to the candidate "
        f"({spec.strategy.kind} on {wired.router.name}, {where})?"
    )


def run_rollout(
    spec_file: Path,
    ports: RolloutPorts,
    *,
    confirm: Confirm | None,
    log: Log,
    take_over_lock: bool = False,
) -> RolloutReport | ExperimentReport:
    """Run or resume any strategy through the one step loop; `confirm=None` means --yes."""
    wired = _wire(
        spec_file, ports, take_over_lock=take_over_lock, weights=False, command="run", log=log
    )
    runner = wired.runner(log)
    question = _question(wired, runner)
    zero = _zero_sum_note(wired)
    if zero and confirm is None:
        raise RefusedError(
            f"{_app(wired.spec)}: {zero}. Refused with --yes: set the stable record's weight "
            "first, or run without --yes to confirm starting from there"
        )
    if zero:
        question = f"{zero}. {question}"
    with _locked(wired, confirm, question, log):
        return runner.run()


def promote_rollout(
    spec_file: Path,
    ports: RolloutPorts,
    *,
    confirm: Confirm | None,
    log: Log,
    take_over_lock: bool = False,
) -> RolloutReport | ExperimentReport | str:
    """Skip the remaining steps; a run in progress is asked to do it (returns a message)."""
    wired = _wire(spec_file, ports, take_over_lock=take_over_lock, command="promote", log=log)
    question = f"Send ALL production traffic of {_app(wired.spec)} to the candidate now?"
    _finish_for_the_dead(wired, log)
    holder = wired.lock.live_holder()
    if holder is not None:
        if confirm is not None and not confirm(question):
            raise RefusedError("not confirmed; nothing was changed")
        _ask(wired, Request.PROMOTE, holder)
        return (
            f"{_app(wired.spec)}: promote requested; the run of {holder.holder} promotes "
            f"within {CHECK_EVERY_SECONDS:g}s (follow it with `eksup rollout status --watch`)"
        )
    runner = wired.runner(log)
    with _locked(wired, confirm, question):
        return runner.promote(wired.actor())


def rollback_rollout(
    spec_file: Path,
    ports: RolloutPorts,
    *,
    confirm: Confirm | None,
    log: Log,
    take_over_lock: bool = False,
) -> RolloutReport:
    wired = _wire(spec_file, ports, take_over_lock=take_over_lock, command="rollback", log=log)
    runner = wired.runner(log)
    question = f"Roll {_app(wired.spec)} back: scale stable up, then ALL traffic back to stable?"
    _finish_for_the_dead(wired, log)
    with _locked(wired, confirm, question):
        return runner.rollback(wired.actor())


def check_abortable(spec_file: Path) -> None:
    """What abort cannot do, said before any connection is made."""
    spec = _checked_spec(spec_file)
    if isinstance(spec.traffic, NoTraffic):
        raise UserError(no_switch(spec))


def abort_rollout(
    spec_file: Path, ports: RolloutPorts, *, log: Log, take_over_lock: bool = False
) -> str:
    """All traffic on stable now, never refused for a lock: the safety action."""
    wired = _wire(
        spec_file, ports, take_over_lock=take_over_lock, weights=False, command="abort", log=log
    )
    runner = wired.runner(log)
    if runner.route is not None:
        # A/B and shadow: remove the route (the header rule, the mirror) and read it back.
        return runner.end_route()
    app = _app(wired.spec)
    before = _zero_sum_note(wired)
    if before:
        log(f"{app}: {before}; abort sets stable to all traffic")
    _finish_for_the_dead(wired, log)
    holder = wired.lock.live_holder()
    if holder is not None:
        # The request first: a weight the run writes after our switch is then undone by it.
        request = _ask(wired, Request.ABORT, holder)
        report = runner.abort(wired.actor(), record=False)
        on_stable = f"all traffic on stable ({wired.router.name} reads {report.final_weights})"
        if _live_run_takes_it(wired, holder, request):
            return (
                f"{app}: {on_stable}; the run of {holder.holder} took the abort and scales the "
                "candidate down after the drain delay (`eksup rollout status --watch` follows it)"
            )
        log(f"{app}: the run of {holder.holder} did not take the abort and is gone; finishing")
        _finish_for_the_dead(wired, log)
    current = wired.journal.read()
    unfinished = current is not None and current.resumable
    if wired.lock.blocker() is not None:
        # A live lease we could not prove dead: traffic is on stable; its run records the end.
        report = runner.abort(wired.actor())
    else:
        with _locked(wired, None, ""):
            # An unfinished rollout is ended as its run would have ended it: the candidate is
            # scaled down after the drain delay, the state rolled-back, any request cleared.
            report = runner.abort(wired.actor(), retire=unfinished)
            if unfinished and current is not None:
                wired.journal.answer_all(current.run, f"aborted by {wired.who}")
    return f"{app}: all traffic on stable ({wired.router.name} reads {report.final_weights})"


def _finish_for_the_dead(wired: _Wired, log: Log) -> None:
    """A run killed while holding the app leaves a lease nobody renews: make it takeable, so
    this command finishes the work instead of handing it to a run that will never do it."""
    why = wired.lock.gone()
    if why:
        wired.lock.take_over_stale = True  # a provably dead holder is taken over anyway
        log(f"{_app(wired.spec)}: {why}; this command finishes its work")


def _quiet(_: str) -> None:
    """A command that reads only (status) reports nothing of the journal's mirror."""


_RUN_OF_HOLDER = re.compile(r" run (?P<run>\S+)$")


def _ask(wired: _Wired, request: Request, holder: Lease) -> Record:
    """Add a request for the holder's run to the journal (its ConfigMap)."""
    match = _RUN_OF_HOLDER.search(holder.holder)
    current = wired.journal.read()
    # A holder that names no run (an earlier eksup): the run that last started.
    run = match.group("run") if match else (current.run if current is not None else "")
    return wired.journal.request(request, wired.actor(), run)


def _live_run_takes_it(wired: _Wired, holder: Lease, request: Record) -> bool:
    """Wait for the holding run to answer the abort (within CHECK_EVERY_SECONDS) or to end the
    rollout; False once it is known dead (its lease expired or its process is gone), or after
    its lease's duration without a word."""
    clock = wired.ports.clock
    give_up = clock.now() + holder.duration_seconds + 2 * CHECK_EVERY_SECONDS
    while clock.now() < give_up:
        if wired.journal.answered(request) is not None:
            return True
        current = wired.journal.read()
        if current is None or current.phase in TERMINAL:
            return True
        if dead_here(holder.holder, wired.lock.processes) or wired.lock.live_holder() is None:
            return False
        clock.sleep(CHECK_EVERY_SECONDS)
    return False


def zero_sum_text(weights: Weights) -> str:
    """Route 53 with every weight 0 answers with each record equally: say so, never "0 / 0"
    alone ("If you set Weight to 0 for all of the records in the group, traffic is routed to
    all resources with equal probability": Route 53 Developer Guide, values specific for
    weighted records, Weight)."""
    return (
        f"{weights}: every weight is 0, so Route 53 answers with each record equally "
        "(about half the traffic on the candidate)"
    )


def _zero_sum_note(wired: _Wired) -> str:
    if wired.router.name != "route53":
        return ""
    try:
        live = wired.router.read_weights()
    except EksupError:
        return ""
    return zero_sum_text(live) if live.total == 0 else ""


def run_status(
    report: RolloutReport | ExperimentReport, *, done: tuple[str, ...] = ("succeeded",)
) -> RunStatus:
    """How a rollout command ended, in the run engine's terms (`exit_code` gives its code).
    `done`: the report statuses that mean the command did what it was asked: all traffic on
    the candidate for `run` and `promote`; also back on stable for `rollback`."""
    return RunStatus.SUCCEEDED if report.status.value in done else RunStatus.FAILED


def _app(spec: RolloutSpec) -> str:
    return f"{spec.app.namespace}/{spec.app.name}"
