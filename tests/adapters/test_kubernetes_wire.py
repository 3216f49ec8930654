"""The raw-JSON decoder (`kubernetes_wire`, bulk reads) agrees with the model conversion
(`kubernetes_convert`, single reads) on every object either sees.

Two sources of objects: every case of test_kubernetes_convert, re-run with each conversion
checked against the wire decoder on the JSON the client would have received for the same model
(`ApiClient.sanitize_for_serialization`); and the demo world served by the sandbox's API server,
listed through the real adapter both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration

from tests.adapters.kubernetes import test_convert as convert_cases
from upgrader.adapters.kubernetes import convert, projection, wire
from upgrader.adapters.kubernetes.client import KubernetesCluster, list_all
from upgrader.core.kube import WorkloadKind
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.world import Sandbox

PAIRS: dict[str, Callable[[Any], Any]] = {
    "pod": wire.pod,
    "pod_spec": wire.pod_spec,
    "pod_requests": wire.pod_requests,
    "node": wire.node,
    "pod_disruption_budget": wire.pod_disruption_budget,
    "service": wire.service,
    "deployment": wire.WORKLOADS[WorkloadKind.DEPLOYMENT],
    "stateful_set": wire.WORKLOADS[WorkloadKind.STATEFUL_SET],
    "replica_set": wire.WORKLOADS[WorkloadKind.REPLICA_SET],
    "daemon_set": wire.WORKLOADS[WorkloadKind.DAEMON_SET],
    "job": wire.WORKLOADS[WorkloadKind.JOB],
}
CASES = sorted(n for n in vars(convert_cases) if n.startswith("test_"))
_SERIALIZER = ApiClient()


@pytest.mark.parametrize("case", CASES)
def test_wire_agrees_with_the_models_on_every_conversion_case(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    for name, decode in PAIRS.items():
        model_convert = getattr(convert, name)

        def both(
            model: Any, _name: str = name, _model: Any = model_convert, _wire: Any = decode
        ) -> Any:
            expected = _model(model)
            served = _SERIALIZER.sanitize_for_serialization(model)
            assert _wire(served) == expected, _name
            # Pod lists arrive projected to the fields `wire.pod` reads (`projection`).
            if _name == "pod":
                assert _wire(projection.pod(served)) == expected, "projected pod"
            elif _name in ("pod_spec", "pod_requests"):
                projected = projection.pod({"spec": served})["spec"]
                assert _wire(projected) == expected, f"projected {_name}"
            checked.append(_name)
            return expected

        monkeypatch.setattr(convert, name, both)
    getattr(convert_cases, case)()


def test_every_decoder_was_exercised_by_the_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    for name in PAIRS:
        original = getattr(convert, name)

        def spy(model: Any, _name: str = name, _original: Any = original) -> Any:
            seen.add(_name)
            return _original(model)

        monkeypatch.setattr(convert, name, spy)
    for case in CASES:
        getattr(convert_cases, case)()
    assert seen == set(PAIRS)


@pytest.fixture(scope="module")
def served_demo() -> Iterator[KubernetesCluster]:
    with Sandbox() as world:
        build_demo_world(world)
        with KubeServer(world.kube(DEMO_CLUSTER), world.clock) as server:
            yield KubernetesCluster(ApiClient(Configuration(host=server.url)), page_size=7)


def test_bulk_lists_decode_the_served_demo_world_like_the_models(
    served_demo: KubernetesCluster,
) -> None:
    cluster = served_demo
    pods = list_all(cluster.core.list_pod_for_all_namespaces, page_size=7)
    assert cluster.list_pods() == [convert.pod(p) for p in pods]
    assert len(pods) > 50  # many pages of 7
    nodes = list_all(cluster.core.list_node, page_size=7)
    assert cluster.list_nodes() == [convert.node(n) for n in nodes]
    pdbs = list_all(cluster.policy.list_pod_disruption_budget_for_all_namespaces, page_size=7)
    assert cluster.list_pdbs() == [convert.pod_disruption_budget(p) for p in pdbs]
    deployments = list_all(cluster.apps.list_deployment_for_all_namespaces, page_size=7)
    assert cluster.list_workloads(WorkloadKind.DEPLOYMENT) == [
        convert.deployment(d) for d in deployments
    ]
    sets = list_all(cluster.apps.list_stateful_set_for_all_namespaces, page_size=7)
    assert cluster.list_workloads(WorkloadKind.STATEFUL_SET) == [
        convert.stateful_set(s) for s in sets
    ]
