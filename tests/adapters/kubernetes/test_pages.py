"""Bulk lists read as raw pages: projected pod pages, the next page fetched while one decodes,
equal pod specs shared, big results frozen out of the collector, the sandbox's cached texts.

Speed is `make bench`'s business (benchmarks/plan_real_path.py); these pin the behaviour that
the speed must not change."""

from __future__ import annotations

import gc
import json
import threading
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from benchmarks.production_pods import production_pod
from tests.sandbox.apiserver.fixtures import build_world
from upgrader.adapters.kubernetes import pages, projection, wire
from upgrader.core.errors import ServiceUnavailableError
from upgrader.sandbox.apiserver import lists, objects
from upgrader.sandbox.clock import VirtualClock


def _pod(name: str, node: str, *, cpu: str = "100m") -> dict[str, Any]:
    return {
        "metadata": {"namespace": "shop", "name": name, "uid": f"uid-{name}"},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "main", "resources": {"requests": {"cpu": cpu}}}],
        },
        "status": {"phase": "Running"},
    }


class _Body:
    def __init__(self, document: dict[str, Any]) -> None:
        self.data = json.dumps(document).encode()


class PagedServer:
    """A list call over `items`, `limit` at a time; the token is the next offset. Records each
    call and the thread it came on."""

    def __init__(self, items: list[dict[str, Any]], *, expire: str | None = None) -> None:
        self.items = items
        self.calls: list[str | None] = []
        self.threads: set[str] = set()
        self._expire = expire  # a token answered once with 410

    def __call__(self, *, limit: int, _continue: str | None, **_: Any) -> _Body:
        self.calls.append(_continue)
        self.threads.add(threading.current_thread().name)
        if _continue is not None and _continue == self._expire:
            self._expire = None
            raise ApiException(status=410, reason="Expired")
        start = int(_continue or 0)
        end = start + limit
        meta = {"resourceVersion": "7"}
        if end < len(self.items):
            meta["continue"] = str(end)
        return _Body({"kind": "PodList", "metadata": meta, "items": self.items[start:end]})


def test_pages_are_read_in_order_and_fetched_beside_the_decoding() -> None:
    server = PagedServer([_pod(f"p{i}", f"n{i % 3}") for i in range(7)])

    pods, version = pages.list_decoded_at(server, wire.pod, page_size=2)

    assert [p.name for p in pods] == [f"p{i}" for i in range(7)]
    assert version == "7"
    assert server.calls == [None, "2", "4", "6"]  # one at a time, in order, none twice
    assert threading.current_thread().name not in server.threads  # fetched by the fetcher


def test_an_expired_continue_token_starts_the_list_over_once() -> None:
    server = PagedServer([_pod(f"p{i}", "n") for i in range(5)], expire="4")

    pods = pages.list_decoded(server, wire.pod, page_size=2)

    assert [p.name for p in pods] == [f"p{i}" for i in range(5)]
    assert server.calls == [None, "2", "4", None, "2", "4"]


def test_a_server_repeating_its_continue_token_is_refused() -> None:
    def stuck(**_: Any) -> _Body:
        return _Body({"metadata": {"continue": "same"}, "items": []})

    with pytest.raises(ServiceUnavailableError, match="repeated continue token"):
        pages.list_decoded(stuck, wire.pod)


def test_a_big_result_is_frozen_out_of_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "FREEZE_AT", 3)
    gc.unfreeze()
    try:
        pages.list_decoded(PagedServer([_pod("a", "n"), _pod("b", "n")]), wire.pod)
        assert gc.get_freeze_count() == 0  # below the mark: left to the collector
        pages.list_decoded(PagedServer([_pod(f"p{i}", "n") for i in range(3)]), wire.pod)
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_projected_pages_decode_production_pods_like_whole_ones() -> None:
    """The padded pods of the benchmark: every field eksup reads, and much it does not."""
    cluster = build_world(VirtualClock())
    served = [production_pod(p) for p in cluster.list_pods()]
    body = json.dumps({"metadata": {"continue": "x"}, "items": served}).encode()

    projected, meta = projection.pods(body)

    assert meta == {"continue": "x"}
    assert [wire.pod(p) for p in projected] == [wire.pod(p) for p in served]
    assert all("managedFields" not in p["metadata"] for p in projected)
    assert len(json.dumps(projected)) < len(json.dumps(served)) / 3


def test_projected_pages_keep_the_schedulers_message_and_the_start_time() -> None:
    """A Pending pod's PodScheduled=False message (the drain's "no room" report quotes it) and
    a running container's startedAt survive the projection."""
    pending = _pod("pending", "")
    pending["status"] = {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu.",
            }
        ],
    }
    running = _pod("running", "n")
    running["status"] = {
        "phase": "Running",
        "containerStatuses": [
            {"restartCount": 0, "state": {"running": {"startedAt": "2026-01-01T00:00:07Z"}}}
        ],
    }
    served = [pending, running]

    projected, _ = projection.pods(json.dumps({"items": served}).encode())

    decoded = [wire.pod(p) for p in projected]
    assert decoded == [wire.pod(p) for p in served]
    assert decoded[0].unschedulable == "0/3 nodes are available: 3 Insufficient cpu."
    assert decoded[1].started_at == wire.epoch("2026-01-01T00:00:07Z")


def test_a_pod_page_of_unexpected_shape_is_decoded_whole() -> None:
    odd = _pod("odd", "n")
    odd["spec"]["containers"] = "not a list"
    items, _ = projection.pods(json.dumps({"items": [odd]}).encode())
    assert items == [odd]


@pytest.mark.parametrize(
    ("body", "meta"),
    [
        (b'{"kind":"PodList","metadata":{"continue":"x"},"items":[{"a":1}]}', {"continue": "x"}),
        (b'{"items":[{"a":1}],"metadata":{"continue":"y"}}', {"continue": "y"}),
        (b'{"metadata":{"continue":"\\"items\\":"},"items":[]}', {"continue": '"items":'}),
        (b'{"items":[]}', {}),
    ],
)
def test_the_continue_token_is_read_wherever_the_metadata_is(
    body: bytes, meta: dict[str, str]
) -> None:
    assert projection.head(body) == meta


def test_pods_of_one_template_share_one_spec_whatever_their_node() -> None:
    a, b, other = _pod("a", "n1"), _pod("b", "n2"), _pod("c", "n1", cpu="200m")

    first, second, third = wire.pod(a), wire.pod(b), wire.pod(other)

    assert first.spec is second.spec
    assert first.node_name == "n1"
    assert second.node_name == "n2"
    assert third.spec is not first.spec
    assert third.spec.requests.cpu_millis == 200
    assert first.spec == wire.pod_spec(a["spec"])


def test_sandbox_list_pages_reuse_each_object_text_until_it_changes() -> None:
    cluster = build_world(VirtualClock())
    cache = lists.WireCache(objects.pod)
    state = cache.snapshot((p.key, p) for p in cluster.list_pods())
    wires = [w for _, w in state.values()]

    body = lists.list_body("PodList", "v1", 3, wires, "")

    assert json.loads(body)["items"] == json.loads(json.dumps(wires))
    assert all(isinstance(w, lists.Wire) and w.text is not None for w in wires)
    assert lists.list_body("PodList", "v1", 3, wires, "") == body
    again = cache.snapshot((p.key, p) for p in cluster.list_pods())
    assert all(again[k][1] is state[k][1] for k in state)  # unchanged values keep their text
