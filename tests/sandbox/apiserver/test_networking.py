"""Ingress and HTTPRoute through the official Python client and the sandbox API server: what
the `alb-ingress` and `gateway-api` rollout providers read and write must survive the trip.

Real behaviour the server follows: an Ingress annotation patch is a merge of
`metadata.annotations` (null removes a key; Kubernetes' JSON merge patch, RFC 7386); an
HTTPRoute replace carries `metadata.resourceVersion` and is refused with 409 Conflict when the
object changed meanwhile (the API server's optimistic concurrency, "the object has been
modified"); a spec change bumps `metadata.generation`, and a parent's conditions report the
generation they observed (Gateway API `RouteParentStatus`, gateway-api apis/v1/httproute_types.go).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.errors import ConflictError, NotFoundError
from upgrader.core.kube import (
    ALB_ACTIONS_ANNOTATION_PREFIX,
    USE_ANNOTATION_PORT,
    BackendRef,
    HTTPRoute,
    HTTPRouteRule,
    Ingress,
    IngressBackend,
    RequestMirror,
    Service,
)

NS = "default"
ACTION = ALB_ACTIONS_ANNOTATION_PREFIX + "web-weighted"
HEADER_MATCH = {
    "headers": [{"type": "RegularExpression", "name": "Cookie", "value": ".*variant=b.*"}],
    "path": {"type": "PathPrefix", "value": "/"},
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    for served in serve(tmp_path):
        cluster = served.cluster
        for name in ("web", "web-candidate"):
            cluster.add_service(Service(NS, name, {"app": name}))
        cluster.add_ingress(
            Ingress(
                NS,
                "web",
                annotations={ACTION: '{"type":"forward"}', "team": "shop"},
                ingress_class="alb",
                backends=(
                    IngressBackend("web-ab", USE_ANNOTATION_PORT, host="shop.example", path="/*"),
                    IngressBackend(
                        "web-weighted", USE_ANNOTATION_PORT, host="shop.example", path="/*"
                    ),
                    IngressBackend("docs", "8080", path="/docs"),
                ),
            )
        )
        cluster.add_http_route(
            HTTPRoute(NS, "web", rules=(HTTPRouteRule(backend_refs=(BackendRef("web", 80),)),))
        )
        yield served


@pytest.fixture
def kube(served: Served) -> KubernetesCluster:
    return KubernetesCluster.from_kubeconfig(str(served.kubeconfig))


def test_an_ingress_reads_as_the_fake_has_it(served: Served, kube: KubernetesCluster) -> None:
    read = kube.get_ingress(NS, "web")
    assert read == served.cluster.get_ingress(NS, "web")
    # The paths keep their order: the Load Balancer Controller's priorities follow it.
    assert [(b.service, b.host, b.path) for b in read.backends] == [
        ("web-ab", "shop.example", "/*"),
        ("web-weighted", "shop.example", "/*"),
        ("docs", "", "/docs"),
    ]
    with pytest.raises(NotFoundError):
        kube.get_ingress(NS, "missing")


def test_an_annotation_patch_merges_and_null_removes(
    served: Served, kube: KubernetesCluster
) -> None:
    before = kube.get_ingress(NS, "web")
    patched = kube.patch_ingress_annotations(NS, "web", {ACTION: '{"type":"x"}', "team": None})
    assert patched.annotations == {ACTION: '{"type":"x"}'}
    assert patched.resource_version != before.resource_version
    assert served.cluster.get_ingress(NS, "web").annotations == {ACTION: '{"type":"x"}'}


def test_a_route_with_a_mirror_and_a_header_match_round_trips(
    served: Served, kube: KubernetesCluster
) -> None:
    route = kube.get_http_route(NS, "web")
    assert route == served.cluster.get_http_route(NS, "web")
    assert [(p.accepted, p.resolved_refs, p.observed_generation) for p in route.parents] == [
        (True, True, 1)
    ]
    rules = (
        HTTPRouteRule(backend_refs=(BackendRef("web-candidate", 80),), matches=(HEADER_MATCH,)),
        replace(route.rules[0], mirrors=(RequestMirror(BackendRef("web-candidate", 80), 20),)),
    )
    replaced = kube.replace_http_route_rules(NS, "web", rules, route.resource_version)
    assert replaced.rules == rules
    assert replaced.generation == 2
    assert [(p.accepted, p.resolved_refs, p.observed_generation) for p in replaced.parents] == [
        (True, True, 2)
    ]
    assert served.cluster.get_http_route(NS, "web").rules == rules
    # The old resourceVersion is refused: someone (this very replace) changed the route.
    with pytest.raises(ConflictError):
        kube.replace_http_route_rules(NS, "web", route.rules, route.resource_version)


def test_a_route_to_a_missing_service_is_accepted_with_refs_unresolved(
    kube: KubernetesCluster,
) -> None:
    route = kube.get_http_route(NS, "web")
    rules = (HTTPRouteRule(backend_refs=(BackendRef("nowhere", 80),)),)
    replaced = kube.replace_http_route_rules(NS, "web", rules, route.resource_version)
    parent = replaced.parents[0]
    assert (parent.accepted, parent.resolved_refs) == (True, False)
    assert "nowhere" in parent.message
