"""Watches for the sandbox API server: `kubectl get nodes -w`, `rollout status`, informers.

The FakeCluster keeps no change log, so `ChangeFeed` makes one by comparison: it snapshots a
resource (every object's wire JSON, by key) and numbers each difference from the previous
snapshot as an ADDED, MODIFIED or DELETED event. Snapshots are taken when a list is served
(so the list's resourceVersion is the feed revision it shows) and, while anyone watches, every
`poll_seconds` of real time. Two changes to one object between two snapshots arrive as one
event, as they may from a real API server whose watch cache compacted them; clients that watch
(kubectl, informers) only rely on seeing the latest state.

resourceVersions: a list carries the feed revision; an event's object carries the revision of
that event, so a client that re-watches from the last object it saw resumes where it stopped.
A resourceVersion older than the retained history gets the 410 Expired ERROR event, on which
clients relist. `sendInitialEvents=true` (client-go's streaming list) gets the current objects
as ADDED, then the BOOKMARK that marks the end of the initial events.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
Snapshot = Mapping[str, tuple[Any, Json]]  # key -> (domain value, wire JSON)
DEFAULT_POLL_SECONDS = 0.1
DEFAULT_HISTORY = 20_000
IDLE_WAKEUP_SECONDS = 1.0  # how often an idle watch checks its deadline and the server


@dataclass(frozen=True)
class WatchEvent:
    revision: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: str
    key: str
    value: Any
    wire: Json


class ExpiredError(Exception):
    """The resourceVersion asked for is older than the history the feed keeps."""


class ChangeFeed:
    """Numbered change events for the resources `snapshots` can list."""

    def __init__(
        self,
        snapshots: Mapping[str, Callable[[], Snapshot]],
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        history: int = DEFAULT_HISTORY,
    ) -> None:
        self._snapshots = dict(snapshots)
        self._poll_seconds = poll_seconds
        self._changed = threading.Condition()
        self._syncing = threading.Lock()
        self._revision = 1
        self._oldest = 1  # the revision before the oldest event still held
        self._events: deque[WatchEvent] = deque(maxlen=history)
        self._state: dict[str, dict[str, tuple[Any, Json]]] = {}
        self._watching: dict[str, int] = {}
        self._poller: threading.Thread | None = None
        self._closed = False

    @property
    def revision(self) -> int:
        with self._changed:
            return self._revision

    def sync(self, resource: str) -> int:
        """Snapshot `resource` now, record what changed, and return the current revision."""
        return self.snapshot(resource)[0]

    def snapshot(self, resource: str) -> tuple[int, Mapping[str, tuple[Any, Json]]]:
        """Snapshot `resource` now, record what changed, and return the current revision with
        every object as of that revision (key -> (value, wire), in the cluster's list order).
        The mapping is never changed afterwards: a later sync makes a new one."""
        # One sync at a time: a snapshot applied after a newer one would replay old states.
        with self._syncing:
            current = dict(self._snapshots[resource]())
            with self._changed:
                previous = self._state.get(resource)
                self._state[resource] = current
                if previous is not None:
                    self._record(resource, previous, current)
                return self._revision, current

    def current(self, resource: str) -> tuple[int, list[tuple[str, Any, Json]]]:
        """The revision and every object of `resource` as of a fresh snapshot."""
        revision = self.sync(resource)
        with self._changed:
            items = sorted(self._state[resource].items())
        return revision, [(key, value, wire) for key, (value, wire) in items]

    def _record(
        self,
        resource: str,
        previous: Mapping[str, tuple[Any, Json]],
        current: Mapping[str, tuple[Any, Json]],
    ) -> None:
        found = []
        for key, (value, wire) in current.items():
            before = previous.get(key)
            if before is None:
                found.append(("ADDED", key, value, wire))
            elif before[0] is not value and before[1] != wire:
                # Values are immutable: the same object renders the same JSON, so only a
                # replaced value needs its JSON compared.
                found.append(("MODIFIED", key, value, wire))
        for key, (value, wire) in previous.items():
            if key not in current:
                found.append(("DELETED", key, value, wire))
        for kind, key, value, wire in found:
            self._revision += 1
            if len(self._events) == self._events.maxlen:
                self._oldest = self._events[0].revision
            self._events.append(WatchEvent(self._revision, kind, resource, key, value, wire))
        if found:
            self._changed.notify_all()

    def events(self, resource: str, since: int, deadline: float) -> Iterator[WatchEvent]:
        """Events of `resource` after revision `since`, as they come, until `deadline` (a
        time.monotonic() value) or `close()`. Raises ExpiredError at once when `since` is older
        than the history. Closing the iterator (a client went away) ends the watch."""
        with self._changed:
            if since < self._oldest:
                raise ExpiredError(f"too old resource version: {since} ({self._oldest})")
            self._watching[resource] = self._watching.get(resource, 0) + 1
            self._start_poller()
        try:
            seen = since
            while not self._closed:
                with self._changed:
                    # Revisions are consecutive, so the first unseen event's index is known.
                    first = self._events[0].revision if self._events else seen + 1
                    batch = list(itertools.islice(self._events, max(0, seen + 1 - first), None))
                    if not batch:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            return
                        self._changed.wait(min(remaining, IDLE_WAKEUP_SECONDS))
                        continue
                seen = batch[-1].revision
                yield from (e for e in batch if e.resource == resource)
        finally:
            with self._changed:
                self._watching[resource] -= 1

    def _start_poller(self) -> None:
        if self._poller is None or not self._poller.is_alive():
            self._poller = threading.Thread(
                target=self._poll, name="sandbox-watch-poller", daemon=True
            )
            self._poller.start()

    def _poll(self) -> None:
        while not self._closed:
            with self._changed:
                watched = [r for r, n in self._watching.items() if n > 0]
                if not watched:
                    self._poller = None
                    return
            for resource in watched:
                self.sync(resource)
            time.sleep(self._poll_seconds)

    def close(self) -> None:
        """End every watch (the server is stopping)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()


def event_line(event_type: str, obj: Json) -> bytes:
    """One watch event as the API server streams it: a JSON object and a newline."""
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def with_revision(wire: Json, revision: int) -> Json:
    meta = dict(wire.get("metadata") or {})
    meta["resourceVersion"] = str(revision)
    return {**wire, "metadata": meta}


def bookmark(kind: str, api_version: str, revision: int) -> Json:
    """The BOOKMARK that ends a streaming list's initial events."""
    return {
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {
            "resourceVersion": str(revision),
            "annotations": {"k8s.io/initial-events-end": "true"},
        },
    }


def expired_status(message: str) -> Json:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "Expired",
        "code": 410,
    }
