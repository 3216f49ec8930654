"""What an on-call engineer does with real kubectl on the sandbox beyond workloads: Services
with their ports and addresses, server-side apply that lets go of what a manager stops
applying, Secrets, and deleting a namespace with everything in it.

One served sandbox for the module: each test works in a namespace of its own.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from tests.sandbox.apiserver.test_kubectl import COMMAND_TIMEOUT, KUBECTL, TICKER_RATE
from upgrader.core.kube import Service, ServicePort

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    for s in serve(tmp_path_factory.mktemp("served")):
        s.server.start_ticker(TICKER_RATE)
        yield s


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One discovery cache for the module's kubectl runs (discovery does not change)."""
    return tmp_path_factory.mktemp("kube-cache")


def run(
    served: Served, cache: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(cache), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def ok(served: Served, cache: Path, *args: str, stdin: str = "") -> str:
    result = run(served, cache, *args, stdin=stdin)
    assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result.stdout


SERVICES = """
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: svc}
spec:
  selector: {app: shop}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: https}
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: svc}
spec:
  type: LoadBalancer
  selector: {app: edge}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: svc}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
"""


def test_services_keep_their_ports_and_print_kubectls_columns(
    served: Served, cache: Path, tmp_path: Path
) -> None:
    """Columns and cells as kubectl's printers render them for a real API server
    (k8s.io/kubernetes pkg/printers/internalversion/printers.go: serviceColumnDefinitions,
    printService, makePortString, getServiceExternalIP); defaults from
    pkg/apis/core/v1/defaults.go (SetDefaults_Service: protocol TCP, targetPort = port)."""
    ok(served, cache, "create", "namespace", "svc")
    manifest = tmp_path / "services.yaml"
    manifest.write_text(SERVICES)
    applied = ok(served, cache, "apply", "-f", str(manifest))
    assert "service/shop created" in applied
    assert "service/cart created" in ok(
        served, cache, "create", "service", "nodeport", "cart", "--tcp=81:8081", "-n", "svc"
    )
    table = ok(served, cache, "get", "svc", "-n", "svc").splitlines()
    assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows["shop"][1:5] == ["ClusterIP", rows["shop"][2], "<none>", "80/TCP,443/TCP"]
    assert rows["edge"][1] == "LoadBalancer"
    assert rows["edge"][3:5] == ["<pending>", "80:30080/TCP"]
    assert rows["db"][1:5] == ["ClusterIP", "None", "<none>", "5432/TCP"]
    assert rows["cart"][1] == "NodePort"
    assert rows["cart"][4].startswith("81:")
    assert rows["cart"][4].endswith("/TCP")
    assert 30000 <= int(rows["cart"][4][3:-4]) <= 32767
    ips = [rows[n][2] for n in ("shop", "edge", "cart")]
    assert len(set(ips)) == 3
    assert all(ip.startswith("172.20.") for ip in ips)  # EKS's service CIDR for a 10.x VPC
    # A Service the world was built with (no address of its own) is given one, distinct
    # from every other and the same on every read.
    legacy = Service("svc", "legacy", {"app": "web"}, ports=(ServicePort(80),))
    served.cluster.add_service(legacy)
    every = ok(served, cache, "get", "svc", "-A").splitlines()[1:]
    all_ips = [line.split()[3] for line in every if line.split()[3] != "None"]
    assert len(all_ips) == 4  # shop, edge, cart, legacy (db is headless)
    assert len(set(all_ips)) == len(all_ips)
    again = ok(served, cache, "get", "svc", "-A").splitlines()[1:]
    assert [line.split()[:4] for line in again] == [line.split()[:4] for line in every]

    described = [
        " ".join(line.split())
        for line in ok(served, cache, "describe", "svc", "shop", "-n", "svc").splitlines()
    ]
    for line in (
        f"IP: {rows['shop'][2]}",
        "Type: ClusterIP",
        "Port: http 80/TCP",
        "TargetPort: 8080/TCP",
        "Port: https 443/TCP",
        "TargetPort: https/TCP",
        "Selector: app=shop",
    ):
        assert line in described

    # A second client-side apply sends a strategic merge patch (ports merge by `port`): the
    # port dropped from the manifest goes, the new one arrives, the cluster IP stays.
    manifest.write_text(
        SERVICES.replace(
            "- {name: https, port: 443, targetPort: https}", "- {name: metrics, port: 9090}"
        )
    )
    assert "service/shop configured" in ok(served, cache, "apply", "-f", str(manifest))
    shop = json.loads(ok(served, cache, "get", "svc", "shop", "-n", "svc", "-o", "json"))
    assert shop["spec"]["ports"] == [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
        {"name": "metrics", "port": 9090, "protocol": "TCP", "targetPort": 9090},
    ]
    assert shop["spec"]["clusterIP"] == rows["shop"][2]
    refused = run(served, cache, "create", "service", "clusterip", "shop", "--tcp=80", "-n", "svc")
    assert refused.returncode == 1
    assert 'services "shop" already exists' in refused.stderr
    taken = SERVICES.split("---")[1].replace("name: edge", "name: edge2")
    clash = run(served, cache, "apply", "-f", "-", stdin=taken)
    assert clash.returncode == 1
    assert (
        'The Service "edge2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated" in clash.stderr
    )


APPLIED = """
apiVersion: v1
kind: ConfigMap
metadata: {name: flags, namespace: ssa}
data: {beta: "on", gamma: "off", delta: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: ssa}
spec:
  replicas: 3
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
      - {name: main, image: public.ecr.aws/shop/api:1}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: ssa, annotations: {owner: shop, ticket: INC-1}}
spec:
  selector: {app: api, tier: web}
  ports: [{name: http, port: 80}, {name: metrics, port: 9090}]
"""


def test_server_side_apply_removes_what_a_manager_stops_applying(
    served: Served, cache: Path, tmp_path: Path
) -> None:
    """https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management: "If
    you remove a field from a manifest and apply that manifest, Server-Side Apply checks if
    there are any other field managers that also own the field. If the field is not owned by
    any other field managers, it is either deleted from the live object or reset to its
    default value, if it has one. The same rule applies to associative list or map items."
    A field another manager applied with the same value is shared (#conflicts), so it stays."""
    ok(served, cache, "create", "namespace", "ssa")
    manifest = tmp_path / "applied.yaml"
    manifest.write_text(APPLIED)
    ssa = ("apply", "--server-side", "-f", str(manifest))
    assert ok(served, cache, *ssa).count("serverside-applied") == 3
    # A second manager applies delta with the same value: it now shares the field.
    shared = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: ssa}\n"
    shared += 'data: {delta: "1"}\n'
    ok(served, cache, "apply", "--server-side", "--field-manager=ops", "-f", "-", stdin=shared)

    manifest.write_text(
        APPLIED.replace(', gamma: "off", delta: "1"', "")
        .replace("  replicas: 3\n", "")
        .replace(", ticket: INC-1", "")
        .replace(", tier: web", "")
        .replace(", {name: metrics, port: 9090}", "")
    )
    assert ok(served, cache, *ssa).count("serverside-applied") == 3

    flags = json.loads(ok(served, cache, "get", "cm", "flags", "-n", "ssa", "-o", "json"))
    assert flags["data"] == {"beta": "on", "delta": "1"}  # gamma removed; delta is ops' too
    replicas = ("get", "deploy", "api", "-n", "ssa", "-o", "jsonpath={.spec.replicas}")
    assert ok(served, cache, *replicas) == "1"  # reset to the default (SetDefaults_Deployment)
    api = json.loads(ok(served, cache, "get", "svc", "api", "-n", "ssa", "-o", "json"))
    assert api["metadata"]["annotations"] == {"owner": "shop"}
    assert api["spec"]["selector"] == {"app": "api"}
    assert [p["name"] for p in api["spec"]["ports"]] == ["http"]
    fields = ("-o", "json", "--show-managed-fields")
    shown = json.loads(ok(served, cache, "get", "cm", "flags", "-n", "ssa", *fields))
    owners = {e["manager"]: e["fieldsV1"] for e in shown["metadata"]["managedFields"]}
    assert owners["kubectl"]["f:data"] == {"f:beta": {}}
    assert owners["ops"]["f:data"] == {"f:delta": {}}


DOOMED = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart, namespace: doomed}
spec:
  replicas: 2
  selector: {matchLabels: {app: cart}}
  template:
    metadata: {labels: {app: cart}}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
      - {name: main, image: public.ecr.aws/shop/cart:1}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: doomed}
spec:
  selector: {app: cart}
  ports: [{port: 80}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: cart, namespace: doomed}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: cart}}
"""


def test_deleting_a_namespace_deletes_what_is_in_it(
    served: Served, cache: Path, tmp_path: Path
) -> None:
    """The namespace goes Terminating, nothing new may be created in it (NamespaceLifecycle
    admission, k8s.io/apiserver pkg/admission/plugin/namespace/lifecycle/admission.go), the
    namespace controller deletes its content (pkg/controller/namespace/deletion), pods take
    their grace period, and then the namespace is gone. `default`, `kube-system` and
    `kube-public` may not be deleted."""
    ok(served, cache, "create", "namespace", "doomed")
    ok(served, cache, "apply", "-f", "-", stdin=DOOMED)
    ok(served, cache, "create", "secret", "generic", "token", "--from-literal=t=x", "-n", "doomed")
    ok(served, cache, "create", "configmap", "flags", "--from-literal=a=b", "-n", "doomed")
    for _ in range(40):
        if len(served.cluster.list_pods("doomed")) == 2:
            break
        served.clock.sleep(1.0)

    assert 'namespace "doomed" deleted' in ok(
        served, cache, "delete", "namespace", "doomed", "--wait=false"
    )
    shown = ok(served, cache, "get", "ns", "doomed").splitlines()[1].split()
    assert shown[:2] == ["doomed", "Terminating"]
    refused = run(served, cache, "create", "configmap", "late", "-n", "doomed")
    assert refused.returncode == 1
    assert (
        'configmaps "late" is forbidden: unable to create new content in namespace doomed '
        "because it is being terminated"
    ) in refused.stderr
    # The pods were deleted gracefully (no budget asked: the PDB went with the namespace).
    assert all(p.deletion_timestamp is not None for p in served.cluster.list_pods("doomed"))
    assert served.cluster.stats.evictions == 0

    ok(served, cache, "wait", "--for=delete", "namespace/doomed", "--timeout=60s")
    gone = run(served, cache, "get", "ns", "doomed")
    assert gone.returncode == 1
    assert 'namespaces "doomed" not found' in gone.stderr
    left = ok(served, cache, "get", "deploy,pods,svc,pdb,cm,secret", "-n", "doomed")
    assert left == ""
    # The name can be used again, for a namespace that starts empty.
    ok(served, cache, "create", "namespace", "doomed")
    assert ok(served, cache, "get", "secret,cm", "-n", "doomed") == ""

    immortal = run(served, cache, "delete", "namespace", "kube-system")
    assert immortal.returncode == 1
    assert 'namespaces "kube-system" is forbidden: this namespace may not be deleted' in (
        immortal.stderr
    )


def test_secrets_are_created_read_and_described_as_the_api_shows_them(
    served: Served, cache: Path
) -> None:
    """`data` is base64 in the API's JSON and `stringData` is write-only (k8s.io/api core/v1
    Secret; conversion merges stringData into data); `get secret` columns are printers.go
    secretColumnDefinitions (NAME, TYPE, DATA, AGE); describe shows sizes, never values."""
    ok(served, cache, "create", "namespace", "vault")
    created = ok(
        served,
        cache,
        "create",
        "secret",
        "generic",
        "db",
        "--from-literal=user=admin",
        "--from-literal=password=s3cr3t!",
        "-n",
        "vault",
    )
    assert "secret/db created" in created
    table = ok(served, cache, "get", "secret", "-n", "vault").splitlines()
    assert table[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert table[1].split()[:3] == ["db", "Opaque", "2"]
    wire = json.loads(ok(served, cache, "get", "secret", "db", "-n", "vault", "-o", "json"))
    assert wire["data"] == {
        "password": base64.b64encode(b"s3cr3t!").decode(),
        "user": base64.b64encode(b"admin").decode(),
    }
    described = ok(served, cache, "describe", "secret", "db", "-n", "vault")
    assert "password:  7 bytes" in described
    assert "s3cr3t" not in described

    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: api-key, namespace: vault}\n"
        "type: Opaque\nstringData: {key: abc123}\n"
    )
    assert "secret/api-key created" in ok(served, cache, "apply", "-f", "-", stdin=manifest)
    key = ok(served, cache, "get", "secret", "api-key", "-n", "vault", "-o", "jsonpath={.data}")
    assert json.loads(key) == {"key": base64.b64encode(b"abc123").decode()}
    changed = manifest.replace("abc123", "def456")
    assert "secret/api-key configured" in ok(served, cache, "apply", "-f", "-", stdin=changed)
    key = ok(served, cache, "get", "secret", "api-key", "-n", "vault", "-o", "jsonpath={.data}")
    assert json.loads(key) == {"key": base64.b64encode(b"def456").decode()}

    again = run(served, cache, "create", "secret", "generic", "db", "-n", "vault")
    assert again.returncode == 1
    assert 'secrets "db" already exists' in again.stderr
    bad = run(served, cache, "create", "secret", "generic", "x", "--from-literal=a b=1")
    assert bad.returncode == 1
    assert "a b" in bad.stderr
    assert 'secret "db" deleted' in ok(served, cache, "delete", "secret", "db", "-n", "vault")
    assert "db " not in ok(served, cache, "get", "secret", "-n", "vault")
