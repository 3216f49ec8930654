"""The `eksup rollout` use cases: wire a rollout spec to the ports, lock, confirm, call, render.

The strategies, providers, gates and the runner live in `strategies/`; this module builds their
ports (the real AWS and Kubernetes adapters, or the ones a test hands in through the CLI's
context object), takes the app's lock around every change and renders what comes back.

A `rollout promote` or `abort` while a `rollout run` holds the app's lock does not wait for
it: it leaves a request in the app's rollout ConfigMap, which that run acts on within
`CHECK_EVERY_SECONDS`. An abort also puts traffic on stable itself at once: the safety action
never waits on anyone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from strategies.gates.kinds import Gate, gates_for
from strategies.preview import Shown, preview, preview_compute, preview_experiment
from strategies.registry import steps_for
from strategies.run.liveness import free_dead_holder, process_gone
from strategies.run.lock import holder_name, live_holder, rollout_lock
from strategies.run.pods import ComputeRunner, build_compute_runner, describe_compute
from strategies.run.report import RolloutReport
from strategies.run.routes import (
    ExperimentReport,
    ExperimentRunner,
    build_experiment,
    end_experiment,
    is_experiment,
    plan_lines,
)
from strategies.run.state import TERMINAL, Actor, Journal, Phase, Request, RolloutState
from strategies.run.weights import CHECK_EVERY_SECONDS, RolloutRunner
from strategies.spec import COMPUTE_STRATEGIES, AbTest, NoTraffic, RolloutSpec, load_spec
from strategies.steps import Weights
from strategies.traffic.base import TrafficProvider
from strategies.traffic.factory import no_switch, provider_for, refusal
from strategies.traffic.service import warnings_for
from upgrader.core.errors import EksupError, RefusedError, UserError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import Lease
from upgrader.core.ports import Clock, Cluster, Dns, HttpProbe, LoadBalancers, Metrics
from upgrader.core.run.lock import ClusterLock, describe
from upgrader.execute.progress import HEARTBEAT_SECONDS

Confirm = Callable[[str], bool]
Log = Callable[[str], None]

# Between two reads of `rollout status --watch`.
WATCH_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class RolloutPorts:
    """Everything a rollout command talks to."""

    load_balancers: LoadBalancers
    dns: Dns
    metrics: Metrics
    clock: Clock
    cluster: Cluster
    http: HttpProbe | None = None  # for http-probe gates


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
    if is_experiment(spec):
        return _describe_experiment(spec)
    if isinstance(spec.strategy, COMPUTE_STRATEGIES):
        gates = ", ".join(gate.kind for gate in spec.gates) or "none"
        return Text(f"{describe_compute(spec)}\ngates: {gates}")
    steps = Table(title=f"{spec.app.namespace}/{spec.app.name}: {spec.strategy.kind}")
    for column in ("step", "stable %", "candidate %", "pause"):
        steps.add_column(column)
    for step in steps_for(spec.strategy):
        steps.add_row(
            str(step.number),
            str(step.weights.stable),
            str(step.weights.candidate),
            f"{step.pause_seconds:.0f}s",
        )
    gates = ", ".join(gate.kind for gate in spec.gates) or "none"
    warnings = [Text(f"warning: {w}", style="yellow") for w in warnings_for(spec)]
    return Group(
        Text(f"traffic: {spec.traffic.provider}; gates: {gates}"),
        steps,
        *warnings,
    )


def _describe_experiment(spec: RolloutSpec) -> RenderableType:
    """A/B and shadow move no weights: the plan says what is routed or mirrored, and when."""
    table = Table(title=f"{spec.app.namespace}/{spec.app.name}: {spec.strategy.kind}")
    table.add_column("phase")
    table.add_column("what")
    for phase, what in plan_lines(spec):
        table.add_row(phase, Text(what))
    gates = ", ".join(gate.kind for gate in spec.gates) or "none"
    return Group(Text(f"traffic: {spec.traffic.provider}; gates: {gates}"), table)


@dataclass
class _Wired:
    spec: RolloutSpec
    ports: RolloutPorts
    provider: TrafficProvider
    journal: Journal
    lock: ClusterLock
    who: str

    def runner(self, log: Log) -> RolloutRunner:
        gates = _gates(self.spec, self.ports)
        return RolloutRunner(
            self.spec,
            provider=self.provider,
            gates=gates,
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


def _wire(spec_file: Path, ports: RolloutPorts, *, take_over_lock: bool = False) -> _Wired:
    spec = _checked_spec(spec_file)
    provider = provider_for(
        spec,
        load_balancers=ports.load_balancers,
        dns=ports.dns,
        clock=ports.clock,
        cluster=ports.cluster,
    )
    journal = Journal(ports.cluster, spec.app.namespace, spec.app.name)
    who = holder_name()
    lock = rollout_lock(ports.cluster, ports.clock, spec, who, take_over_stale=take_over_lock)
    return _Wired(spec, ports, provider, journal, lock, who)


@contextmanager
def _locked(
    wired: _Wired, confirm: Confirm | None, question: str, log: Log | None = None
) -> Iterator[None]:
    with _holding(wired.lock, confirm, question, log):
        yield


@contextmanager
def _holding(
    lock: ClusterLock, confirm: Confirm | None, question: str, log: Log | None = None
) -> Iterator[None]:
    """Refuse if another run holds the app, ask (unless `confirm` is None), hold the lease."""
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


def run_rollout(
    spec_file: Path,
    ports: RolloutPorts,
    *,
    confirm: Confirm | None,
    log: Log,
    take_over_lock: bool = False,
) -> RolloutReport | ExperimentReport:
    """Run or resume; `confirm=None` means --yes."""
    spec = _checked_spec(spec_file)
    if is_experiment(spec):
        return _run_experiment(spec, ports, confirm=confirm, take_over_lock=take_over_lock, log=log)
    if isinstance(spec.strategy, COMPUTE_STRATEGIES):
        return _run_compute(spec, ports, confirm=confirm, log=log, take_over_lock=take_over_lock)
    wired = _wire(spec_file, ports, take_over_lock=take_over_lock)
    runner = wired.runner(log)
    current = wired.journal.read()
    where = (
        f"resume after step {current.step} of {len(runner.steps)}"
        if current is not None and current.resumable
        else f"{len(runner.steps)} steps"
    )
    question = (
        f"Move production traffic of {_app(wired.spec)} to the candidate "
        f"({wired.spec.strategy.kind} on {wired.provider.name}, {where})?"
    )
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


def _run_compute(
    spec: RolloutSpec,
    ports: RolloutPorts,
    *,
    confirm: Confirm | None,
    log: Log,
    take_over_lock: bool,
) -> RolloutReport:
    """Rolling and recreate: pods move, not weights; under the app's lease like the others."""
    runner = _compute_runner(spec, ports, log)
    lock = _app_lock(spec, ports, take_over_lock)
    question = f"Replace {_app(spec)} with the candidate ({describe_compute(spec)})?"
    with _holding(lock, confirm, question, log):
        return runner.run()


def _app_lock(spec: RolloutSpec, ports: RolloutPorts, take_over_lock: bool) -> ClusterLock:
    return rollout_lock(
        ports.cluster, ports.clock, spec, holder_name(), take_over_stale=take_over_lock
    )


def _quiet(_: str) -> None:
    """A dry run logs no change: it makes none."""


def _compute_runner(spec: RolloutSpec, ports: RolloutPorts, log: Log = _quiet) -> ComputeRunner:
    """Rolling and recreate wired the same for a run and its dry run."""
    return build_compute_runner(
        spec,
        metrics=ports.metrics,
        load_balancers=ports.load_balancers,
        clock=ports.clock,
        cluster=ports.cluster,
        http=ports.http,
        log=log,
    )


def _experiment_runner(spec: RolloutSpec, ports: RolloutPorts) -> ExperimentRunner:
    """A/B and shadow wired the same for a run and its dry run."""
    return build_experiment(
        spec,
        load_balancers=ports.load_balancers,
        metrics=ports.metrics,
        clock=ports.clock,
        cluster=ports.cluster,
    )


def _run_experiment(
    spec: RolloutSpec,
    ports: RolloutPorts,
    *,
    confirm: Confirm | None,
    take_over_lock: bool,
    log: Log | None = None,
) -> ExperimentReport:
    """A/B and shadow: route on, bake, gates, then the route's end (not journaled: a run that
    dies mid-way is ended by `rollout abort`, which removes the route)."""
    runner = _experiment_runner(spec, ports)
    lock = _app_lock(spec, ports, take_over_lock)
    what = "route matching requests" if isinstance(spec.strategy, AbTest) else "mirror traffic"
    question = f"{what.capitalize()} of {_app(spec)} to the candidate ({spec.strategy.kind})?"
    with _holding(lock, confirm, question, log):
        return runner.run()


def preview_rollout(spec_file: Path, ports: RolloutPorts) -> Shown:
    """`rollout run --dry-run`: each strategy wired as its run wires it, read, not run."""
    spec = _checked_spec(spec_file)
    if is_experiment(spec) or isinstance(spec.strategy, COMPUTE_STRATEGIES):
        lock = _app_lock(spec, ports, take_over_lock=False)
        if is_experiment(spec):
            runner = _experiment_runner(spec, ports)
            return preview_experiment(spec, route=runner.route, gates=runner.gates, lock=lock)
        return preview_compute(_compute_runner(spec, ports), lock=lock)
    wired = _wire(spec_file, ports)
    gates = _gates(wired.spec, ports)
    return preview(
        wired.spec,
        provider=wired.provider,
        gates=tuple(gates),
        journal=wired.journal,
        lock=wired.lock,
        cluster=ports.cluster,
    )


def promote_rollout(
    spec_file: Path,
    ports: RolloutPorts,
    *,
    confirm: Confirm | None,
    log: Log,
    take_over_lock: bool = False,
) -> RolloutReport | str:
    """Skip the remaining steps; a run in progress is asked to do it (returns a message)."""
    wired = _wire(spec_file, ports, take_over_lock=take_over_lock)
    question = f"Send ALL production traffic of {_app(wired.spec)} to the candidate now?"
    _finish_for_the_dead(wired, log)
    holder = live_holder(wired.lock)
    if holder is not None:
        if confirm is not None and not confirm(question):
            raise RefusedError("not confirmed; nothing was changed")
        wired.journal.request(Request.PROMOTE, wired.actor())
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
    wired = _wire(spec_file, ports, take_over_lock=take_over_lock)
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
    spec = _checked_spec(spec_file)
    if is_experiment(spec):
        # A/B and shadow: remove the route (the header rule, the mirror) and read it back.
        return end_experiment(
            spec, load_balancers=ports.load_balancers, cluster=ports.cluster, clock=ports.clock
        )
    wired = _wire(spec_file, ports, take_over_lock=take_over_lock)
    runner = wired.runner(log)
    app = _app(wired.spec)
    before = _zero_sum_note(wired)
    if before:
        log(f"{app}: {before}; abort sets stable to all traffic")
    _finish_for_the_dead(wired, log)
    holder = live_holder(wired.lock)
    if holder is not None:
        # The request first: a weight the run writes after our switch is then undone by it.
        wired.journal.request(Request.ABORT, wired.actor())
        report = runner.abort(wired.actor(), record=False)
        on_stable = f"all traffic on stable ({wired.provider.name} reads {report.final_weights})"
        if _live_run_takes_it(wired, holder):
            return (
                f"{app}: {on_stable}; the run of {holder.holder} took the abort and scales the "
                "candidate down after the drain delay (`eksup rollout status --watch` follows it)"
            )
        log(f"{app}: the run of {holder.holder} did not take the abort and is gone; finishing")
        _finish_for_the_dead(wired, log)
    unfinished = (current := wired.journal.read()) is not None and current.resumable
    if wired.lock.blocker() is not None:
        # A live lease we could not prove dead: traffic is on stable; its run records the end.
        report = runner.abort(wired.actor())
    else:
        with _locked(wired, None, ""):
            # An unfinished rollout is ended as its run would have ended it: the candidate is
            # scaled down after the drain delay, the state rolled-back, any request cleared.
            report = runner.abort(wired.actor(), retire=unfinished)
            if unfinished:
                wired.journal.clear_request()
    return f"{app}: all traffic on stable ({wired.provider.name} reads {report.final_weights})"


def _finish_for_the_dead(wired: _Wired, log: Log) -> None:
    """A run killed while holding the app leaves a lease nobody renews: make it takeable, so
    this command finishes the work instead of handing it to a run that will never do it."""
    why = free_dead_holder(wired.lock)
    if why:
        log(f"{_app(wired.spec)}: {why}; this command finishes its work")


def _live_run_takes_it(wired: _Wired, holder: Lease) -> bool:
    """Wait for the holding run to acknowledge the abort (it clears the request within
    CHECK_EVERY_SECONDS) or to end the rollout; False once it is known dead (its lease
    expired or its process is gone), or after its lease's duration without a word."""
    clock = wired.ports.clock
    give_up = clock.now() + holder.duration_seconds + 2 * CHECK_EVERY_SECONDS
    while clock.now() < give_up:
        current = wired.journal.read()
        if current is None or current.request is None or current.phase in TERMINAL:
            return True
        if process_gone(holder.holder) or live_holder(wired.lock) is None:
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
    if wired.provider.name != "route53":
        return ""
    try:
        live = wired.provider.read()
    except EksupError:
        return ""
    return zero_sum_text(live) if live.total == 0 else ""


# ------------------------------------------------------------------------------- status


@dataclass(frozen=True)
class StatusView:
    app: str
    state: RolloutState | None
    live: Weights | None
    live_error: str
    lock: str
    provider: str = ""

    @property
    def terminal(self) -> bool:
        return self.state is not None and self.state.phase in TERMINAL

    @property
    def exit_code(self) -> ExitCode:
        """0 succeeded (or nothing recorded), 1 rolled back or failed, 4 unfinished (running,
        paused, or killed mid-way): CI waits on a non-zero code, never on a half-done one."""
        if self.state is None or self.state.phase is Phase.SUCCEEDED:
            return ExitCode.OK
        if self.state.phase in (Phase.ROLLED_BACK, Phase.FAILED):
            return ExitCode.FAILED
        return ExitCode.STOPPED

    def to_json(self) -> str:
        document = {
            "app": self.app,
            "state": None if self.state is None else self.state.to_json(),
            "live_weights": None
            if self.live is None
            else {"stable": self.live.stable, "candidate": self.live.candidate},
            "live_error": self.live_error or None,
            "lock": self.lock or None,
        }
        return json.dumps(document, indent=2) + "\n"

    def lines(self) -> list[str]:
        live = str(self.live) if self.live is not None else f"cannot read ({self.live_error})"
        if self.live is not None and self.live.total == 0 and self.provider == "route53":
            live = zero_sum_text(self.live)
        if self.state is None:
            return [f"{self.app}: no rollout recorded", f"live weights: {live}"]
        state = self.state
        out = [
            f"{self.app}: {state.phase.value}, step {state.step} of {state.steps_total}",
            f"live weights: {live}",
        ]
        if state.weights is not None:
            out.append(f"last read back: {state.weights}, at {_when(state.updated)}")
        if state.reason:
            out.append(f"reason: {state.reason}")
        for action, actor in state.actions.items():
            out.append(f"{action} by {actor.who} at {_when(actor.at)}")
        if state.stable_replicas is not None:
            out.append(
                f"stable Deployment {state.stable_deployment} had {state.stable_replicas} "
                "replicas before it was scaled down"
            )
        if state.request is not None and state.requested_by is not None:
            out.append(f"pending request: {state.request.value} by {state.requested_by.who}")
        out.append(f"lock: {self.lock or 'free'}")
        return out


def read_status(spec_file: Path, ports: RolloutPorts) -> StatusView:
    wired = _wire(spec_file, ports)
    live: Weights | None = None
    error = ""
    try:
        live = wired.provider.read()
    except EksupError as failure:
        error = str(failure)
    lock = ""
    try:
        lease = ports.cluster.get_lease(wired.lock.namespace, wired.lock.name)
        lock = describe(lease, ports.clock.now())
    except EksupError:
        pass
    return StatusView(
        _app(wired.spec), wired.journal.read(), live, error, lock, wired.provider.name
    )


def watch_status(
    spec_file: Path,
    ports: RolloutPorts,
    *,
    timeout: float | None,
    show: Callable[[StatusView], None],
) -> ExitCode:
    """Poll until a terminal status (0 succeeded, 1 rolled back or failed) or the timeout
    (4: still going); every wait through the Clock."""
    give_up = None if timeout is None else ports.clock.now() + timeout
    shown: tuple[RolloutState | None, Weights | None] | None = None
    shown_at = ports.clock.now()
    while True:
        view = read_status(spec_file, ports)
        # Each change, and the state again every heartbeat: a CI log that waits in silence
        # looks hung (and no-output timeouts kill it).
        if (view.state, view.live) != shown or ports.clock.now() - shown_at >= HEARTBEAT_SECONDS:
            show(view)
            shown = (view.state, view.live)
            shown_at = ports.clock.now()
        if view.terminal:
            return view.exit_code
        if give_up is not None and ports.clock.now() >= give_up:
            return ExitCode.STOPPED
        wait = WATCH_POLL_SECONDS
        if give_up is not None:
            wait = min(wait, give_up - ports.clock.now())
        ports.clock.sleep(wait)


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _app(spec: RolloutSpec) -> str:
    return f"{spec.app.namespace}/{spec.app.name}"
