"""The two Deployments of an app, as the step loop moves pods between them: read, scale (each
scale recorded), wait until Ready, gone, or with room to lose pods, and the downtime of a
strategy that empties a side first.

With stable and candidate behind one Service, the replicas of each side are the traffic split:
every scale the loop makes is also told to the router (the no-op one moves nothing) and kept in
the history, as a `WeightChange` of desired replicas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from strategies.run.outcome import AbortError, RunState
from strategies.run.report import ScaleDown, WeightChange
from strategies.spec import RolloutSpec
from strategies.steps import Side, Weights
from upgrader.core.errors import NotFoundError, UserError
from upgrader.core.kube import Workload, WorkloadKind
from upgrader.core.ports import Clock, Cluster

# Between two reads of a Deployment's Ready count; also the resolution of recreate's downtime.
READY_POLL_SECONDS = 1.0

_DEPLOYMENT = WorkloadKind.DEPLOYMENT


def wait_ready(
    cluster: Cluster,
    clock: Clock,
    namespace: str,
    name: str,
    replicas: int,
    *,
    give_up: float,
    sleep: Callable[[float], None] | None = None,
) -> Workload:
    """Poll until the Deployment has `replicas` Ready pods; AbortError past `give_up`."""
    while True:
        workload = cluster.get_workload(_DEPLOYMENT, namespace, name)
        if workload.ready_replicas >= replicas:
            return workload
        if clock.now() + READY_POLL_SECONDS > give_up:
            raise AbortError(
                f"{namespace}/{name}: {workload.ready_replicas}/{replicas} pods Ready "
                "when the deadline passed"
            )
        (sleep or clock.sleep)(READY_POLL_SECONDS)


@dataclass(frozen=True)
class PodsPlan:
    """Both Deployments as read, and why a run that trades pods between them would refuse to
    start (then None: it can)."""

    stable: Workload
    candidate: Workload
    refusal: str | None

    @property
    def original(self) -> int:
        return self.stable.replicas or 0


class Deployments:
    """The stable and candidate Deployments a spec names."""

    def __init__(
        self,
        spec: RolloutSpec,
        cluster: Cluster,
        clock: Clock,
        log: Callable[[str], object] = lambda _: None,
    ) -> None:
        self.spec = spec
        self.cluster = cluster
        self.clock = clock
        self.namespace = spec.app.namespace
        self.names: dict[Side, str | None] = {
            "stable": spec.app.stable.deployment,
            "candidate": spec.app.candidate.deployment,
        }
        self.log = log  # told every scale before it is made: a scale-down stops pods

    def name(self, side: Side) -> str:
        name = self.names[side]
        if name is None:
            raise UserError(f"the spec names no {side} Deployment")
        return name

    def get(self, side: Side) -> Workload:
        name = self.name(side)
        try:
            return self.cluster.get_workload(_DEPLOYMENT, self.namespace, name)
        except NotFoundError:
            raise UserError(f"Deployment {self.namespace}/{name} not found") from None

    def plan(self) -> PodsPlan:
        """For rolling and recreate: both Deployments, and why a run would refuse to start."""
        stable, candidate = self.get("stable"), self.get("candidate")
        refusal = None
        if not stable.replicas:
            refusal = f"stable Deployment {self.namespace}/{stable.name} has 0 replicas"
        elif candidate.replicas:
            # Also what an interrupted rollout leaves: its original count is then unknown.
            refusal = (
                f"candidate Deployment {self.namespace}/{candidate.name} already has "
                f"{candidate.replicas} replicas; scale it to 0 first, eksup brings it up"
            )
        return PodsPlan(stable, candidate, refusal)

    def ready(self) -> int:
        return sum(self.get(side).ready_replicas for side in ("stable", "candidate"))

    def scale(self, state: RunState, number: int, side: Side, replicas: int) -> bool:
        """Scale one side (no call when it is there already); a scale-down is listed in
        `scaled_down`. Returns whether a call was made."""
        name = self.name(side)
        before = self.get(side).replicas or 0
        if before == replicas:
            return False
        step = "rollback" if number < 0 else f"batch {number}"
        self.log(f"{step}: scale Deployment {self.namespace}/{name} {before} -> {replicas}")
        self.cluster.scale_workload(_DEPLOYMENT, self.namespace, name, replicas)
        if replicas < before:
            state.scaled_down.append(ScaleDown(self.namespace, name, before, self.clock.now()))
        return True

    def record(self, state: RunState, number: int, side: Side, replicas: int) -> Weights:
        """The split after `side` went to `replicas`, kept in the history when it changed."""
        last = state.history[-1].weights
        weights = (
            Weights(replicas, last.candidate)
            if side == "stable"
            else Weights(last.stable, replicas)
        )
        if weights != last:
            state.history.append(WeightChange(self.clock.now(), number, weights))
        return weights

    def wait_ready(
        self,
        side: Side,
        replicas: int,
        give_up: float,
        sleep: Callable[[float], None] | None = None,
    ) -> Workload:
        return wait_ready(
            self.cluster,
            self.clock,
            self.namespace,
            self.name(side),
            replicas,
            give_up=give_up,
            sleep=sleep,
        )

    def wait_gone(self, state: RunState, side: Side, give_up: float) -> None:
        """Poll until no pod of the side is left, terminating ones included."""
        workload = self.get(side)
        selector = str(workload.selector)
        while True:
            self.watch_downtime(state)
            pods = self.cluster.list_pods(self.namespace, label_selector=selector)
            if not pods:
                return
            if self.clock.now() + READY_POLL_SECONDS > give_up:
                raise AbortError(
                    f"{self.namespace}/{workload.name}: {len(pods)} pod(s) still there "
                    "when the deadline passed"
                )
            self.clock.sleep(READY_POLL_SECONDS)

    def wait_first_ready(self, state: RunState, side: Side, give_up: float) -> None:
        """Downtime ends with the first Ready pod, not the last."""
        while self.watch_downtime(state):
            if self.clock.now() + READY_POLL_SECONDS > give_up:
                raise AbortError(f"{self.namespace}/{self.name(side)}: no pod Ready in time")
            self.clock.sleep(READY_POLL_SECONDS)

    def wait_for_room(
        self, state: RunState, number: int, stable_after: int, min_ready: int, give_up: float
    ) -> None:
        """The batches assume every pod Ready; a stable pod that is not (a crash, a node gone)
        would take the Ready count below `min_ready` once stable shrinks: wait for it first."""
        drop = state.history[-1].weights.stable - stable_after
        while True:
            ready = self.ready()
            # Scaling stable down removes its unready pods first, as a ReplicaSet does.
            stable = self.get("stable")
            unready_stable = max((stable.replicas or 0) - stable.ready_replicas, 0)
            if ready - max(drop - unready_stable, 0) >= min_ready:
                return
            if self.clock.now() + READY_POLL_SECONDS > give_up:
                raise AbortError(
                    f"batch {number}: {ready} pods Ready, too few to scale stable down to "
                    f"{stable_after} and keep {min_ready} Ready"
                )
            self.clock.sleep(READY_POLL_SECONDS)

    def watch_downtime(self, state: RunState) -> bool:
        """Account the time with no Ready pod on either side; True while there is none."""
        ready = self.ready()
        now = self.clock.now()
        if ready == 0:
            if state.zero_ready_since is None:
                state.zero_ready_since = now
            return True
        if state.zero_ready_since is not None:
            state.downtime += now - state.zero_ready_since
            state.zero_ready_since = None
        return False
