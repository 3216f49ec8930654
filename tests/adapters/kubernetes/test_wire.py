"""`wire` decodes the adapter's reads the same whichever way they arrive.

Two sources of objects: every case of `kubernetes/test_wire_models.py` (objects built with the
client's models, decoded from the JSON they serialize to, pods whole and projected), checked
here to exercise every decoder; and the demo world served by the sandbox's API server, where the
bulk lists (pages, projected pods) must equal the single reads (whole objects, `_json`) and the
JSON the client's own models parse and serialize back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from tests.adapters.kubernetes import test_wire_models as model_cases
from upgrader.adapters.kubernetes import wire
from upgrader.adapters.kubernetes.client import KubernetesCluster, list_all
from upgrader.core.kube import WorkloadKind
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.world import Sandbox

DECODERS = (
    "pod",
    "pod_spec",
    "pod_requests",
    "node",
    "pod_disruption_budget",
    "service",
    "ingress",
    "horizontal_pod_autoscaler",
    "lease",
    "config_map",
)
CASES = sorted(n for n in vars(model_cases) if n.startswith("test_"))
_SERIALIZER = ApiClient()


def test_every_decoder_is_exercised_by_the_model_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()

    def spy(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen.add(name)
            return original(*args, **kwargs)

        return call

    for name in DECODERS:
        monkeypatch.setattr(wire, name, spy(name, getattr(wire, name)))
    workloads = {kind: spy(kind.value, decode) for kind, decode in wire.WORKLOADS.items()}
    monkeypatch.setattr(wire, "WORKLOADS", workloads)
    for case in CASES:
        getattr(model_cases, case)()
    assert seen == set(DECODERS) | {kind.value for kind in WorkloadKind}


@pytest.fixture(scope="module")
def served_demo() -> Iterator[KubernetesCluster]:
    with Sandbox() as world:
        build_demo_world(world)
        with KubeServer(world.kube(DEMO_CLUSTER), world.clock) as server:
            yield KubernetesCluster(ApiClient(Configuration(host=server.url)), page_size=7)


def _through_models(items: list[Any], decode: Callable[[Any], Any]) -> list[Any]:
    """What the client's models parse of the served objects, serialized back and decoded."""
    return [decode(_SERIALIZER.sanitize_for_serialization(item)) for item in items]


def test_bulk_lists_equal_single_reads_and_the_models_json(
    served_demo: KubernetesCluster,
) -> None:
    cluster = served_demo
    pods = cluster.list_pods()
    assert len(pods) > 50  # many pages of 7
    assert pods == [cluster.get_pod(p.namespace, p.name) for p in pods]
    modelled = list_all(cluster.core.list_pod_for_all_namespaces, page_size=7)
    assert pods == _through_models(modelled, wire.pod)

    nodes = cluster.list_nodes()
    assert nodes == [cluster.get_node(n.name) for n in nodes]
    assert nodes == _through_models(list_all(cluster.core.list_node, page_size=7), wire.node)

    pdbs = list_all(cluster.policy.list_pod_disruption_budget_for_all_namespaces, page_size=7)
    assert cluster.list_pdbs() == _through_models(pdbs, wire.pod_disruption_budget)

    services = list_all(cluster.core.list_service_for_all_namespaces, page_size=7)
    assert cluster.list_services() == _through_models(services, wire.service)
    assert cluster.list_services() == [
        cluster.get_service(s.namespace, s.name) for s in cluster.list_services()
    ]

    for kind, listing in (
        (WorkloadKind.DEPLOYMENT, cluster.apps.list_deployment_for_all_namespaces),
        (WorkloadKind.STATEFUL_SET, cluster.apps.list_stateful_set_for_all_namespaces),
    ):
        workloads = cluster.list_workloads(kind)
        assert workloads, kind
        assert workloads == _through_models(list_all(listing, page_size=7), wire.WORKLOADS[kind])
        assert workloads == [cluster.get_workload(kind, w.namespace, w.name) for w in workloads]
