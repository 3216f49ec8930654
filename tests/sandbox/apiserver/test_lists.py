"""List pages of the sandbox API server: served from one snapshot per list, as the real API
server serves a chunked list at one resourceVersion (k8s.io/apiserver/pkg/storage/etcd3/
store.go: a continue token carries the list's revision; a compacted one is 410 Expired)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sandbox.apiserver.fixtures import build_world
from upgrader.core.kube import Pod
from upgrader.sandbox.apiserver import objects
from upgrader.sandbox.apiserver.api import KubeApi
from upgrader.sandbox.apiserver.http import Request
from upgrader.sandbox.apiserver.lists import ContinueError, ListPages, WireCache, encode_token
from upgrader.sandbox.clock import VirtualClock


def _get(api: KubeApi, target: str) -> tuple[int, Any]:
    response = api.handle(Request.parse("GET", target, {"Accept": "application/json"}))
    return response.code, json.loads(response.body)


def _names(body: Any) -> list[str]:
    return [i["metadata"]["name"] for i in body["items"]]


def test_continued_pages_show_the_list_as_it_was_at_its_first_page() -> None:
    cluster = build_world(VirtualClock())
    api = KubeApi(cluster, lambda: 0.0)
    code, first = _get(api, "/api/v1/pods?limit=2")
    assert code == 200
    listed_at = first["metadata"]["resourceVersion"]
    before = [p.name for p in cluster.list_pods()]
    # A pod joins between two pages: a real API server's later pages do not show it.
    cluster.add_pod(Pod(namespace="default", name="aaa-late", uid="", labels={}, node_name=None))
    names = _names(first)
    token = first["metadata"]["continue"]
    while token:
        code, page = _get(api, f"/api/v1/pods?limit=2&continue={token}")
        assert code == 200
        assert page["metadata"]["resourceVersion"] == listed_at
        names += _names(page)
        token = page["metadata"].get("continue", "")
    assert names == before
    # A new list shows it, at a later resourceVersion.
    code, fresh = _get(api, "/api/v1/pods")
    assert "aaa-late" in _names(fresh)
    assert int(fresh["metadata"]["resourceVersion"]) > int(listed_at)


def test_pages_of_a_filtered_list_cover_exactly_the_matching_objects() -> None:
    cluster = build_world(VirtualClock())
    api = KubeApi(cluster, lambda: 0.0)
    target = "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1&limit=1"
    code, page = _get(api, target)
    names = _names(page)
    while page["metadata"].get("continue"):
        code, page = _get(api, f"{target}&continue={page['metadata']['continue']}")
        assert code == 200
        names += _names(page)
    assert names == [p.name for p in cluster.list_pods(node_name="node-1")]
    assert len(names) == 3


def test_a_continue_token_for_a_dropped_snapshot_is_410_expired() -> None:
    api = KubeApi(build_world(VirtualClock()), lambda: 0.0)
    code, body = _get(api, f"/api/v1/pods?limit=2&continue={encode_token(999, 2)}")
    assert code == 410
    assert body["reason"] == "Expired"
    assert "too old" in body["message"]


def test_a_malformed_continue_token_is_400() -> None:
    api = KubeApi(build_world(VirtualClock()), lambda: 0.0)
    code, body = _get(api, "/api/v1/pods?limit=2&continue=not-a-token")
    assert code == 400
    assert "continue token" in body["message"]


def test_only_the_newest_snapshots_are_kept() -> None:
    pages = ListPages(kept=2)
    items = [(i, {"i": i}) for i in range(3)]

    def at(revision: int) -> Any:
        return lambda: (revision, lambda: items)

    def unused() -> Any:
        raise AssertionError("a continued page takes no new snapshot")

    tokens = [pages.page("q", at(revision), 1, "")[1] for revision in (1, 2, 3)]
    assert pages.page("q", unused, 1, tokens[2])[0] == items[1:2]
    assert pages.page("q", unused, 1, tokens[1])[0] == items[1:2]
    with pytest.raises(ContinueError) as dropped:
        pages.page("q", unused, 1, tokens[0])
    assert dropped.value.expired


def test_the_wire_cache_renders_a_value_once_and_again_when_it_is_replaced() -> None:
    rendered: list[str] = []

    def render(pod: Pod) -> dict[str, Any]:
        rendered.append(pod.name)
        return objects.pod(pod)

    cache = WireCache(render)
    a = Pod(namespace="ns", name="a", uid="", labels={}, node_name=None)
    b = Pod(namespace="ns", name="b", uid="", labels={}, node_name=None)
    first = cache.snapshot([(a.key, a), (b.key, b)])
    again = cache.snapshot([(a.key, a), (b.key, b)])
    assert rendered == ["a", "b"]
    assert again[a.key][1] is first[a.key][1]
    moved = Pod(namespace="ns", name="a", uid="", labels={}, node_name="node-1")
    third = cache.snapshot([(moved.key, moved)])
    assert rendered == ["a", "b", "a"]
    assert third[moved.key][1]["spec"]["nodeName"] == "node-1"
    assert list(third) == [moved.key]  # b is gone from the cache too
