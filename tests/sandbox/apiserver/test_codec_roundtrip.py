"""What the sandbox server sends is what the Kubernetes adapter reads back: the server's JSON
for each object of a world, decoded by the adapter's own decoder (`adapters/kubernetes/wire.py`,
the one the real adapter uses for its bulk reads), gives back the value the FakeCluster holds.

Two codecs still exist (the server's objects.py and services.py render, the adapter's wire.py
decodes; see DESIGN "one codec"); this test is what keeps them from drifting apart until they
are one. The one difference it allows is named below.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.sandbox.apiserver.fixtures import build_world
from upgrader.adapters.kubernetes import wire
from upgrader.core.kube import (
    MATCH_NOTHING,
    LabelSelector,
    Pod,
    PodSpec,
    Service,
    ServicePort,
    Workload,
)
from upgrader.sandbox.apiserver import objects, services, workloads, writes
from upgrader.sandbox.apiserver.api import KubeApi
from upgrader.sandbox.clock import VirtualClock


def _slot(spec: PodSpec) -> PodSpec:
    """A pod takes one of its node's pod slots. The adapter says so in requests.pods (1); the
    FakeCluster counts its pods instead, and the specs worlds are built with leave it at 0."""
    return replace(spec, requests=replace(spec.requests, pods=1))


def _pod(pod: Pod) -> Pod:
    return replace(pod, spec=_slot(pod.spec))


def _workload(workload: Workload) -> Workload:
    template = replace(workload.template, spec=_slot(workload.template.spec))
    return replace(workload, template=template)


def test_the_adapter_reads_back_what_the_sandbox_server_sends() -> None:
    clock = VirtualClock()
    cluster = build_world(clock)
    cluster.add_service(
        Service(
            "default",
            "web",
            {"app": "web"},
            ports=(ServicePort(80, target_port="8080", name="http"), ServicePort(443, name="tls")),
        )
    )
    cluster.add_service(Service("default", "edge", {"app": "web"}, type="LoadBalancer"))
    api = KubeApi(cluster, clock.now)

    for node in cluster.list_nodes():
        assert wire.node(objects.node(node)) == node
    pods = cluster.list_pods()
    assert len(pods) > 3
    for pod in pods:
        assert _pod(wire.pod(objects.pod(pod))) == _pod(pod)
    for workload in cluster.list_workloads():
        decoded = wire.WORKLOADS[workload.kind](workloads.workload_json(api, workload))
        assert _workload(decoded) == _workload(workload), workload.name
    for budget in cluster.list_pdbs():
        sent = objects.pod_disruption_budget(budget, api.created_at)
        assert wire.pod_disruption_budget(sent) == budget
    for service in cluster.list_services():
        decoded = wire.service(services.service_json(api, service))
        # The server gives a Service the world built without an address one of its own.
        assert decoded.cluster_ip.startswith("172.20.")
        assert decoded == replace(service, cluster_ip=decoded.cluster_ip), service.name


def test_the_server_reads_manifests_with_the_adapters_decoder() -> None:
    """A manifest written through kubectl is read as the adapter reads the same object from a
    real cluster: a PDB's null selector selects no pod (policy/v1, as wire.py reads it), and a
    template's requests are kube-scheduler's (an init container's peak counts)."""
    budget = writes.parse_pdb({"metadata": {"name": "b"}, "spec": {"minAvailable": 1}}, "shop")
    assert budget.selector == MATCH_NOTHING
    every = writes.parse_pdb(
        {"metadata": {"name": "b"}, "spec": {"minAvailable": 1, "selector": {}}}, "shop"
    )
    assert every.selector == LabelSelector()
    template = {
        "metadata": {"labels": {"app": "api"}},
        "spec": {
            "priorityClassName": "critical",
            "initContainers": [{"name": "migrate", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [{"name": "main", "resources": {"requests": {"cpu": "500m"}}}],
        },
    }
    read = writes.parse_template(template)
    assert read == wire.pod_template(template)
    assert read.spec.requests.cpu_millis == 2000
    assert read.spec.priority_class == "critical"
    with pytest.raises(writes.BadRequestError, match=r"spec\.template"):
        writes.parse_template(
            {"spec": {"containers": [{"name": "m"}], "tolerations": [{"effect": "Sometimes"}]}}
        )
