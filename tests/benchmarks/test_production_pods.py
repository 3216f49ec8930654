"""The real-path benchmark pads served pods to a production pod's size; the padding must not
change what eksup reads, or the benchmark would plan a different cluster than the in-memory one."""

from __future__ import annotations

import json

from benchmarks.production_pods import production_pod
from tests.sandbox.apiserver.fixtures import build_world
from upgrader.adapters.kubernetes import wire
from upgrader.sandbox.apiserver import objects
from upgrader.sandbox.apiserver.api import KubeApi
from upgrader.sandbox.apiserver.http import Request
from upgrader.sandbox.clock import VirtualClock


def test_padded_pods_decode_to_the_same_pods_and_are_production_sized() -> None:
    cluster = build_world(VirtualClock())
    pods = cluster.list_pods()
    assert pods
    for pod in pods:
        padded = production_pod(pod)
        assert wire.pod(padded) == wire.pod(objects.pod(pod))
        assert "managedFields" in padded["metadata"]
    running = next(p for p in pods if p.node_name)
    assert 5_000 < len(json.dumps(production_pod(running), separators=(",", ":"))) < 8_000


def test_a_server_told_to_pad_serves_padded_pods_in_lists() -> None:
    cluster = build_world(VirtualClock())
    api = KubeApi(cluster, lambda: 0.0, pod_json=production_pod)
    response = api.handle(Request.parse("GET", "/api/v1/pods?limit=2", {}))
    items = json.loads(response.body)["items"]
    assert len(items) == 2
    assert all("managedFields" in item["metadata"] for item in items)
    plain = KubeApi(cluster, lambda: 0.0).handle(Request.parse("GET", "/api/v1/pods", {}))
    assert all("managedFields" not in i["metadata"] for i in json.loads(plain.body)["items"])
