"""`eksup rollout status [--watch]`: where a rollout stands, as its journal tells it, and the
live weights, read from the provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from strategies.run.journal import TERMINAL, Phase, RolloutState
from strategies.steps import Weights
from upgrader.core.errors import EksupError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.run.lock import describe
from upgrader.core.run.status import RunStatus, exit_code
from upgrader.execute.progress import HEARTBEAT_SECONDS
from upgrader.usecases.rollouts import RolloutPorts, _app, _wire, zero_sum_text

# Between two reads of `rollout status --watch`.
WATCH_POLL_SECONDS = 10.0


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
            return exit_code(RunStatus.SUCCEEDED)
        if self.state.phase in (Phase.ROLLED_BACK, Phase.FAILED):
            return exit_code(RunStatus.FAILED)
        return exit_code(RunStatus.STOPPED)

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
        live = wired.router.read_weights()
    except EksupError as failure:
        error = str(failure)
    lock = ""
    try:
        lease = ports.cluster.get_lease(wired.lock.namespace, wired.lock.name)
        lock = describe(lease, ports.clock.now())
    except EksupError:
        pass
    return StatusView(_app(wired.spec), wired.journal.read(), live, error, lock, wired.router.name)


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
