"""The real Kubernetes adapter against the sandbox API server: the FakeCluster's behaviour must
survive the trip through the official Python client and back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes.client import CoreV1Api

from tests.sandbox.apiserver.fixtures import Served, serve
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.errors import (
    ConflictError,
    EvictionBlockedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
)
from upgrader.core.kube import (
    ConfigMap,
    HelmRelease,
    LabelSelector,
    Lease,
    Pod,
    PodDisruptionBudget,
    Taint,
    TaintEffect,
    WorkloadKind,
)
from upgrader.sandbox.clock import SANDBOX_EPOCH


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


@pytest.fixture
def kube(served: Served) -> KubernetesCluster:
    return KubernetesCluster.from_kubeconfig(str(served.kubeconfig), clock=served.clock)


def _facts(pod: Pod) -> tuple[object, ...]:
    """What survives the wire (the client counts a pod slot into requests; the fake does not)."""
    return (
        pod.key,
        pod.uid,
        dict(pod.labels),
        pod.owner,
        pod.node_name,
        pod.phase,
        pod.ready,
        pod.created_at,
        pod.ready_since,
        pod.spec.volumes,
        pod.spec.tolerations,
        pod.spec.termination_grace_seconds,
        pod.spec.requests.cpu_millis,
        pod.spec.requests.memory_bytes,
    )


def _web_pods(kube: KubernetesCluster) -> list[str]:
    return [p.name for p in kube.list_pods("default", label_selector="app=web")]


def test_nodes_and_pods_read_as_the_fake_has_them(served: Served, kube: KubernetesCluster) -> None:
    assert kube.list_nodes() == served.cluster.list_nodes()
    assert kube.get_node("node-1") == served.cluster.get_node("node-1")
    assert kube.server_version() == "v1.29.8-eks-a737599"
    on_node_1 = kube.list_pods(node_name="node-1")
    assert [_facts(p) for p in on_node_1] == [
        _facts(p) for p in served.cluster.list_pods(node_name="node-1")
    ]
    assert {p.owner.kind for p in on_node_1 if p.owner} == {"ReplicaSet", "DaemonSet"}
    assert all(p.spec.volumes[0].empty_dir for p in on_node_1 if p.labels.get("app") == "web")
    bare = kube.get_pod("default", "bare")
    assert bare.owner is None
    assert bare.node_name == "node-3"
    with pytest.raises(NotFoundError):
        kube.get_pod("default", "nope")
    with pytest.raises(NotFoundError):
        kube.get_node("node-9")


def test_lists_page(served: Served) -> None:
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig), page_size=2)
    assert [p.key for p in kube.list_pods()] == [p.key for p in served.cluster.list_pods()]
    assert len(kube.list_pods()) == 6
    pages = [t for m, t, code in served.server.requests if t.startswith("/api/v1/pods?")]
    # Two lists of 6 pods in pages of 2: each a first page and two continued ones.
    assert len(pages) == 6
    assert sum("continue=" in t for t in pages) == 4


def test_cordon_and_taints_reach_the_fake(served: Served, kube: KubernetesCluster) -> None:
    assert kube.set_unschedulable("node-1", True).unschedulable
    assert served.cluster.get_node("node-1").unschedulable
    assert not kube.set_unschedulable("node-1", False).unschedulable
    assert not served.cluster.get_node("node-1").unschedulable

    upgrade = Taint("upgrade", TaintEffect.NO_SCHEDULE, "true")
    other = Taint("other", TaintEffect.PREFER_NO_SCHEDULE)
    kube.add_taint("node-1", upgrade)
    kube.add_taint("node-1", other)
    assert set(served.cluster.get_node("node-1").taints) == {upgrade, other}
    kube.add_taint("node-1", Taint("upgrade", TaintEffect.NO_SCHEDULE, "v2"))
    kube.remove_taint("node-1", "other", TaintEffect.PREFER_NO_SCHEDULE)
    assert served.cluster.get_node("node-1").taints == (
        Taint("upgrade", TaintEffect.NO_SCHEDULE, "v2"),
    )


def test_a_server_dry_run_answers_every_write_and_keeps_none(
    served: Served, kube: KubernetesCluster
) -> None:
    twin = kube.server_dry_run()
    before = served.cluster.get_node("node-1")
    assert twin.set_unschedulable("node-1", True).name == "node-1"
    twin.add_taint("node-1", Taint("upgrade", TaintEffect.NO_SCHEDULE, "true"))
    assert served.cluster.get_node("node-1") == before
    web = served.cluster.get_workload(WorkloadKind.DEPLOYMENT, "default", "web")
    twin.scale_workload(WorkloadKind.DEPLOYMENT, "default", "web", 9)
    first, _ = _web_pods(kube)
    twin.evict_pod("default", first)
    assert served.cluster.get_workload(WorkloadKind.DEPLOYMENT, "default", "web") == web
    assert served.cluster.get_pod("default", first).deletion_timestamp is None
    with pytest.raises(NotFoundError):
        twin.set_unschedulable("node-9", True)
    writes = [r for r in served.server.requests if r[0] != "GET"]
    assert writes
    assert all("dryRun=All" in target for _, target, _ in writes)


def test_eviction_success_then_pdb_refusal(served: Served, kube: KubernetesCluster) -> None:
    first, second = _web_pods(kube)
    kube.evict_pod("default", first)
    assert served.cluster.get_pod("default", first).is_terminating
    with pytest.raises(EvictionBlockedError) as refused:
        kube.evict_pod("default", second)
    assert refused.value.pdbs == ("web-pdb",)
    assert refused.value.retry_after is None
    (budget,) = kube.list_pdbs()
    assert (budget.current_healthy, budget.desired_healthy, budget.disruptions_allowed) == (
        1,
        1,
        0,
    )
    assert budget == served.cluster.list_pdbs()[0]
    assert budget.selector == LabelSelector({"app": "web"})
    assert served.cluster.stats.evictions_refused_by_pdb == {"default/web-pdb": 1}
    with pytest.raises(NotFoundError):
        kube.evict_pod("default", "nope")


def test_eviction_under_two_pdbs_and_in_a_terminating_namespace(
    served: Served, kube: KubernetesCluster
) -> None:
    served.cluster.add_pdb(
        PodDisruptionBudget("default", "web-too", LabelSelector({"app": "web"}), max_unavailable=1)
    )
    with pytest.raises(MultiplePdbsError):
        kube.evict_pod("default", _web_pods(kube)[0])
    served.cluster.mark_namespace_terminating("kube-system")
    agent = kube.list_pods("kube-system")[0]
    with pytest.raises(NamespaceTerminatingError):
        kube.evict_pod("kube-system", agent.name)


def test_workloads(served: Served, kube: KubernetesCluster) -> None:
    web = kube.get_workload(WorkloadKind.DEPLOYMENT, "default", "web")
    assert (web.replicas, web.ready_replicas) == (2, 2)
    agent = kube.get_workload(WorkloadKind.DAEMON_SET, "kube-system", "node-agent")
    assert agent.replicas is None
    assert agent.ready_replicas == 3
    (replica_set,) = kube.list_workloads(WorkloadKind.REPLICA_SET)
    assert replica_set.owner is not None
    assert replica_set.owner.name == "web"
    assert kube.scale_workload(WorkloadKind.DEPLOYMENT, "default", "web", 3).replicas == 3
    assert served.cluster.get_workload(WorkloadKind.DEPLOYMENT, "default", "web").replicas == 3


def test_lease_compare_and_swap(kube: KubernetesCluster) -> None:
    lease = Lease("kube-system", "eksup-lock", "me", SANDBOX_EPOCH, SANDBOX_EPOCH, 60)
    created = kube.create_lease(lease)
    assert created.resource_version
    assert kube.get_lease("kube-system", "eksup-lock") == created
    with pytest.raises(ConflictError):
        kube.create_lease(lease)
    renewed = kube.update_lease(
        Lease(
            "kube-system",
            "eksup-lock",
            "me",
            SANDBOX_EPOCH,
            SANDBOX_EPOCH + 30.5,
            60,
            created.resource_version,
        )
    )
    assert renewed.renewed_at == SANDBOX_EPOCH + 30.5
    assert renewed.resource_version != created.resource_version
    with pytest.raises(ConflictError):  # the stale version of someone who lost the race
        kube.update_lease(
            Lease("kube-system", "eksup-lock", "you", 0, 0, 60, created.resource_version)
        )
    kube.delete_lease("kube-system", "eksup-lock")
    with pytest.raises(NotFoundError):
        kube.get_lease("kube-system", "eksup-lock")


def test_config_maps(kube: KubernetesCluster) -> None:
    with pytest.raises(NotFoundError):
        kube.get_config_map("kube-system", "eksup-journal")
    first = kube.apply_config_map(ConfigMap("kube-system", "eksup-journal", {"a": "1"}))
    second = kube.apply_config_map(ConfigMap("kube-system", "eksup-journal", {"a": "2"}))
    assert second.resource_version != first.resource_version
    assert kube.get_config_map("kube-system", "eksup-journal").data == {"a": "2"}
    with pytest.raises(ConflictError):
        kube.apply_config_map(
            ConfigMap("kube-system", "eksup-journal", {"a": "3"}, first.resource_version)
        )


def test_deprecated_api_metric(served: Served, kube: KubernetesCluster) -> None:
    from upgrader.core.kube import DeprecatedApiRequest

    request = DeprecatedApiRequest("policy", "v1beta1", "poddisruptionbudgets", "", "1.25")
    served.cluster.record_deprecated_api_request(request)
    assert kube.deprecated_api_requests() == [request]


def test_unknown_routes_answer_a_status(served: Served) -> None:
    import json
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{served.server.url}/apis/nope/v1/things", timeout=5)
    assert missing.value.code == 404
    assert json.load(missing.value)["reason"] == "NotFound"


def test_helm_releases_through_their_secrets(served: Served, kube: KubernetesCluster) -> None:
    manifest = "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata:\n  name: old\n"
    served.cluster.add_helm_release(HelmRelease("monitoring", "agent", 1, "kind: ConfigMap\n"))
    served.cluster.add_helm_release(HelmRelease("monitoring", "agent", 2, manifest))
    served.cluster.add_helm_release(HelmRelease("shop", "web", 7, "kind: Service\n"))
    assert kube.helm_releases() == [
        HelmRelease("monitoring", "agent", 2, manifest),
        HelmRelease("shop", "web", 7, "kind: Service\n"),
    ]
    secrets = CoreV1Api(kube.api_client).list_namespaced_secret("shop", label_selector="owner=helm")
    assert [(s.metadata.name, s.type) for s in secrets.items] == [
        ("sh.helm.release.v1.web.v7", "helm.sh/release.v1")
    ]
