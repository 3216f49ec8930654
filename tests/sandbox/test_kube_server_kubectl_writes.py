"""An on-call engineer builds their own world on the sandbox with kubectl, and reads it back
the way kubectl prints a real cluster: create/apply, get (with kubectl's columns), describe,
scale, patch, rollout status and delete, for Deployments, StatefulSets, Services, ConfigMaps
and PDBs; nodes and pods with addresses of their own.

Columns: kubectl's printers (k8s.io/kubernetes pkg/printers/internalversion/printers.go);
`rollout status` for a StatefulSet needs `updateStrategy: RollingUpdate` and the revisions
(k8s.io/kubectl pkg/polymorphichelpers/rollout_status.go, StatefulSetStatusViewer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from tests.sandbox.apiserver.test_kubectl import KUBECTL, TICKER_RATE, kubectl

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
