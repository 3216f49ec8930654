"""Request bodies as kubectl 1.37 sends them, in Kubernetes protobuf, read as the JSON older
kubectl sent for the same commands.

The bytes were captured with `kubectl -v=9` (`create configmap flags --from-literal=beta=on`,
`create deployment cart --image=nginx:1.27 --replicas=2 --port=8080`). The envelope is
k8s.io/apimachinery pkg/runtime/serializer/protobuf/protobuf.go (`k8s\\x00` + runtime.Unknown);
field numbers are k8s.io/api's generated.proto.
"""

from __future__ import annotations

from upgrader.core.kube import WorkloadKind
from upgrader.sandbox.apiserver import protobuf
from upgrader.sandbox.apiserver.api import KubeApi
from upgrader.sandbox.apiserver.http import Request
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

CONFIG_MAP = bytes.fromhex(
    "6b3873000a0f0a0276311209436f6e6669674d617012230a150a05666c61677312001a0022002a0032003800"
    "4200120a0a046265746112026f6e1a002200"
)
DEPLOYMENT = bytes.fromhex(
    "6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c2010a210a046361727412001a002200"
    "2a003200380042005a0b0a03617070120463617274128e010802120d0a0b0a036170701204636172741a730a"
    "1d0a0012001a0022002a003200380042005a0b0a03617070120463617274125212340a056e67696e78120a6e"
    "67696e783a312e32372a00320b0a00100018903f22002a0042006a007200800100880100900100a201001a00"
    "320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c0800100018002000"
    "280038001a002200"
)


def test_kubectl_protobuf_bodies_read_as_the_json_kubectl_used_to_send() -> None:
    assert protobuf.decode(CONFIG_MAP) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "flags"},
        "data": {"beta": "on"},
    }
    # kubectl 1.29 sent this JSON for the same command (minus its null creationTimestamps).
    assert protobuf.decode(DEPLOYMENT) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "cart", "labels": {"app": "cart"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "cart"}},
            "template": {
                "metadata": {"labels": {"app": "cart"}},
                "spec": {
                    "containers": [
                        {
                            "name": "nginx",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 8080}],
                            "resources": {},
                        }
                    ]
                },
            },
            "strategy": {},
        },
    }


def test_the_server_creates_from_protobuf_and_refuses_what_it_cannot_read() -> None:
    clock = VirtualClock()
    api = KubeApi(FakeCluster(clock), clock.now)
    headers = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    path = "/apis/apps/v1/namespaces/default/deployments"
    created = api.handle(Request.parse("POST", path, headers, DEPLOYMENT))
    assert created.code == 201
    assert api.cluster.get_workload(WorkloadKind.DEPLOYMENT, "default", "cart").replicas == 2
    broken = api.handle(Request.parse("POST", path, headers, DEPLOYMENT[:40]))
    assert broken.code == 415
    assert b"truncated" in broken.body
