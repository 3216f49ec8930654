"""The server's state as the route modules see it: what a route reads and writes besides its
request.

`KubeApi` (api.py) routes requests to the handlers of each kind's module and holds this state;
the handlers take it as their first argument. They name it through this Protocol, so no route
module imports the module that routes to it (no import cycle), and a route can be read knowing
only what it may touch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from upgrader.sandbox.apiserver import lists, watch
    from upgrader.sandbox.apiserver.http import Request, Response
    from upgrader.sandbox.apiserver.managed_fields import ManagedFields
    from upgrader.sandbox.apiserver.stores import Addresses, Namespaces, Secrets
    from upgrader.sandbox.cluster.fake_cluster import FakeCluster

Json = dict[str, Any]


class ApiState(Protocol):
    """The FakeCluster behind the server, its clock, and the API-only state (`stores`,
    `managed_fields`); the change feed behind lists and watches; the write lock that
    read-modify-write routes hold, so the resourceVersion they compare is the one they write
    over."""

    @property
    def cluster(self) -> FakeCluster: ...

    @property
    def now(self) -> Callable[[], float]:
        """The sandbox clock's time."""
        ...

    @property
    def created_at(self) -> float:
        """When the server started: the age of an object its source gave no creation time."""
        ...

    @property
    def namespaces(self) -> Namespaces: ...

    @property
    def managed(self) -> ManagedFields: ...

    @property
    def addresses(self) -> Addresses:
        """Services' cluster IPs and node ports."""
        ...

    @property
    def secrets(self) -> Secrets:
        """The Secrets created through the API."""
        ...

    @property
    def write_lock(self) -> threading.Lock: ...

    @property
    def feed(self) -> watch.ChangeFeed: ...

    def has_route(self, method: str, parts: Sequence[str]) -> bool:
        """Whether the server answers `method` on this path."""
        ...

    def paged(
        self, request: Request, fresh: Callable[[], tuple[int, Callable[[], list[lists.Item]]]]
    ) -> tuple[Sequence[lists.Item], str, int]:
        """A page of the list the request names (api.py)."""
        ...

    def watch_response(
        self,
        request: Request,
        resource: str,
        kind: str,
        api_version: str,
        *,
        matches: Callable[[Any], bool],
        table: Callable[[Sequence[Any], str], Json] | None,
    ) -> Response:
        """A watch on `resource` (api.py)."""
        ...
