"""The fake cluster's record of API calls and its fault injection, after client-go's fake clientset.

Every call through the `Cluster` port is logged as an `Action`; reactors registered for a
(verb, resource) pair run before the call takes effect and may raise an `upgrader.core.errors`
error, which is how tests make an eviction fail with a 500 or a cordon time out.

Verbs and resources follow the Kubernetes API: `get`/`list`/`create`/`update`/`patch`/`delete`
on `nodes`, `pods`, `deployments`, `statefulsets`, `daemonsets`, `replicasets`, `jobs`,
`poddisruptionbudgets`, `services`, `ingresses`, `leases`, `configmaps` and `version`; an
eviction is `create` on `pods/eviction`, a scale `patch` on e.g. `deployments/scale`. "*"
matches any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ANY = "*"


@dataclass(frozen=True)
class Action:
    verb: str
    resource: str
    namespace: str = ""
    name: str = ""


Reactor = Callable[[Action], None]
"""Called with the action before it takes effect; raise to fail the call, return to go on."""


class ActionLog:
    """The actions seen so far and the reactors to run on the next ones."""

    def __init__(self) -> None:
        self._actions: list[Action] = []
        self._reactors: list[tuple[str, str, Reactor]] = []

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(self._actions)

    def clear(self) -> None:
        self._actions.clear()

    def add_reactor(self, verb: str, resource: str, reactor: Reactor) -> None:
        self._reactors.append((verb, resource, reactor))

    def remove_reactors(self) -> None:
        self._reactors.clear()

    def record(self, action: Action) -> None:
        """Log the action, then let every matching reactor veto it."""
        self._actions.append(action)
        for verb, resource, reactor in list(self._reactors):
            if verb in (ANY, action.verb) and resource in (ANY, action.resource):
                reactor(action)
