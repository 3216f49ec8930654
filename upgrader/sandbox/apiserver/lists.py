"""What lets the sandbox API server serve big worlds: wire JSON rendered once per object value,
and list pages cut from one snapshot instead of re-listing the world for every page.

`WireCache` keeps each object's wire JSON while the FakeCluster still holds the same value: the
domain values are immutable and replaced on every change, so `is` says whether the JSON is
still right. Taking a snapshot of 150,000 pods is then 150,000 identity checks, not 150,000
renderings (each renders a resourceVersion from the value's repr, the costly part).

`ListPages` serves `limit`/`continue` as the API server does from its watch cache: the first
page fixes a snapshot at the list's resourceVersion, and the continue token names that
revision and the offset of the next item, so every later page reads the same snapshot (a
consistent list, as etcd gives at one revision). The last few snapshots are kept; a token for
an older one gets 410 Expired, on which clients (kubectl, client-go's pager, eksup's
`list_all`) start the list again — the apiserver's answer for a compacted continue token
(k8s.io/apiserver/pkg/storage/etcd3/store.go, "The provided continue parameter is too old").
"""

from __future__ import annotations

import base64
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Json = dict[str, Any]
Item = tuple[Any, Json]  # (domain value, wire JSON)
DEFAULT_KEPT_SNAPSHOTS = 16
EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)


class Wire(dict[str, Any]):
    """A cached object's wire JSON, and its JSON text once a list page has needed it: a page is
    then joined from texts instead of dumping every object again (the API server's watch cache
    likewise keeps objects serialised, k8s.io/apiserver/pkg/storage/cacher/caching_object.go).
    Never changed in place: a changed object gets a new `Wire` (`WireCache`)."""

    text: str | None = None


class WireCache:
    """Each object's wire JSON by key, rendered again only when its value object changes."""

    def __init__(self, render: Callable[[Any], Json]) -> None:
        self._render = render
        self._entries: dict[str, Item] = {}

    def snapshot(self, values: Iterable[tuple[str, Any]]) -> dict[str, Item]:
        """key -> (value, wire) for `values`, in their order. Entries of objects that are gone
        are dropped, so the cache holds exactly the last snapshot. One caller at a time (the
        change feed takes snapshots under its lock)."""
        old = self._entries
        render = self._render
        fresh: dict[str, Item] = {}
        for key, value in values:
            entry = old.get(key)
            fresh[key] = (
                entry if entry is not None and entry[0] is value else (value, Wire(render(value)))
            )
        self._entries = fresh
        return fresh


class ContinueError(Exception):
    """A continue token that is malformed (`expired` False) or names a dropped snapshot."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


def encode_token(revision: int, start: int) -> str:
    """Opaque to clients, like the apiserver's base64 JSON token."""
    raw = json.dumps({"rv": revision, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return int(value["rv"]), int(value["start"])
    except (ValueError, KeyError, TypeError) as e:
        raise ContinueError(f"invalid continue token {token!r}", expired=False) from e


class ListPages:
    """Snapshots of filtered lists by (query, revision), the newest `kept` of them."""

    def __init__(self, kept: int = DEFAULT_KEPT_SNAPSHOTS) -> None:
        self._kept = kept
        self._lock = threading.Lock()
        self._snapshots: OrderedDict[tuple[str, int], Sequence[Item]] = OrderedDict()

    def page(
        self,
        query: str,
        fresh: Callable[[], tuple[int, Callable[[], Sequence[Item]]]],
        limit: int,
        token: str,
    ) -> tuple[Sequence[Item], str, int]:
        """One page of the list `query` names: its items, the next continue token ("" on the
        last page) and the revision the page shows. Without a token, `fresh()` gives the current
        revision and a builder of the whole list at it; with one, the snapshot the token names
        is read and `fresh` is not called (a continued page costs no snapshot of the world)."""
        if token:
            revision, start = decode_token(token)
            with self._lock:
                items = self._snapshots.get((query, revision))
                if items is not None:
                    self._snapshots.move_to_end((query, revision))
            if items is None:
                raise ContinueError(EXPIRED_CONTINUE, expired=True)
        else:
            start = 0
            revision, build = fresh()
            if limit <= 0:
                return build(), "", revision  # one page: nothing to keep for later
            with self._lock:
                items = self._snapshots.get((query, revision))
            if items is None:
                items = build()
                with self._lock:
                    self._snapshots[(query, revision)] = items
                    while len(self._snapshots) > self._kept:
                        self._snapshots.popitem(last=False)
        if limit <= 0:
            return items[start:], "", revision
        end = start + limit
        return items[start:end], encode_token(revision, end) if end < len(items) else "", revision


def list_body(
    kind: str, api_version: str, revision: int, wires: Iterable[Json], cont: str
) -> bytes:
    """A list's JSON. The items are dumped one by one into a single buffer, so a page costs what
    `json.dumps` of its items costs and nothing copies the page's dicts; a cached object is
    dumped once, by the first page that holds it (`Wire`)."""
    meta: Json = {"resourceVersion": str(revision)}
    if cont:
        meta["continue"] = cont
    head = json.dumps(
        {"apiVersion": api_version, "kind": kind, "metadata": meta}, separators=(",", ":")
    )
    dumps = json.JSONEncoder(separators=(",", ":")).encode

    def text(wire: Json) -> str:
        if not isinstance(wire, Wire):
            return dumps(wire)
        if wire.text is None:
            wire.text = dumps(wire)
        return wire.text

    return (head[:-1] + ',"items":[' + ",".join(map(text, wires)) + "]}").encode()
