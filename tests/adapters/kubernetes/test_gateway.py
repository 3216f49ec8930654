"""`KubernetesCluster` on HTTPRoutes: the requests the real client sends, through a scripted
transport, and the JSON conversion both ways."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from tests.adapters.kubernetes.test_client import FakeTransport, status
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import BackendRef, RequestMirror
from upgrader.sandbox.clock import VirtualClock

PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/web"


def route_json(
    version: str, generation: int, mirrors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
        "backendRefs": [{"name": "web-stable", "port": 80, "weight": 1}],
        "timeouts": {"request": "10s"},
    }
    if mirrors:
        rule["filters"] = mirrors
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "resourceVersion": version,
            "generation": generation,
        },
        "spec": {"parentRefs": [{"name": "public"}], "rules": [rule]},
        "status": {
            "parents": [
                {
                    "parentRef": {"name": "public"},
                    "controllerName": "example.com/gateway",
                    "conditions": [
                        {"type": "Accepted", "status": "True", "observedGeneration": generation},
                        {
                            "type": "ResolvedRefs",
                            "status": "False",
                            "observedGeneration": generation,
                            "message": "Service web-v3 not found",
                        },
                    ],
                }
            ]
        },
    }


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def cluster(transport: FakeTransport) -> Iterator[KubernetesCluster]:
    api_client = ApiClient(Configuration(host="https://k8s.example:6443"))
    api_client.rest_client = transport
    yield KubernetesCluster(api_client, clock=VirtualClock())
    assert transport.replies == [], "scripted replies left unused"


def test_get_http_route_reads_rules_and_status(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    transport.reply(200, route_json("7", 3))

    route = cluster.get_http_route("shop", "web")

    assert transport.requests[0].method == "GET"
    assert transport.requests[0].path == PATH
    assert (route.resource_version, route.generation) == ("7", 3)
    assert route.rules[0].backend_refs == (BackendRef("web-stable", 80),)
    assert route.rules[0].extra == {"timeouts": {"request": "10s"}}
    (parent,) = route.parents
    assert parent.parent == "shop/public"
    assert parent.accepted
    assert not parent.resolved_refs
    assert parent.observed_generation == 3
    assert parent.message == "Service web-v3 not found"


def test_replace_rules_puts_the_object_back_with_the_callers_version(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    mirror = {
        "type": "RequestMirror",
        "requestMirror": {"backendRef": {"name": "web-v2", "port": 80}, "percent": 25},
    }
    transport.reply(200, route_json("8", 3))
    current = cluster.get_http_route("shop", "web")  # read first, as every writer does
    transport.requests.clear()
    transport.reply(200, route_json("8", 3))
    transport.reply(200, route_json("9", 4, [mirror]))
    rules = [replace(current.rules[0], mirrors=(RequestMirror(BackendRef("web-v2", 80), 25),))]

    replaced = cluster.replace_http_route_rules("shop", "web", rules, "8")

    put = transport.requests[1]
    assert (put.method, put.path) == ("PUT", PATH)
    assert put.body["metadata"]["resourceVersion"] == "8"
    assert "status" not in put.body
    assert put.body["spec"]["parentRefs"] == [{"name": "public"}]  # kept as it was
    assert put.body["spec"]["rules"][0]["filters"] == [mirror]
    assert put.body["spec"]["rules"][0]["timeouts"] == {"request": "10s"}
    assert replaced.rules[0].mirrors == (RequestMirror(BackendRef("web-v2", 80), 25),)
    assert replaced.generation == 4


def test_replace_rules_conflict_and_missing_route(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    transport.reply(200, route_json("8", 3))
    transport.reply(409, status(409, "the object has been modified"))
    with pytest.raises(ConflictError):
        cluster.replace_http_route_rules("shop", "web", [], "7")

    transport.reply(404, status(404, 'httproutes.gateway.networking.k8s.io "web" not found'))
    with pytest.raises(NotFoundError):
        cluster.get_http_route("shop", "web")

    with pytest.raises(ConflictError, match="no resource_version"):
        cluster.replace_http_route_rules("shop", "web", [], "")
