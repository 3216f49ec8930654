"""An on-call engineer builds their own world on the sandbox with kubectl, and reads it back
the way kubectl prints a real cluster: create/apply, get (with kubectl's columns), describe,
scale, patch, rollout status and delete, for Deployments, StatefulSets, Services, ConfigMaps
and PDBs; nodes and pods with addresses of their own.

Columns: kubectl's printers (k8s.io/kubernetes pkg/printers/internalversion/printers.go);
`rollout status` for a StatefulSet needs `updateStrategy: RollingUpdate` and the revisions
(k8s.io/kubectl pkg/polymorphichelpers/rollout_status.go, StatefulSetStatusViewer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from tests.sandbox.apiserver.test_kubectl import KUBECTL, TICKER_RATE, kubectl
from upgrader.adapters.kubernetes import encode

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    for s in serve(tmp_path):
        s.server.start_ticker(TICKER_RATE)
        yield s


MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: checkout, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: checkout}}
  template:
    metadata: {labels: {app: checkout}}
    spec:
      containers:
      - name: main
        image: public.ecr.aws/shop/checkout:1
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        readinessProbe: {httpGet: {path: /, port: 8080}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ledger, namespace: default}
spec:
  replicas: 2
  serviceName: ledger
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec:
      containers:
      - name: main
        image: public.ecr.aws/shop/ledger:1
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: checkout, namespace: default}
spec:
  selector: {app: checkout}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: incident, namespace: default}
data: {ticket: INC-1234}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: checkout-pdb, namespace: default}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: checkout}}
"""


def _ok(served: Served, tmp_path: Path, *args: str) -> str:
    result = kubectl(served, tmp_path, *args)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


def _until(served: Served, tmp_path: Path, want: str, *args: str) -> str:
    """Re-read until `want` shows (virtual time runs at the ticker's rate)."""
    out = ""
    for _ in range(40):
        out = _ok(served, tmp_path, *args)
        if want in out:
            return out
        time.sleep(0.5)
    raise AssertionError(f"never saw {want!r} in:\n{out}")


def test_build_read_scale_and_tear_down_a_world(served: Served, tmp_path: Path) -> None:
    manifest = tmp_path / "world.yaml"
    manifest.write_text(MANIFEST)
    applied = _ok(served, tmp_path, "apply", "-f", str(manifest))
    for line in (
        "deployment.apps/checkout created",
        "statefulset.apps/ledger created",
        "service/checkout created",
        "configmap/incident created",
        "poddisruptionbudget.policy/checkout-pdb created",
    ):
        assert line in applied
    cart = tmp_path / "cart.yaml"
    cart.write_text(MANIFEST.split("---", maxsplit=1)[0].replace("checkout", "cart"))
    assert "deployment.apps/cart created" in _ok(served, tmp_path, "create", "-f", str(cart))

    deploys = _until(served, tmp_path, "checkout   2/2", "get", "deploy")
    assert deploys.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    sts = _until(served, tmp_path, "ledger   2/2", "get", "sts")
    assert sts.splitlines()[0].split() == ["NAME", "READY", "AGE"]
    status = _ok(served, tmp_path, "rollout", "status", "statefulset/ledger", "--timeout=30s")
    assert "roll out complete" in status or "rolling update complete" in status

    pdb = _until(served, tmp_path, "checkout-pdb", "get", "pdb", "checkout-pdb")
    assert pdb.splitlines()[0].split() == [
        "NAME",
        "MIN",
        "AVAILABLE",
        "MAX",
        "UNAVAILABLE",
        "ALLOWED",
        "DISRUPTIONS",
        "AGE",
    ]
    described = _ok(served, tmp_path, "describe", "pdb", "checkout-pdb")
    assert "Min available:" in described
    assert "app=checkout" in described
    cms = _ok(served, tmp_path, "get", "cm")
    assert "incident" in cms

    _ok(served, tmp_path, "scale", "deployment/checkout", "--replicas=3")
    _until(served, tmp_path, "checkout   3/3", "get", "deploy")
    _ok(served, tmp_path, "patch", "deployment", "checkout", "-p", '{"spec":{"replicas":1}}')
    _until(served, tmp_path, "checkout   1/1", "get", "deploy")

    for kind, name in (
        ("deployment", "checkout"),
        ("statefulset", "ledger"),
        ("service", "checkout"),
        ("configmap", "incident"),
        ("pdb", "checkout-pdb"),
    ):
        assert "deleted" in _ok(served, tmp_path, "delete", kind, name, "--wait=false")
    _until(served, tmp_path, "cart", "get", "deploy")
    left = _ok(served, tmp_path, "get", "deploy,sts,pdb,svc,cm")
    assert "checkout" not in left
    assert "ledger" not in left


def test_nodes_and_pods_have_addresses_of_their_own(served: Served, tmp_path: Path) -> None:
    nodes = _ok(served, tmp_path, "get", "nodes", "-o", "wide").splitlines()[1:]
    node_ips = [line.split()[5] for line in nodes]
    assert len(set(node_ips)) == len(node_ips)
    pods = _ok(served, tmp_path, "get", "pods", "-A", "-o", "wide").splitlines()[1:]
    pod_ips = [line.split()[6] for line in pods if line.split()[6] != "<none>"]
    assert len(set(pod_ips)) == len(pod_ips) > 3


SSA_MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger-api, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: ledger-api}}
  template:
    metadata: {labels: {app: ledger-api}}
    spec:
      containers:
      - {name: main, image: public.ecr.aws/shop/ledger-api:1}
"""


def test_generators_server_side_apply_and_ages(served: Served, tmp_path: Path) -> None:
    """kubectl's generator commands send protobuf: client-go's generated clients for built-in
    kinds prefer it (k8s.io/client-go gentype/type.go `PrefersProtobuf`) and fall back to JSON
    on a 415 only from CBOR (rest/client.go `UnsupportedMediaType`), so the server must read
    it. Server-side apply and its conflicts follow
    https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts; an object's
    age counts from its creation on the sandbox clock, not from the server's start."""
    assert "namespace/shop created" in _ok(served, tmp_path, "create", "namespace", "shop")
    assert "AlreadyExists" in kubectl(served, tmp_path, "create", "namespace", "shop").stderr
    assert _ok(served, tmp_path, "get", "ns", "shop").splitlines()[1].split()[:2] == [
        "shop",
        "Active",
    ]
    for args, line in (
        (("deployment", "cart", "--image=nginx", "--replicas=2"), "deployment.apps/cart created"),
        (("configmap", "flags", "--from-literal=beta=on"), "configmap/flags created"),
        (("service", "clusterip", "cart", "--tcp=80:8080"), "service/cart created"),
        (("pdb", "cart", "--selector=app=cart", "--min-available=1"), "cart created"),
    ):
        assert line in _ok(served, tmp_path, "create", *args, "-n", "shop")
    _until(served, tmp_path, "cart   2/2", "get", "deploy", "-n", "shop")
    assert "beta" in _ok(served, tmp_path, "get", "cm", "flags", "-n", "shop", "-o", "yaml")

    stamp = "{.metadata.creationTimestamp}"
    born = _ok(served, tmp_path, "get", "deploy", "cart", "-n", "shop", "-o", f"jsonpath={stamp}")
    world = _ok(served, tmp_path, "get", "deploy", "web", "-o", f"jsonpath={stamp}")
    assert world < born <= encode.timestamp(served.clock.now())

    manifest = tmp_path / "ledger.yaml"
    manifest.write_text(SSA_MANIFEST)
    ssa = ("apply", "--server-side", "-f", str(manifest))
    assert "serverside-applied" in _ok(served, tmp_path, *ssa)
    assert "serverside-applied" in _ok(served, tmp_path, *ssa)  # idempotent
    _ok(served, tmp_path, "scale", "deployment/ledger-api", "-n", "shop", "--replicas=4")
    manifest.write_text(SSA_MANIFEST.replace("replicas: 2", "replicas: 3"))
    refused = kubectl(served, tmp_path, *ssa)
    assert refused.returncode == 1
    assert 'conflict with "kubectl"' in refused.stderr
    assert ".spec.replicas" in refused.stderr
    _ok(served, tmp_path, *ssa, "--force-conflicts")
    _until(served, tmp_path, "ledger-api   3/3", "get", "deploy", "-n", "shop")
    get = ("get", "deploy", "ledger-api", "-n", "shop", "-o", "json", "--show-managed-fields")
    shown = json.loads(_ok(served, tmp_path, *get))
    (applied,) = [e for e in shown["metadata"]["managedFields"] if e["operation"] == "Apply"]
    assert applied["manager"] == "kubectl"
    assert "f:replicas" in applied["fieldsV1"]["f:spec"]
