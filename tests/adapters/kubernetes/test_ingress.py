"""`KubernetesCluster` Ingress calls through the real client and a scripted HTTP transport."""

from __future__ import annotations

import pytest

from tests.adapters.kubernetes.test_client import FakeTransport, clock, cluster, status, transport
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import IngressBackend

__all__ = ["clock", "cluster", "transport"]

ANNOTATION = "alb.ingress.kubernetes.io/actions.web-rollout"
INGRESS = {
    "metadata": {
        "name": "web",
        "namespace": "shop",
        "resourceVersion": "12",
        "annotations": {ANNOTATION: '{"type":"forward"}', "other": "kept"},
    },
    "spec": {
        "ingressClassName": "alb",
        "defaultBackend": {"service": {"name": "fallback", "port": {"number": 8080}}},
        "rules": [
            {
                "host": "web.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/*",
                            "pathType": "ImplementationSpecific",
                            "backend": {
                                "service": {
                                    "name": "web-rollout",
                                    "port": {"name": "use-annotation"},
                                }
                            },
                        },
                        {
                            "path": "/static",
                            "pathType": "Prefix",
                            "backend": {"resource": {"kind": "StorageBucket", "name": "s"}},
                        },
                    ]
                },
            }
        ],
    },
}


def test_get_ingress_reads_annotations_and_service_backends(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    transport.reply(200, INGRESS)

    ingress = cluster.get_ingress("shop", "web")

    assert transport.requests[0].path == "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web"
    assert ingress.key == "shop/web"
    assert ingress.ingress_class == "alb"
    assert ingress.resource_version == "12"
    assert ingress.annotations[ANNOTATION] == '{"type":"forward"}'
    # The resource backend routes to no Service: it is left out.
    assert ingress.backends == (
        IngressBackend("fallback", "8080"),
        IngressBackend("web-rollout", "use-annotation", "web.example.com", "/*"),
    )


def test_patch_ingress_annotations_sends_only_those(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    transport.reply(200, INGRESS)

    cluster.patch_ingress_annotations("shop", "web", {ANNOTATION: "{}", "gone": None})

    request = transport.requests[0]
    assert (request.method, request.path) == (
        "PATCH",
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses/web",
    )
    assert request.body == {"metadata": {"annotations": {ANNOTATION: "{}", "gone": None}}}


def test_a_missing_ingress(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(404, status(404, 'ingresses.networking.k8s.io "web" not found'))

    with pytest.raises(NotFoundError, match="shop/web"):
        cluster.get_ingress("shop", "web")
