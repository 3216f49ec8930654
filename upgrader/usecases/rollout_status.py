"""`eksup rollout status [--watch]`: where a rollout stands, as its journal tells it, and what
the service has now, read live: the weights (canary, blue/green), the header route (A/B), the
mirror (shadow), or both Deployments (rolling, recreate: their steps are batches, sized from
stable's count journaled when the rollout started)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from strategies.loop import ORIGINAL_REPLICAS
from strategies.ports import RolloutPorts
from strategies.run.journal import TERMINAL, Phase, RolloutState
from strategies.spec import AbTest, Recreate, Rolling, RolloutSpec, Shadow
from strategies.steps import RouteKind, Weights
from strategies.traffic.base import RouteReading, TrafficRouter
from upgrader.core.errors import EksupError, NotFoundError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import WorkloadKind
from upgrader.core.run.lock import describe
from upgrader.core.run.status import RunStatus, exit_code
from upgrader.execute.progress import HEARTBEAT_SECONDS
from upgrader.usecases.rollouts import _app, _wire, zero_sum_text

# Between two reads of `rollout status --watch`.
WATCH_POLL_SECONDS = 10.0


@dataclass(frozen=True)
class LiveRoute:
    """A/B's header route or shadow's mirror, as the service has it now."""

    kind: RouteKind
    reading: RouteReading | None
    error: str = ""

    @property
    def state(self) -> str:
        if self.reading is None:
            return "unknown"
        return "on" if self.reading.on else "off" if self.reading.off else "changing"

    def line(self) -> str:
        what = "header route" if self.kind == "header" else "mirror route"
        if self.reading is None:
            return f"{what}: cannot read ({self.error})"
        return f"{what}: {self.state} ({self.reading.detail})"

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "state": self.state,
            "detail": None if self.reading is None else self.reading.detail,
            "error": self.error or None,
        }


@dataclass(frozen=True)
class LiveSide:
    """One Deployment of a rolling or recreate rollout, as read now."""

    side: str  # stable or candidate
    name: str  # namespace/name
    replicas: int | None  # None: not found
    ready: int = 0

    def text(self) -> str:
        if self.replicas is None:
            return f"{self.side} Deployment {self.name}: not found"
        return f"{self.side} Deployment {self.name}: {self.replicas} replicas ({self.ready} Ready)"

    def to_json(self) -> dict[str, object]:
        return {"deployment": self.name, "replicas": self.replicas, "ready": self.ready}


@dataclass(frozen=True)
class LivePods:
    """Rolling and recreate: both Deployments now, and the count their batches are sized by."""

    stable: LiveSide
    candidate: LiveSide
    original: int | None  # stable's replicas when the rollout started (journaled)
    error: str = ""

    def lines(self) -> list[str]:
        if self.error:
            return [f"Deployments: cannot read ({self.error})"]
        out = [f"{self.stable.text()}; {self.candidate.text()}"]
        if self.original is not None:
            out.append(
                f"batches sized from the {self.original} replicas stable had when the "
                "rollout started (journaled)"
            )
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "stable": self.stable.to_json(),
            "candidate": self.candidate.to_json(),
            "original_replicas": self.original,
            "error": self.error or None,
        }


@dataclass(frozen=True)
class StatusView:
    app: str
    state: RolloutState | None
    live: Weights | None
    live_error: str
    lock: str
    provider: str = ""
    strategy: str = ""
    route: LiveRoute | None = None  # A/B, shadow
    pods: LivePods | None = None  # rolling, recreate

    @property
    def observed(self) -> tuple[object, ...]:
        """What `--watch` shows again when it changes."""
        return (self.state, self.live, self.route, self.pods)

    @property
    def terminal(self) -> bool:
        return self.state is not None and self.state.phase in TERMINAL

    @property
    def exit_code(self) -> ExitCode:
        """0 succeeded (or nothing recorded), 1 rolled back or failed, 4 unfinished (running,
        paused, or killed mid-way): CI waits on a non-zero code, never on a half-done one."""
        if self.state is None or self.state.phase is Phase.SUCCEEDED:
            return exit_code(RunStatus.SUCCEEDED)
        if self.state.phase in (Phase.ROLLED_BACK, Phase.FAILED):
            return exit_code(RunStatus.FAILED)
        return exit_code(RunStatus.STOPPED)

    def to_json(self) -> str:
        document = {
            "app": self.app,
            "strategy": self.strategy or None,
            "state": None if self.state is None else self.state.to_json(),
            "live_weights": None
            if self.live is None
            else {"stable": self.live.stable, "candidate": self.live.candidate},
            "live_error": self.live_error or None,
            "live_route": None if self.route is None else self.route.to_json(),
            "deployments": None if self.pods is None else self.pods.to_json(),
            "lock": self.lock or None,
        }
        return json.dumps(document, indent=2) + "\n"

    def _live_lines(self) -> list[str]:
        if self.route is not None:
            return [self.route.line()]
        if self.pods is not None:
            return self.pods.lines()
        live = str(self.live) if self.live is not None else f"cannot read ({self.live_error})"
        if self.live is not None and self.live.total == 0 and self.provider == "route53":
            live = zero_sum_text(self.live)
        return [f"live weights: {live}"]

    def lines(self) -> list[str]:
        strategy = f" ({self.strategy})" if self.strategy else ""
        if self.state is None:
            return [f"{self.app}: no rollout recorded{strategy}", *self._live_lines()]
        state = self.state
        # Rolling and recreate number their batches as steps.
        unit = "batch" if self.pods is not None else "step"
        out = [
            f"{self.app}: {state.phase.value}, {unit} {state.step} of {state.steps_total}"
            f"{strategy}",
            *self._live_lines(),
        ]
        if state.weights is not None and self.pods is not None:
            out.append(
                f"last recorded split: {state.weights.stable} stable / "
                f"{state.weights.candidate} candidate pods, at {_when(state.updated)}"
            )
        elif state.weights is not None and self.route is None:
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
    """Any strategy: the journal's state, and what the service has now."""
    wired = _wire(spec_file, ports, weights=False)
    spec = wired.spec
    strategy = spec.strategy
    state = wired.journal.read()
    live: Weights | None = None
    error = ""
    route: LiveRoute | None = None
    pods: LivePods | None = None
    if isinstance(strategy, AbTest | Shadow):
        route = _read_route(wired.router, "header" if isinstance(strategy, AbTest) else "mirror")
    elif isinstance(strategy, Rolling | Recreate):
        original = wired.journal.recall(ORIGINAL_REPLICAS) if state is not None else None
        pods = _read_pods(spec, ports, original)
    else:
        try:
            live = wired.router.read_weights()
        except EksupError as failure:
            error = str(failure)
    lock = ""
    try:
        lease = ports.cluster.get_lease(wired.lock.namespace, wired.lock.name)
        lock = describe(lease, ports.clock.now())
    except EksupError:
        pass
    return StatusView(
        _app(spec),
        state,
        live,
        error,
        lock,
        wired.router.name,
        strategy=strategy.kind,
        route=route,
        pods=pods,
    )


def _read_route(router: TrafficRouter, kind: RouteKind) -> LiveRoute:
    try:
        return LiveRoute(kind, router.read_route(kind))
    except EksupError as failure:
        return LiveRoute(kind, None, str(failure))


def _read_pods(spec: RolloutSpec, ports: RolloutPorts, original: str | None) -> LivePods:
    namespace = spec.app.namespace
    sides: list[LiveSide] = []
    for side, name in (
        ("stable", spec.app.stable.deployment),
        ("candidate", spec.app.candidate.deployment),
    ):
        where = f"{namespace}/{name}"
        try:
            found = ports.cluster.get_workload(WorkloadKind.DEPLOYMENT, namespace, name or "")
        except NotFoundError:
            sides.append(LiveSide(side, where, None))
            continue
        except EksupError as failure:
            empty = LiveSide("stable", "", None)
            return LivePods(empty, empty, None, str(failure))
        sides.append(LiveSide(side, where, found.replicas or 0, found.ready_replicas))
    count = int(original) if original is not None and original.isdigit() else None
    return LivePods(sides[0], sides[1], count)


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
    shown: tuple[object, ...] | None = None
    shown_at = ports.clock.now()
    while True:
        view = read_status(spec_file, ports)
        # Each change, and the state again every heartbeat: a CI log that waits in silence
        # looks hung (and no-output timeouts kill it).
        if view.observed != shown or ports.clock.now() - shown_at >= HEARTBEAT_SECONDS:
            show(view)
            shown = view.observed
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
