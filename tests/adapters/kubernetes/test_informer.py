"""Informers in the Kubernetes adapter: list once, watch from the list's resourceVersion, resume
from bookmarks, list again on 410 Gone, and fall back to direct reads when a resource cannot be
watched.

The scripted tests play the API server's side as client-go's reflector meets it
(k8s.io/client-go/tools/cache/reflector.go, ListAndWatch): a list answers with a
resourceVersion; a watch from a resourceVersion older than the server keeps is answered 200
with an ERROR event of code 410 once admitted (k8s.io/apiserver/pkg/storage/cacher/cacher.go,
Watch: "other errors must fail with a watch event of type ERROR"), or with HTTP 410 before; a
BOOKMARK carries only a resourceVersion. The served tests run the real adapter against the
sandbox API server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.sandbox.apiserver.fixtures import Served, serve
from upgrader.adapters.kubernetes import informer, wire
from upgrader.adapters.kubernetes.client import KubernetesCluster, list_decoded_at
from upgrader.core.errors import PermissionDeniedError
from upgrader.core.kube import Pod, WorkloadKind

WAIT = 10.0  # real seconds a condition may take before the test fails (it takes milliseconds)


def _node(name: str, version: str, unschedulable: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "resourceVersion": version, "labels": {"pool": "a"}},
        "spec": {"unschedulable": unschedulable},
    }


class _Page:
    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body).encode()


class _Stream:
    """A watch response: its events as lines, split across chunks as a network would."""

    def __init__(self, events: list[dict[str, Any]], *, stays_open: bool = False) -> None:
        text = b"".join(json.dumps(e).encode() + b"\n" for e in events)
        self._chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
        self._open = threading.Event() if stays_open else None

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        yield from self._chunks
        if self._open is not None:
            self._open.wait(WAIT)  # a watch with nothing to say, until the client closes it

    def release_conn(self) -> None:
        pass

    def shutdown(self) -> None:
        if self._open is not None:
            self._open.set()


class ScriptedServer:
    """Answers list and watch calls in order from a script; records what was asked."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []
        self.done = threading.Event()

    def __call__(self, **query: Any) -> Any:
        self.calls.append(query)
        if not self.script:
            self.done.set()
            return _Stream([], stays_open=True)
        answer = self.script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@contextmanager
def _no_translation(verb: str, resource: str) -> Iterator[None]:
    yield


@contextmanager
def _denied(verb: str, resource: str) -> Iterator[None]:
    try:
        yield
    except ApiException as e:
        raise PermissionDeniedError(f"not allowed to {verb} {resource}: {e.status}") from e


def _informers(server: ScriptedServer, errors: Any = _no_translation) -> informer.Informers:
    source = informer.Source("nodes", server, wire.node, lambda n: n.name)
    return informer.Informers({"nodes": source}, errors, list_decoded_at, page_size=500)


def _until(condition: Any) -> None:
    done = threading.Event()
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        done.wait(0.01)
    pytest.fail("the informer never got there")


def test_lists_once_then_follows_the_watch_and_resumes_from_a_bookmark() -> None:
    server = ScriptedServer(
        [
            _Page({"metadata": {"resourceVersion": "10"}, "items": [_node("n1", "7")]}),
            _Stream(
                [
                    {"type": "ADDED", "object": _node("n2", "11")},
                    {"type": "MODIFIED", "object": _node("n1", "12", unschedulable=True)},
                    # Events of other resources and filtered ones moved the revision on.
                    {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "40"}}},
                ]
            ),
            _Stream([{"type": "DELETED", "object": _node("n2", "41")}]),
        ]
    )
    informers = _informers(server)
    try:
        assert [n.name for n in informers.select("nodes") or []] == ["n1"]
        _until(server.done.is_set)
        nodes = informers.select("nodes") or []
        assert [(n.name, n.unschedulable) for n in nodes] == [("n1", True)]
        assert informers.select("nodes", label_selector="pool=b") == []
    finally:
        informers.close()
    watches = [c for c in server.calls if c.get("watch")]
    # The first watch starts at the list's resourceVersion, the next at the bookmark's.
    assert [w["resource_version"] for w in watches[:2]] == ["10", "40"]
    assert all(w["allow_watch_bookmarks"] for w in watches)
    assert sum(1 for c in server.calls if not c.get("watch")) == 1  # one list, never again


def test_an_expired_resource_version_lists_again_from_an_error_event_or_http_410() -> None:
    expired = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    server = ScriptedServer(
        [
            _Page({"metadata": {"resourceVersion": "10"}, "items": [_node("n1", "7")]}),
            _Stream([expired]),
            _Page({"metadata": {"resourceVersion": "50"}, "items": [_node("n3", "45")]}),
            ApiException(status=410, reason="Gone"),
            _Page({"metadata": {"resourceVersion": "60"}, "items": [_node("n4", "55")]}),
        ]
    )
    informers = _informers(server)
    try:
        informers.select("nodes")
        _until(server.done.is_set)
        assert [n.name for n in informers.select("nodes") or []] == ["n4"]
    finally:
        informers.close()
    asked = [(bool(c.get("watch")), c.get("resource_version")) for c in server.calls]
    assert asked[:6] == [
        (False, None),
        (True, "10"),
        (False, None),  # the ERROR event: list again
        (True, "50"),
        (False, None),  # HTTP 410: list again
        (True, "60"),
    ]


def test_a_resource_that_cannot_be_watched_is_read_from_the_server() -> None:
    server = ScriptedServer(
        [
            _Page({"metadata": {"resourceVersion": "10"}, "items": [_node("n1", "7")]}),
            ApiException(status=403, reason="Forbidden"),
        ]
    )
    informers = _informers(server, errors=_denied)
    try:
        informers.select("nodes")
        _until(lambda: informers.select("nodes") is None)  # the caller lists it itself
    finally:
        informers.close()


# ---------------------------------------------------------------- the real adapter, served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from serve(tmp_path)


def _lists(served: Served, since: int) -> list[str]:
    return [t for m, t, _ in served.server.requests[since:] if m == "GET" and "watch=" not in t]


def test_a_drains_reads_come_from_watches_and_see_its_own_eviction_at_once(
    served: Served,
) -> None:
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig))
    with kube.watching():
        kube.list_nodes(label_selector="eks.amazonaws.com/nodegroup=ng-a")
        pods = kube.list_pods(node_name="node-1")
        kube.list_pdbs()
        kube.list_workloads(WorkloadKind.DAEMON_SET)
        kube.list_workloads(WorkloadKind.REPLICA_SET)
        start = len(served.server.requests)
        for _ in range(5):  # five drain rounds' reads
            assert kube.list_pods(node_name="node-1") == pods
            kube.list_nodes(label_selector="eks.amazonaws.com/nodegroup=ng-a")
            kube.list_pdbs()
            kube.list_workloads(WorkloadKind.DAEMON_SET)
        assert _lists(served, start) == []

        web = next(p for p in pods if p.name.startswith("web"))
        (budget,) = kube.list_pdbs()
        assert budget.disruptions_allowed == 1
        kube.evict_pod(web.namespace, web.name)
        # No sleep: the read waits for the eviction's own events (ControllerExpectations).
        after = {p.key: p for p in kube.list_pods(node_name="node-1")}
        assert after[web.key].is_terminating
        assert kube.list_pdbs()[0].disruptions_allowed == 0

        kube.set_unschedulable("node-2", True)
        assert kube.list_nodes(label_selector="kubernetes.io/hostname=node-2")[0].unschedulable
        replica_set = web.owner.name if web.owner else ""
        assert kube.get_workload(WorkloadKind.REPLICA_SET, "default", replica_set).replicas == 2
        # A surge scales a Deployment up, then reads it back to restore it: never the old value.
        kube.list_workloads(WorkloadKind.DEPLOYMENT)
        kube.scale_workload(WorkloadKind.DEPLOYMENT, "default", "web", 3)
        assert kube.get_workload(WorkloadKind.DEPLOYMENT, "default", "web").replicas == 3
        assert _lists(served, start) == ["/apis/apps/v1/deployments?limit=500"]
    # Closed: reads are requests again.
    start = len(served.server.requests)
    kube.list_pdbs()
    assert len(_lists(served, start)) == 1


def test_changes_made_on_the_server_reach_the_cache(served: Served) -> None:
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig))

    def names() -> set[str]:
        return {p.name for p in kube.list_pods(namespace="default", node_name="node-2")}

    with kube.watching():
        assert "late" not in names()
        start = len(served.server.requests)
        # Made in the world itself, not through this client: only the watch can tell.
        served.cluster.add_pod(Pod(namespace="default", name="late", uid="", node_name="node-2"))
        _until(lambda: "late" in names())
        served.cluster.delete_pod("default", "late", 0)
        _until(lambda: "late" not in names())
        assert _lists(served, start) == []  # all from the node's watch


def test_pods_are_followed_only_on_the_nodes_read(served: Served) -> None:
    """The kubelet's way (pkg/kubelet/config/apiserver.go): a field selector on spec.nodeName.
    A pod elsewhere in the cluster is neither listed nor watched; reads of pods not by node go
    to the server."""
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig))
    start = len(served.server.requests)
    with kube.watching():
        on_node_1 = kube.list_pods(node_name="node-1")
        assert on_node_1
        assert {p.node_name for p in on_node_1} == {"node-1"}
        everywhere = kube.list_pods()
        assert {p.node_name for p in everywhere} > {"node-1"}
        kube.list_pods(node_name="node-1")
    pod_reads = [t for m, t, _ in served.server.requests[start:] if t.startswith("/api/v1/pods")]
    followed = [t for t in pod_reads if "watch=" in t or "fieldSelector" in t]
    assert followed  # the node's list and watch
    assert all("fieldSelector=spec.nodeName=node-1" in t for t in followed), followed
    # One unfiltered read: the list of every pod, asked of the server, not followed.
    assert [t for t in pod_reads if t not in followed] == ["/api/v1/pods?limit=500"]


def test_a_pod_that_leaves_a_followed_node_leaves_its_cache(served: Served) -> None:
    """A pod deleted and made again under the same name on another node (a StatefulSet's) may
    reach a watch as one MODIFIED event; the node's filtered watch must still drop it, as the
    apiserver's watch cache sends DELETED for an object that stops matching the selector."""
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig))
    with kube.watching():
        pod = kube.list_pods(node_name="node-1")[0]
        assert kube.list_pods(node_name="node-2") is not None
        served.cluster.delete_pod(pod.namespace, pod.name, 0)
        served.cluster.add_pod(
            Pod(namespace=pod.namespace, name=pod.name, uid="", node_name="node-2")
        )

        def on(node: str) -> set[str]:
            return {p.key for p in kube.list_pods(node_name=node)}

        _until(lambda: pod.key not in on("node-1") and pod.key in on("node-2"))
        assert pod.key not in on("node-1")
        assert pod.key in on("node-2")


def test_pods_read_by_namespace_are_followed_per_namespace(served: Served) -> None:
    """A wait on Fargate pods (each on a node of its own) reads them by namespace: one list
    and watch with `metadata.namespace`, then memory; an eviction is seen at once by both the
    namespace's and the node's informer."""
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig))
    start = len(served.server.requests)
    with kube.watching():
        pods = kube.list_pods(namespace="default")
        assert pods
        assert {p.namespace for p in pods} == {"default"}
        kube.list_pods(node_name="node-1")
        for _ in range(3):
            assert kube.list_pods(namespace="default") == pods
        served.cluster.add_pod(Pod(namespace="default", name="late", uid="", node_name="node-2"))
        _until(lambda: "late" in {p.name for p in kube.list_pods(namespace="default")})
        web = next(p for p in pods if p.name.startswith("web") and p.node_name == "node-1")
        kube.evict_pod(web.namespace, web.name)
        # No sleep: both informers holding the pod wait for the eviction's events.
        assert {p.key: p for p in kube.list_pods(namespace="default")}[web.key].is_terminating
        assert {p.key: p for p in kube.list_pods(node_name="node-1")}[web.key].is_terminating
    lists = _lists(served, start)
    assert lists.count("/api/v1/pods?fieldSelector=metadata.namespace=default&limit=500") == 1
    assert all("fieldSelector" in t for t in lists if t.startswith("/api/v1/pods")), lists


def test_the_pod_watch_of_a_node_that_is_gone_is_closed(served: Served) -> None:
    """One watch scope spans a whole `execute` run: the pod informers of drained nodes whose
    instances are gone are closed when the next node's is opened, not held to the end."""
    kube = KubernetesCluster.from_kubeconfig(str(served.kubeconfig))
    with kube.watching():
        kube.list_nodes()
        kube.list_pods(node_name="node-1")
        kube.list_pods(node_name="node-2")
        informers = kube.informers
        assert informers is not None
        on = [informer.pods_on(n) for n in ("node-1", "node-2", "node-3")]
        assert set(on[:2]) <= set(informers.followed)
        served.cluster.remove_node("node-2")
        _until(lambda: "node-2" not in {n.name for n in kube.list_nodes()})
        kube.list_pods(node_name="node-3")
        assert on[1] not in informers.followed
        assert {on[0], on[2]} <= set(informers.followed)
        requests = informers.requests
        assert kube.list_pods(node_name="node-1")  # still followed, from memory
        assert informers.requests == requests
