"""The sandbox server's watches as informers use them: bookmarks when asked for, budgets that
can be watched, and a change counter so an unchanged world costs no snapshot.

Real behaviour followed (k8s.io/apiserver/pkg/storage/cacher/cacher.go): bookmarks go only to
watchers that set allowWatchBookmarks, every `defaultBookmarkFrequency` (a minute) "in addition
to sending a bookmark right before watch deadline"; a BOOKMARK's object is of the watched kind
and carries only metadata.resourceVersion.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from upgrader.core.kube import Pod
from upgrader.sandbox.apiserver.watch import ChangeFeed
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


def _get(served: Served, target: str, method: str = "GET") -> list[dict[str, Any]]:
    request = urllib.request.Request(served.server.url + target, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return [json.loads(line) for line in response.read().splitlines() if line.strip()]


def _revision(served: Served, path: str) -> str:
    (listed,) = _get(served, path)
    return str(listed["metadata"]["resourceVersion"])


def test_bookmarks_only_when_asked_periodically_and_at_the_deadline(served: Served) -> None:
    since = _revision(served, "/api/v1/pods")
    watch = f"/api/v1/pods?watch=true&resourceVersion={since}&timeoutSeconds=1"
    assert not [e for e in _get(served, watch) if e["type"] == "BOOKMARK"]

    served.server.api.feed.bookmark_seconds = 0.3
    events = _get(served, watch + "&allowWatchBookmarks=true")
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(bookmarks) >= 3  # every 0.3 s of a 1 s watch, and one as it ends
    assert events[-1]["type"] == "BOOKMARK"
    for event in bookmarks:
        assert event["object"]["kind"] == "Pod"
        assert event["object"]["apiVersion"] == "v1"
        assert int(event["object"]["metadata"]["resourceVersion"]) >= int(since)
        assert "annotations" not in event["object"]["metadata"]  # not an initial-events end


def test_a_bookmark_moves_past_changes_the_watch_filtered_out(served: Served) -> None:
    since = _revision(served, "/api/v1/namespaces/kube-system/pods")
    _get(served, "/api/v1/nodes")  # the world's nodes are in the feed too
    served.cluster.add_pod(Pod(namespace="default", name="other", uid=""))
    watch = (
        f"/api/v1/namespaces/kube-system/pods?watch=true&resourceVersion={since}"
        "&timeoutSeconds=1&allowWatchBookmarks=true"
    )
    events = _get(served, watch)
    assert [e["type"] for e in events] == ["BOOKMARK"]  # the default pod is not its business
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) > int(since)


def test_budgets_can_be_watched_from_their_lists_revision(served: Served) -> None:
    since = _revision(served, "/apis/policy/v1/poddisruptionbudgets")
    web = next(p for p in served.cluster.list_pods("default") if p.name.startswith("web"))
    _get(served, f"/api/v1/namespaces/default/pods/{web.name}/eviction", method="POST")
    watch = f"/apis/policy/v1/poddisruptionbudgets?watch=true&resourceVersion={since}"
    events = _get(served, watch + "&timeoutSeconds=1")
    assert [e["type"] for e in events] == ["MODIFIED"]
    assert events[0]["object"]["metadata"]["name"] == "web-pdb"
    assert events[0]["object"]["status"]["disruptionsAllowed"] == 0


def test_the_change_counter_moves_on_changes_not_on_reads() -> None:
    clock = VirtualClock()
    cluster = FakeCluster(clock)
    start = cluster.changes
    cluster.list_pods()
    cluster.list_nodes()
    cluster.list_pdbs()
    assert cluster.changes == start
    cluster.add_pod(Pod(namespace="default", name="p", uid=""))
    assert cluster.changes > start


def test_an_unchanged_world_is_not_snapshotted_again() -> None:
    taken: list[int] = []
    version = [1]

    def snapshot() -> dict[str, tuple[Any, dict[str, Any]]]:
        taken.append(version[0])
        return {"a": (version[0], {"v": version[0]})}

    feed = ChangeFeed({"pods": snapshot}, version=lambda: version[0])
    first = feed.sync("pods")
    assert feed.sync("pods") == first
    assert taken == [1]
    version[0] = 2
    assert feed.sync("pods") == first + 1  # one MODIFIED event
    assert taken == [1, 2]
