"""`KubernetesCluster`: error translation, paging, and the requests it sends.

Three levels: `translate_api_exception` on constructed ApiExceptions; `list_all` on a
hand-written list API; and the adapter end to end through a fake HTTP transport in place of the
client's REST layer, so the real client serializes every request and parses every answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes.client import ApiClient, Configuration, V1ListMeta, V1Pod, V1PodList
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from upgrader.adapters.kubernetes.client import (
    RESTARTED_AT_ANNOTATION,
    KubeconfigError,
    KubernetesCluster,
    list_all,
    translate_api_exception,
)
from upgrader.core.errors import (
    ConflictError,
    EvictionBlockedError,
    MultiplePdbsError,
    NamespaceTerminatingError,
    NotFoundError,
    PermanentError,
    PermissionDeniedError,
    ServiceUnavailableError,
    ThrottledError,
    UserError,
)
from upgrader.core.kube import ConfigMap, Lease, Taint, TaintEffect, WorkloadKind
from upgrader.sandbox.clock import SANDBOX_EPOCH, VirtualClock

PDB_REFUSAL = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Cannot evict pod as it would violate the pod's disruption budget.",
    "reason": "TooManyRequests",
    "code": 429,
    "details": {
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget web-pdb needs 1 healthy pods and has 1 currently",
            }
        ]
    },
}


def api_error(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> ApiException:
    error = ApiException(
        status=status,
        reason="Reason",
        body=json.dumps(body) if isinstance(body, dict) else body,
    )
    error.headers = headers
    return error


def status(code: int, message: str, **extra: object) -> dict[str, object]:
    return {"kind": "Status", "status": "Failure", "code": code, "message": message, **extra}


# translation ----------------------------------------------------------------------------------


def test_eviction_refused_by_a_pdb() -> None:
    error = translate_api_exception(
        api_error(429, PDB_REFUSAL, {"Retry-After": "5"}), "create", "pods/eviction", "ns/web"
    )

    assert isinstance(error, EvictionBlockedError)
    assert error.pdbs == ("web-pdb",)
    assert error.retry_after == 5.0
    assert "disruption budget" in str(error)


def test_eviction_refused_without_a_status_body() -> None:
    error = translate_api_exception(
        api_error(429, "Too many requests", {"retry-after": "1"}), "create", "pods/eviction"
    )
    assert isinstance(error, EvictionBlockedError)
    assert (error.pdbs, error.retry_after) == ((), 1.0)


def test_other_429s_are_throttling() -> None:
    error = translate_api_exception(api_error(429, status(429, "slow down")), "list", "pods")
    assert isinstance(error, ThrottledError)
    assert error.retry_after is None


def test_multiple_pdbs() -> None:
    message = (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
        "not support."
    )
    error = translate_api_exception(api_error(500, status(500, message)), "create", "pods/eviction")
    assert isinstance(error, MultiplePdbsError)
    assert error.pdbs == ()


def test_namespace_terminating() -> None:
    message = (
        'pods "web" is forbidden: unable to create new content in namespace shop because it '
        "is being terminated"
    )
    body = status(403, message, details={"causes": [{"type": "NamespaceTerminating"}]})
    error = translate_api_exception(api_error(403, body), "create", "pods/eviction", "shop/web")
    assert isinstance(error, NamespaceTerminatingError)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (404, NotFoundError),
        (409, ConflictError),
        (401, PermissionDeniedError),
        (403, PermissionDeniedError),
        (500, ServiceUnavailableError),
        (503, ServiceUnavailableError),
        (422, PermanentError),
    ],
)
def test_status_codes(code: int, expected: type[Exception]) -> None:
    error = translate_api_exception(api_error(code, status(code, "msg")), "patch", "nodes", "n1")
    assert type(error) is expected
    assert "nodes n1" in str(error)
    if isinstance(error, PermissionDeniedError):
        assert error.action == "patch nodes"


# paging ---------------------------------------------------------------------------------------


@dataclass
class PagedPods:
    """A list API over fixed pods: pages of `limit`, continue tokens, an optional 410."""

    names: list[str]
    expire_token_once: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    def list_pod_for_all_namespaces(
        self, limit: int, _continue: str | None = None, **query: Any
    ) -> V1PodList:
        self.calls.append({"limit": limit, "continue": _continue, **query})
        if _continue is not None and self.expire_token_once:
            self.expire_token_once = False
            raise ApiException(status=410, reason="Gone")
        start = int(_continue or 0)
        end = start + limit
        items = [V1Pod(metadata={"name": n}) for n in self.names[start:end]]
        token = str(end) if end < len(self.names) else None
        return V1PodList(items=items, metadata=V1ListMeta(_continue=token))


def names(pods: list[V1Pod]) -> list[str]:
    return [p.metadata.name for p in pods if p.metadata is not None and p.metadata.name]


def test_list_all_follows_continue_tokens() -> None:
    api = PagedPods([f"p{i}" for i in range(5)])

    pods = list_all(api.list_pod_for_all_namespaces, page_size=2, field_selector="x=y")

    assert names(pods) == ["p0", "p1", "p2", "p3", "p4"]
    assert api.calls == [
        {"limit": 2, "continue": None, "field_selector": "x=y"},
        {"limit": 2, "continue": "2", "field_selector": "x=y"},
        {"limit": 2, "continue": "4", "field_selector": "x=y"},
    ]


def test_list_all_restarts_once_when_the_token_expires() -> None:
    api = PagedPods(["a", "b", "c"], expire_token_once=True)

    assert names(list_all(api.list_pod_for_all_namespaces, page_size=2)) == ["a", "b", "c"]
    assert [c["continue"] for c in api.calls] == [None, "2", None, "2"]


def test_list_all_refuses_a_looping_server() -> None:
    def stuck(limit: int, _continue: str | None = None) -> V1PodList:
        return V1PodList(items=[], metadata=V1ListMeta(_continue="same"))

    with pytest.raises(ServiceUnavailableError, match="repeated continue token"):
        list_all(stuck)


# end to end through a fake transport ----------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)


class FakeResponse:
    """What the client's REST layer returns: status, reason, bytes and headers."""

    def __init__(self, reply: Reply) -> None:
        self.status = reply.status
        self.reason = "OK" if reply.status < 400 else "Error"
        self.data = json.dumps(reply.body).encode()
        self.headers = {"content-type": "application/json", **reply.headers}
        self.response = self

    def read(self) -> bytes:
        return self.data

    def getheaders(self) -> dict[str, str]:
        return self.headers

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


class FakeTransport:
    """Answers requests from a script, in order, and records them."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Request] = []

    def reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        self.replies.append(Reply(status, body, headers or {}))

    def request(
        self,
        method: str,
        url: str,
        headers: object = None,
        body: object = None,
        post_params: object = None,
        _request_timeout: object = None,
    ) -> FakeResponse:
        parts = urlsplit(url)
        self.requests.append(Request(method, parts.path, parse_qs(parts.query), body))
        assert self.replies, f"unexpected {method} {url}"
        return FakeResponse(self.replies.pop(0))


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def cluster(transport: FakeTransport, clock: VirtualClock) -> Iterator[KubernetesCluster]:
    api_client = ApiClient(Configuration(host="https://k8s.example:6443"))
    api_client.rest_client = transport
    yield KubernetesCluster(api_client, clock=clock, page_size=2)
    assert transport.replies == [], "scripted replies left unused"


def pod_json(name: str, namespace: str = "default", node: str = "n1") -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"containers": [{"name": "app"}], "nodeName": node},
        "status": {"phase": "Running"},
    }


def node_json(taints: list[dict[str, str]] | None = None, version: str = "7") -> dict[str, object]:
    return {
        "metadata": {"name": "n1", "resourceVersion": version},
        "spec": {"taints": taints} if taints is not None else {},
    }


def test_list_pods_on_a_node_pages(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(200, {"items": [pod_json("a"), pod_json("b")], "metadata": {"continue": "tok"}})
    transport.reply(200, {"items": [pod_json("c")], "metadata": {}})

    pods = cluster.list_pods(node_name="n1")

    assert [p.name for p in pods] == ["a", "b", "c"]
    first, second = transport.requests
    assert (first.method, first.path) == ("GET", "/api/v1/pods")
    assert first.query == {"fieldSelector": ["spec.nodeName=n1"], "limit": ["2"]}
    assert second.query["continue"] == ["tok"]


def test_list_pods_in_a_namespace_by_label(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    transport.reply(200, {"items": [], "metadata": {}})

    assert cluster.list_pods(namespace="shop", label_selector="app=web") == []
    (request,) = transport.requests
    assert request.path == "/api/v1/namespaces/shop/pods"
    assert request.query["labelSelector"] == ["app=web"]


def test_evict_pod(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(201, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 201})

    cluster.evict_pod("default", "web", grace_period_seconds=10)

    (request,) = transport.requests
    assert (request.method, request.path) == (
        "POST",
        "/api/v1/namespaces/default/pods/web/eviction",
    )
    assert request.body["metadata"] == {"name": "web", "namespace": "default"}
    assert request.body["deleteOptions"] == {"gracePeriodSeconds": 10}


def test_evict_pod_refused(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(429, PDB_REFUSAL, {"Retry-After": "3"})

    with pytest.raises(EvictionBlockedError) as caught:
        cluster.evict_pod("default", "web")

    assert caught.value.pdbs == ("web-pdb",)
    assert caught.value.retry_after == 3.0
    assert isinstance(caught.value.__cause__, ApiException)
    assert "deleteOptions" not in transport.requests[0].body


def test_get_missing_pod(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(404, status(404, 'pods "web" not found', reason="NotFound"))
    with pytest.raises(NotFoundError, match="pods default/web"):
        cluster.get_pod("default", "web")


def test_cordon_and_uncordon(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(200, {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}})
    transport.reply(200, {"metadata": {"name": "n1"}, "spec": {}})

    assert cluster.set_unschedulable("n1", True).unschedulable
    assert not cluster.set_unschedulable("n1", False).unschedulable

    cordon, uncordon = transport.requests
    assert (cordon.method, cordon.path) == ("PATCH", "/api/v1/nodes/n1")
    assert cordon.body == {"spec": {"unschedulable": True}}
    assert uncordon.body == {"spec": {"unschedulable": None}}


def test_the_server_dry_run_twin_marks_every_write_and_no_read(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    twin = cluster.server_dry_run()
    twin.api_client.rest_client = transport
    transport.reply(200, {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}})
    transport.reply(200, {"metadata": {"name": "n1"}, "spec": {}})
    transport.reply(403, status(403, 'nodes "n1" is forbidden', reason="Forbidden"))

    assert twin.set_unschedulable("n1", True).unschedulable
    twin.get_node("n1")
    with pytest.raises(PermissionDeniedError, match="not allowed to patch nodes n1"):
        twin.set_unschedulable("n1", False)

    patch, read, refused = transport.requests
    assert (patch.method, patch.query) == ("PATCH", {"dryRun": ["All"]})
    assert (read.method, read.query) == ("GET", {})
    assert refused.query == {"dryRun": ["All"]}
    assert twin.api_client.configuration is cluster.api_client.configuration


def test_add_taint_writes_the_whole_list(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    existing = {"key": "other", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}
    stale = {"key": "eksup/drain", "value": "old", "effect": "NoSchedule"}
    transport.reply(200, node_json([existing, stale]))
    transport.reply(
        200, node_json([existing, {"key": "eksup/drain", "value": "v2", "effect": "NoSchedule"}])
    )

    node = cluster.add_taint("n1", Taint("eksup/drain", TaintEffect.NO_SCHEDULE, "v2"))

    assert Taint("eksup/drain", TaintEffect.NO_SCHEDULE, "v2") in node.taints
    patch = transport.requests[1]
    assert patch.method == "PATCH"
    assert patch.body == {
        "metadata": {"resourceVersion": "7"},
        "spec": {
            "taints": [
                # As the server wrote it: its timeAdded is where tolerationSeconds count from.
                existing,
                {"key": "eksup/drain", "effect": "NoSchedule", "value": "v2"},
            ]
        },
    }


def test_add_taint_retries_a_conflict(
    cluster: KubernetesCluster, transport: FakeTransport, clock: VirtualClock
) -> None:
    transport.reply(200, node_json([], version="7"))
    transport.reply(409, status(409, "the object has been modified", reason="Conflict"))
    transport.reply(200, node_json([], version="8"))
    transport.reply(200, node_json([{"key": "k", "effect": "NoExecute"}], version="9"))

    cluster.add_taint("n1", Taint("k", TaintEffect.NO_EXECUTE))

    retried = transport.requests[3]
    assert retried.body["metadata"] == {"resourceVersion": "8"}
    (added,) = retried.body["spec"]["taints"]
    # NoExecute taints carry timeAdded, from the adapter's clock, as RFC 3339 metav1.Time.
    assert added == {"key": "k", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}
    assert clock.now() == SANDBOX_EPOCH


def test_taint_changes_that_are_already_done_send_nothing(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    transport.reply(200, node_json([{"key": "k", "value": "v", "effect": "NoSchedule"}]))
    transport.reply(200, node_json([{"key": "k", "value": "v", "effect": "NoSchedule"}]))

    cluster.add_taint("n1", Taint("k", TaintEffect.NO_SCHEDULE, "v"))
    node = cluster.remove_taint("n1", "k", TaintEffect.NO_EXECUTE)

    assert [r.method for r in transport.requests] == ["GET", "GET"]
    assert node.taints == (Taint("k", TaintEffect.NO_SCHEDULE, "v"),)


def test_remove_taint(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(200, node_json([{"key": "k", "effect": "NoSchedule"}]))
    transport.reply(200, node_json([]))

    assert cluster.remove_taint("n1", "k", TaintEffect.NO_SCHEDULE).taints == ()
    assert transport.requests[1].body["spec"] == {"taints": []}


def test_label_node(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(200, {"metadata": {"name": "n1", "labels": {"a": "1"}}})
    cluster.label_node("n1", {"a": "1", "b": None})
    assert transport.requests[0].body == {"metadata": {"labels": {"a": "1", "b": None}}}


def deployment_json(**annotations: str) -> dict[str, object]:
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": 2},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": annotations},
                "spec": {"containers": [{"name": "app"}]},
            },
        },
        "status": {"readyReplicas": 3, "observedGeneration": 2},
    }


def test_restart_and_scale_workloads(
    cluster: KubernetesCluster, transport: FakeTransport, clock: VirtualClock
) -> None:
    clock.sleep(1.5)
    stamp = "2026-01-01T00:00:01.500000Z"
    transport.reply(200, deployment_json(**{RESTARTED_AT_ANNOTATION: stamp}))
    transport.reply(200, {"metadata": {"name": "report"}, "spec": {"template": {}}})

    restarted = cluster.restart_workload(WorkloadKind.DEPLOYMENT, "default", "web")
    cluster.scale_workload(WorkloadKind.JOB, "batch", "report", 0)

    assert restarted.template.annotations[RESTARTED_AT_ANNOTATION] == stamp
    restart, scale = transport.requests
    assert restart.path == "/apis/apps/v1/namespaces/default/deployments/web"
    assert restart.body == {
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: stamp}}}}
    }
    assert scale.path == "/apis/batch/v1/namespaces/batch/jobs/report"
    assert scale.body == {"spec": {"parallelism": 0}}


def test_workloads_that_cannot_scale_or_restart(cluster: KubernetesCluster) -> None:
    with pytest.raises(UserError, match="no scale"):
        cluster.scale_workload(WorkloadKind.DAEMON_SET, "kube-system", "agent", 2)
    with pytest.raises(UserError, match="cannot be restarted"):
        cluster.restart_workload(WorkloadKind.JOB, "batch", "report")


def test_list_all_workloads(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(200, {"items": [deployment_json()], "metadata": {}})
    for _ in range(4):
        transport.reply(200, {"items": [], "metadata": {}})

    (workload,) = cluster.list_workloads()

    assert workload.key == "Deployment/default/web"
    assert [r.path for r in transport.requests] == [
        "/apis/apps/v1/deployments",
        "/apis/apps/v1/statefulsets",
        "/apis/apps/v1/daemonsets",
        "/apis/apps/v1/replicasets",
        "/apis/batch/v1/jobs",
    ]


def test_list_pdbs(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(
        200,
        {
            "items": [
                {
                    "metadata": {"name": "web-pdb", "namespace": "default"},
                    "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}},
                    "status": {"disruptionsAllowed": 0},
                }
            ],
            "metadata": {},
        },
    )
    (pdb,) = cluster.list_pdbs()
    assert (pdb.key, pdb.min_available, pdb.disruptions_allowed) == ("default/web-pdb", "50%", 0)
    assert transport.requests[0].path == "/apis/policy/v1/poddisruptionbudgets"


def test_patch_service_selector_replaces_it(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    service = {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "3"}}
    transport.reply(200, {**service, "spec": {"selector": {"app": "web", "track": "blue"}}})
    transport.reply(200, {**service, "spec": {"selector": {"app": "web", "version": "2"}}})

    updated = cluster.patch_service_selector("default", "web", {"app": "web", "version": "2"})

    assert updated.selector == {"app": "web", "version": "2"}
    assert transport.requests[1].body == {
        "metadata": {"resourceVersion": "3"},
        "spec": {"selector": {"app": "web", "track": None, "version": "2"}},
    }


def test_hpas_are_read_and_their_floor_patched(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    hpa = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 20,
        },
        "status": {"currentReplicas": 6, "desiredReplicas": 7},
    }
    transport.reply(200, {"metadata": {}, "items": [hpa]})
    transport.reply(200, {**hpa, "spec": {**hpa["spec"], "minReplicas": 9}})

    (found,) = cluster.list_hpas("shop")
    raised = cluster.set_hpa_min_replicas("shop", "web", 9)

    assert (found.target_kind, found.target_name) == ("Deployment", "web")
    assert (found.min_replicas, found.max_replicas) == (1, 20)  # minReplicas defaults to 1
    assert (found.current_replicas, found.desired_replicas) == (6, 7)
    assert raised.min_replicas == 9
    assert transport.requests[0].path == (
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers"
    )
    assert transport.requests[1].method == "PATCH"
    assert transport.requests[1].body == {"spec": {"minReplicas": 9}}


LEASE = Lease("kube-system", "eksup-lock", "me", SANDBOX_EPOCH, SANDBOX_EPOCH + 5, 60)


def lease_json(version: str) -> dict[str, object]:
    return {
        "metadata": {"name": "eksup-lock", "namespace": "kube-system", "resourceVersion": version},
        "spec": {
            "holderIdentity": "me",
            "acquireTime": "2026-01-01T00:00:00.000000Z",
            "renewTime": "2026-01-01T00:00:05.000000Z",
            "leaseDurationSeconds": 60,
        },
    }


def test_lease_create_and_compare_and_swap(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    transport.reply(201, lease_json("1"))
    transport.reply(200, lease_json("2"))
    transport.reply(409, status(409, "the object has been modified", reason="Conflict"))

    created = cluster.create_lease(LEASE)
    assert created == Lease(**{**LEASE.__dict__, "resource_version": "1"})
    assert cluster.update_lease(created).resource_version == "2"
    with pytest.raises(ConflictError):
        cluster.update_lease(created)

    create, update, _ = transport.requests
    assert create.method == "POST"
    assert "resourceVersion" not in create.body["metadata"]
    assert create.body["spec"]["holderIdentity"] == "me"
    assert (update.method, update.path) == (
        "PUT",
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eksup-lock",
    )
    assert update.body["metadata"]["resourceVersion"] == "1"


def test_lease_update_needs_a_version(cluster: KubernetesCluster) -> None:
    with pytest.raises(ConflictError, match="resource_version"):
        cluster.update_lease(LEASE)


def test_lease_already_held(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(409, status(409, "already exists", reason="AlreadyExists"))
    with pytest.raises(ConflictError):
        cluster.create_lease(LEASE)


def test_apply_config_map_creates_or_replaces_data(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    existing = {
        "metadata": {
            "name": "eksup",
            "namespace": "kube-system",
            "resourceVersion": "4",
            "labels": {"owner": "ops"},
        },
        "data": {"old": "1"},
    }
    transport.reply(409, status(409, "already exists", reason="AlreadyExists"))
    transport.reply(200, existing)
    transport.reply(200, {**existing, "data": {"state": "{}"}})

    applied = cluster.apply_config_map(ConfigMap("kube-system", "eksup", {"state": "{}"}))

    assert applied.data == {"state": "{}"}
    create, read, replace = transport.requests
    assert (create.method, read.method, replace.method) == ("POST", "GET", "PUT")
    assert replace.body["data"] == {"state": "{}"}
    assert replace.body["metadata"]["labels"] == {"owner": "ops"}
    assert replace.body["metadata"]["resourceVersion"] == "4"


def test_server_version(cluster: KubernetesCluster, transport: FakeTransport) -> None:
    transport.reply(
        200,
        {
            "major": "1",
            "minor": "29",
            "gitVersion": "v1.29.8-eks-a737599",
            "gitCommit": "c",
            "gitTreeState": "clean",
            "buildDate": "2024-01-01T00:00:00Z",
            "goVersion": "go1.22",
            "compiler": "gc",
            "platform": "linux/amd64",
        },
    )
    assert cluster.server_version() == "v1.29.8-eks-a737599"
    assert transport.requests[0].path == "/version/"


# configuration and connectivity -----------------------------------------------------------------


def test_unreachable_server_is_named() -> None:
    configuration = Configuration(host="http://127.0.0.1:9")
    configuration.retries = 0
    cluster = KubernetesCluster(ApiClient(configuration))

    with pytest.raises(ServiceUnavailableError, match=r"http://127\.0\.0\.1:9") as caught:
        cluster.list_nodes()

    assert "\n" not in str(caught.value)


def test_failed_credential_refresh_is_a_kubeconfig_error(
    cluster: KubernetesCluster, transport: FakeTransport
) -> None:
    def refuse(*args: object, **kwargs: object) -> FakeResponse:
        raise ConfigException("exec: aws eks get-token: ExpiredToken")

    transport.request = refuse
    with pytest.raises(KubeconfigError, match="ExpiredToken"):
        cluster.get_node("n1")


def test_kubeconfig_context_is_selected(tmp_path: Any) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "one",
                "clusters": [
                    {"name": "c1", "cluster": {"server": "http://127.0.0.1:1111"}},
                    {"name": "c2", "cluster": {"server": "http://127.0.0.1:2222"}},
                ],
                "users": [{"name": "u", "user": {}}],
                "contexts": [
                    {"name": "one", "context": {"cluster": "c1", "user": "u"}},
                    {"name": "two", "context": {"cluster": "c2", "user": "u"}},
                ],
            }
        )
    )

    assert KubernetesCluster.from_kubeconfig(str(kubeconfig)).server == "http://127.0.0.1:1111"
    assert KubernetesCluster.from_kubeconfig(str(kubeconfig), "two").server.endswith(":2222")
    with pytest.raises(KubeconfigError, match="three"):
        KubernetesCluster.from_kubeconfig(str(kubeconfig), "three")
    with pytest.raises(KubeconfigError, match="missing"):
        KubernetesCluster.from_kubeconfig(str(tmp_path / "missing"))


def test_in_cluster_outside_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeconfigError, match="service account"):
        KubernetesCluster.in_cluster()
