"""A rollout's state, in a ConfigMap next to the app: where it stands, who did what, when.

It lives in the cluster, not on a machine, so `status`, `promote`, `abort` and `rollback` work
from any laptop or CI job, and a rollout killed mid-way resumes from its last completed step.
Only what cannot be re-derived is kept: the step reached, the outcome, who acted, and the stable
Deployment's replica count before it was scaled down (so a rollback can restore it). Live
weights are always re-read from the service, never trusted from here; `weights` is the last
value read back, for people.

A request (`promote` or `abort`) written here by another machine is how a running `rollout run`
learns of it: the run holds the app's lock, checks for requests before and after every change
and while it waits, and acts on them itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from strategies.steps import Weights
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import ConfigMap
from upgrader.core.ports import Cluster


class Phase(StrEnum):
    RUNNING = "running"  # steps going on (or a run killed mid-way: resumable)
    PAUSED = "paused"  # stopped part-way on purpose (Ctrl-C): resumable
    SUCCEEDED = "succeeded"  # all traffic on the candidate, read back
    ROLLED_BACK = "rolled-back"  # all traffic back on stable, read back
    FAILED = "failed"  # stable could not be confirmed: a human must look


TERMINAL = frozenset({Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED})
RESUMABLE = frozenset({Phase.RUNNING, Phase.PAUSED})


class Request(StrEnum):
    PROMOTE = "promote"
    ABORT = "abort"


# Another writer got in between this many times in a row: give up (the error says so).
UPDATE_ATTEMPTS = 5

# Who/when of each human action, keyed by the action's name in the ConfigMap.
ACTIONS = ("started", "promoted", "aborted", "rolled-back")


def config_map_name(app: str) -> str:
    return f"eksup-rollout-{app}"


def weights_text(weights: Weights) -> str:
    return f"{weights.stable}/{weights.candidate}"


def parse_weights(text: str) -> Weights | None:
    stable, sep, candidate = text.partition("/")
    if not sep or not stable.isdigit() or not candidate.isdigit():
        return None
    return Weights(int(stable), int(candidate))


@dataclass(frozen=True)
class Actor:
    """Who did something and when (epoch seconds)."""

    who: str
    at: float


@dataclass(frozen=True)
class RolloutState:
    phase: Phase
    step: int
    steps_total: int
    weights: Weights | None
    updated: float
    reason: str = ""
    stable_deployment: str = ""
    stable_replicas: int | None = None  # before the rollout scaled stable down
    actions: dict[str, Actor] = field(default_factory=dict)
    request: Request | None = None
    requested_by: Actor | None = None

    @property
    def resumable(self) -> bool:
        return self.phase in RESUMABLE

    @classmethod
    def from_data(cls, data: dict[str, str]) -> RolloutState:
        try:
            phase = Phase(data.get("status", ""))
        except ValueError:
            phase = Phase.FAILED
        actions = {
            name: Actor(data[f"{name}-by"], _float(data.get(f"{name}-at", "")))
            for name in ACTIONS
            if f"{name}-by" in data
        }
        request = data.get("request", "")
        replicas = data.get("stable-replicas", "")
        return cls(
            phase=phase,
            step=_int(data.get("step", "")),
            steps_total=_int(data.get("steps", "")),
            weights=parse_weights(data.get("weights", "")),
            updated=_float(data.get("updated", "")),
            reason=data.get("reason", ""),
            stable_deployment=data.get("stable-deployment", ""),
            stable_replicas=int(replicas) if replicas.isdigit() else None,
            actions=actions,
            request=Request(request) if request in tuple(Request) else None,
            requested_by=(
                Actor(data.get("requested-by", ""), _float(data.get("requested-at", "")))
                if request
                else None
            ),
        )

    def to_json(self) -> dict[str, object]:
        return {
            "status": self.phase.value,
            "step": self.step,
            "steps": self.steps_total,
            "weights": None if self.weights is None else weights_text(self.weights),
            "updated": self.updated,
            "reason": self.reason,
            "stable_deployment": self.stable_deployment or None,
            "stable_replicas": self.stable_replicas,
            "actions": {k: {"by": a.who, "at": a.at} for k, a in self.actions.items()},
            "request": None if self.request is None else self.request.value,
        }


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


class Journal:
    """The rollout state ConfigMap of one app: read, and updated field by field."""

    def __init__(self, cluster: Cluster, namespace: str, app: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = config_map_name(app)

    def _data(self) -> dict[str, str] | None:
        try:
            return dict(self.cluster.get_config_map(self.namespace, self.name).data)
        except NotFoundError:
            return None

    def read(self) -> RolloutState | None:
        data = self._data()
        return None if data is None else RolloutState.from_data(data)

    def completed_step(self) -> int:
        """The last completed step of an unfinished rollout; 0 when none is in progress."""
        state = self.read()
        return state.step if state is not None and state.resumable else 0

    def update(self, changes: dict[str, str | None]) -> None:
        """Merge `changes` into the ConfigMap (None removes a key).

        A compare-and-swap on the version read: the run and a request from another machine
        write the same ConfigMap, and neither may silently undo the other's keys."""
        for attempt in range(1, UPDATE_ATTEMPTS + 1):
            try:
                current = self.cluster.get_config_map(self.namespace, self.name)
                data, version = dict(current.data), current.resource_version
            except NotFoundError:
                data, version = {}, ""
            for key, value in changes.items():
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
            try:
                self.cluster.apply_config_map(ConfigMap(self.namespace, self.name, data, version))
                return
            except ConflictError:
                if attempt == UPDATE_ATTEMPTS:
                    raise

    def start(self, steps_total: int, by: Actor) -> None:
        """A new rollout: forget the previous one's outcome, actions and requests."""
        self.cluster.apply_config_map(
            ConfigMap(
                self.namespace,
                self.name,
                {
                    "status": Phase.RUNNING.value,
                    "step": "0",
                    "steps": str(steps_total),
                    "updated": f"{by.at:.0f}",
                    "started-by": by.who,
                    "started-at": f"{by.at:.0f}",
                },
            )
        )

    def record(
        self,
        step: int,
        status: str,
        weights: Weights | None,
        at: float,
        *,
        reason: str | None = None,
    ) -> None:
        changes: dict[str, str | None] = {
            "step": str(step),
            "status": status,
            "updated": f"{at:.0f}",
        }
        if weights is not None:
            changes["weights"] = weights_text(weights)
        if reason is not None:
            changes["reason"] = reason
        self.update(changes)

    def record_action(self, action: str, by: Actor) -> None:
        self.update({f"{action}-by": by.who, f"{action}-at": f"{by.at:.0f}"})

    def record_stable_replicas(self, deployment: str, replicas: int | None) -> None:
        self.update(
            {
                "stable-deployment": deployment,
                "stable-replicas": None if replicas is None else str(replicas),
            }
        )

    def request(self, request: Request, by: Actor) -> None:
        self.update(
            {"request": request.value, "requested-by": by.who, "requested-at": f"{by.at:.0f}"}
        )

    def clear_request(self) -> None:
        self.update({"request": None, "requested-by": None, "requested-at": None})
