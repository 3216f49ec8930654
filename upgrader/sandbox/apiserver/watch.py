"""Watches for the sandbox API server: `kubectl get nodes -w`, `rollout status`, informers.

The FakeCluster keeps no change log, so `ChangeFeed` makes one by comparison: it snapshots a
resource (every object's wire JSON, by key) and numbers each difference from the previous
snapshot as an ADDED, MODIFIED or DELETED event. Snapshots are taken when a list is served
(so the list's resourceVersion is the feed revision it shows) and, while anyone watches, every
`poll_seconds` of real time. Two changes to one object between two snapshots arrive as one
event, as they may from a real API server whose watch cache compacted them; clients that watch
(kubectl, informers) only rely on seeing the latest state.

With `version` (the FakeCluster's change counter), a snapshot of a world that has not changed
since the resource's last one is skipped: an idle 150,000-pod world costs the poller nothing.
`nudge()` (the server calls it after every write) wakes the poller at once, so a client's own
change reaches its watch without waiting out `poll_seconds`.

Bookmarks: a watch asked with `allowWatchBookmarks=true` gets a BOOKMARK event, an object of
the watched kind holding only the revision it has been sent up to, every `bookmark_seconds`
and once more as it ends at its deadline, as the apiserver's watch cache does (cacher.go,
`defaultBookmarkFrequency = time.Minute`, "in addition to sending a bookmark right before watch
deadline"). A client that resumes from a bookmark skips events of other resources and
everything its selector filtered out.

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
DEFAULT_BOOKMARK_SECONDS = 60.0  # the apiserver's defaultBookmarkFrequency
IDLE_WAKEUP_SECONDS = 1.0  # how often an idle watch checks its deadline and the server


@dataclass(frozen=True)
class WatchEvent:
    revision: int
    type: str  # ADDED, MODIFIED, DELETED; BOOKMARK (no key, no value) when asked for
    resource: str
    key: str
    value: Any
    wire: Json
    # MODIFIED: the value before, so a filtered watch can tell an object that starts or stops
    # matching its selector (`filtered`).
    previous: Any = None
    previous_wire: Json | None = None


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
        version: Callable[[], int] | None = None,
        bookmark_seconds: float = DEFAULT_BOOKMARK_SECONDS,
    ) -> None:
        self._snapshots = dict(snapshots)
        self._poll_seconds = poll_seconds
        self._version = version
        self._seen_version: dict[str, int] = {}  # resource -> `version` at its last snapshot
        self.bookmark_seconds = bookmark_seconds
        self._nudged = threading.Event()
        self.snapshots_taken = 0  # for tests and the benchmarks: snapshots not skipped
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
            # Read before the snapshot: a change made while it is taken moves the version past
            # what is recorded here, so the next call takes another.
            version = self._version() if self._version is not None else None
            if version is not None and self._seen_version.get(resource) == version:
                with self._changed:
                    return self._revision, self._state[resource]
            current = dict(self._snapshots[resource]())
            self.snapshots_taken += 1
            if version is not None:
                self._seen_version[resource] = version
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
        found: list[tuple[str, str, Any, Json, tuple[Any, Json] | None]] = []
        for key, (value, wire) in current.items():
            before = previous.get(key)
            if before is None:
                found.append(("ADDED", key, value, wire, None))
            elif before[0] is not value and before[1] != wire:
                # Values are immutable: the same object renders the same JSON, so only a
                # replaced value needs its JSON compared.
                found.append(("MODIFIED", key, value, wire, before))
        for key, (value, wire) in previous.items():
            if key not in current:
                found.append(("DELETED", key, value, wire, None))
        for kind, key, value, wire, old in found:
            self._revision += 1
            if len(self._events) == self._events.maxlen:
                self._oldest = self._events[0].revision
            self._events.append(
                WatchEvent(
                    self._revision,
                    kind,
                    resource,
                    key,
                    value,
                    wire,
                    old[0] if old is not None else None,
                    old[1] if old is not None else None,
                )
            )
        if found:
            self._changed.notify_all()

    def events(
        self, resource: str, since: int, deadline: float, *, bookmarks: bool = False
    ) -> Iterator[WatchEvent]:
        """Events of `resource` after revision `since`, as they come, until `deadline` (a
        time.monotonic() value) or `close()`. Raises ExpiredError at once when `since` is older
        than the history. Closing the iterator (a client went away) ends the watch. With
        `bookmarks`, a BOOKMARK every `bookmark_seconds` and one at the deadline."""
        with self._changed:
            if since < self._oldest:
                raise ExpiredError(f"too old resource version: {since} ({self._oldest})")
            self._watching[resource] = self._watching.get(resource, 0) + 1
            self._start_poller()
        try:
            seen = since
            next_bookmark = time.monotonic() + self.bookmark_seconds
            while not self._closed:
                if bookmarks and time.monotonic() >= next_bookmark:
                    next_bookmark = time.monotonic() + self.bookmark_seconds
                    yield WatchEvent(seen, "BOOKMARK", resource, "", None, {})
                with self._changed:
                    # Revisions are consecutive, so the first unseen event's index is known.
                    first = self._events[0].revision if self._events else seen + 1
                    batch = list(itertools.islice(self._events, max(0, seen + 1 - first), None))
                    if not batch:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            break
                        wait = min(remaining, IDLE_WAKEUP_SECONDS)
                        if bookmarks:
                            wait = min(wait, max(0.0, next_bookmark - time.monotonic()))
                        self._changed.wait(wait)
                        continue
                seen = batch[-1].revision
                yield from (e for e in batch if e.resource == resource)
            else:
                return  # closed: the server is stopping, no last bookmark
            if bookmarks:
                yield WatchEvent(seen, "BOOKMARK", resource, "", None, {})
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
            self._nudged.wait(self._poll_seconds)
            self._nudged.clear()

    def sync_watched(self) -> None:
        """Snapshot every watched resource now (the server's ticker calls it after each step
        of virtual time, before the next: time never runs on past a change its watchers have
        not been sent, so a client waiting on a watch is no further behind than one tick)."""
        with self._changed:
            watched = [r for r, n in self._watching.items() if n > 0]
        for resource in watched:
            self.sync(resource)

    def nudge(self) -> None:
        """Something changed (a write was served): snapshot the watched resources now."""
        self._nudged.set()

    def close(self) -> None:
        """End every watch (the server is stopping)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._nudged.set()


def event_line(event_type: str, obj: Json) -> bytes:
    """One watch event as the API server streams it: a JSON object and a newline."""
    return json.dumps({"type": event_type, "object": obj}, separators=(",", ":")).encode() + b"\n"


def filtered(event: WatchEvent, matches: Callable[[Any], bool]) -> tuple[str, Any, Json] | None:
    """The event a watch with a selector sends for `event` (type, value, wire), or None.

    As the apiserver's watch cache does (k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go,
    convertToWatchEvent): an object that starts to match is ADDED, one that stops matching is
    DELETED with its previous content, so a watcher of the pods of one node (spec.nodeName) is
    told when a pod of that name leaves it, even if a pod of the same name now runs elsewhere.
    """
    now = matches(event.value)
    before = event.previous is not None and matches(event.previous)
    if event.type != "MODIFIED" or event.previous is None:
        return (event.type, event.value, event.wire) if now else None
    if now:
        return ("MODIFIED" if before else "ADDED"), event.value, event.wire
    if before and event.previous_wire is not None:
        return "DELETED", event.previous, event.previous_wire
    return None


def with_revision(wire: Json, revision: int) -> Json:
    meta = dict(wire.get("metadata") or {})
    meta["resourceVersion"] = str(revision)
    return {**wire, "metadata": meta}


def bookmark(
    kind: str, api_version: str, revision: int, *, initial_events_end: bool = False
) -> Json:
    """A BOOKMARK's object: only the kind and the revision sent up to; the one that ends a
    streaming list's initial events says so in an annotation."""
    meta: Json = {"resourceVersion": str(revision)}
    if initial_events_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": kind, "apiVersion": api_version, "metadata": meta}


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
