"""Watches on the sandbox API server: `kubectl get -w`, `kubectl rollout status` and the Python
client's watch see what happens to the FakeCluster, as they would on a real cluster."""

from __future__ import annotations

import itertools
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import watch
from kubernetes.client import CoreV1Api

from tests.sandbox.apiserver.fixtures import Served, serve
from tests.sandbox.apiserver.test_kubectl import KUBECTL, TICKER_RATE, kubectl
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.sandbox.apiserver.watch import ChangeFeed, ExpiredError

WAIT_SECONDS = 60.0  # real seconds to wait for a line kubectl should print


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    for s in serve(tmp_path):
        s.server.start_ticker(TICKER_RATE)
        yield s


class Watching:
    """A `kubectl get ... -w` in the background, its stdout lines in a queue."""

    def __init__(self, served: Served, tmp_path: Path, *args: str) -> None:
        assert KUBECTL is not None
        command = [KUBECTL, "--kubeconfig", str(served.kubeconfig)]
        command += ["--cache-dir", str(tmp_path / "watch-cache"), "get", *args, "-w"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, wanted: str) -> list[str]:
        """The lines printed up to and including the first that contains `wanted`."""
        seen = []
        while True:
            try:
                line = self.lines.get(timeout=WAIT_SECONDS)
            except queue.Empty:
                pytest.fail(f"kubectl never printed {wanted!r}; printed {seen}")
            seen.append(line)
            if wanted in line:
                return seen

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def kube(served: Served) -> KubernetesCluster:
    return KubernetesCluster.from_kubeconfig(str(served.kubeconfig), clock=served.clock)


@pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary")
def test_get_nodes_watch_prints_a_cordon(
    served: Served, kube: KubernetesCluster, tmp_path: Path
) -> None:
    watching = Watching(served, tmp_path, "nodes")
    try:
        listed = watching.until("node-3")
        assert listed[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        kube.set_unschedulable("node-2", True)
        changed = watching.until("SchedulingDisabled")
        assert changed[-1].split()[:2] == ["node-2", "Ready,SchedulingDisabled"]
        # The header is printed once, not with every event.
        assert not any(line.startswith("NAME") for line in changed)
    finally:
        watching.stop()


@pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary")
def test_get_pods_watch_follows_an_eviction_and_the_replacement(
    served: Served, kube: KubernetesCluster, tmp_path: Path
) -> None:
    victim = kube.list_pods("default", label_selector="app=web")[0]
    watching = Watching(served, tmp_path, "pods", "-n", "default", "-l", "app=web")
    try:
        listed = watching.until(victim.name)
        assert all("node-agent" not in line for line in listed)
        kube.evict_pod("default", victim.name)
        watching.until(f"{victim.name}   0/1     Terminating")
        # The Deployment replaces it; the new pod shows up and turns Ready in virtual time.
        arrived = watching.until("1/1     Running")
        assert any(victim.name not in line for line in arrived)
    finally:
        watching.stop()


@pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary")
def test_rollout_status_of_a_ready_deployment(served: Served, tmp_path: Path) -> None:
    done = kubectl(served, tmp_path, "rollout", "status", "deployment/web", "--timeout=30s")
    assert (done.returncode, done.stdout) == (0, 'deployment "web" successfully rolled out\n')


@pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary")
def test_rollout_status_follows_a_restart_to_the_end(served: Served, tmp_path: Path) -> None:
    restart = kubectl(served, tmp_path, "rollout", "restart", "deployment/web")
    assert restart.returncode == 0, restart.stderr
    done = kubectl(served, tmp_path, "rollout", "status", "deployment/web", "--timeout=60s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith('deployment "web" successfully rolled out\n')
    assert 'Waiting for deployment "web" rollout to finish' in done.stdout
    # Done means two new pods Ready; the old ones may still be in their grace period.
    pods = served.cluster.list_pods("default", label_selector="app=web")
    live = [p for p in pods if p.deletion_timestamp is None]
    assert len(live) == 2
    assert all(p.ready and p.created_at > served.server.api.created_at for p in live)


def test_python_client_watch_sees_modified_nodes(served: Served, kube: KubernetesCluster) -> None:
    core = CoreV1Api(kube.api_client)
    listed = core.list_node()
    revision = listed.metadata.resource_version
    served.cluster.set_unschedulable("node-1", True)
    events = []
    for event in watch.Watch().stream(
        core.list_node, resource_version=revision, timeout_seconds=10
    ):
        events.append((event["type"], event["object"].metadata.name))
        if event["object"].spec.unschedulable:
            break
    assert events == [("MODIFIED", "node-1")]
    # Each event carries a newer resourceVersion than the list it follows.
    assert int(revision) < served.server.api.feed.revision


def test_a_watch_from_a_forgotten_revision_is_told_to_relist() -> None:
    state = {"a": 1}
    feed = ChangeFeed({"things": lambda: {k: (v, {"v": v}) for k, v in state.items()}}, history=1)
    start = feed.sync("things")
    for value in (2, 3):
        state["a"] = value
        feed.sync("things")
    with pytest.raises(ExpiredError):
        next(feed.events("things", start, time.monotonic() + 1))
    latest = feed.events("things", start + 1, time.monotonic() + 1)
    assert [(e.type, e.wire) for e in itertools.islice(latest, 1)] == [("MODIFIED", {"v": 3})]
    state.clear()
    feed.sync("things")
    gone = feed.events("things", start + 2, time.monotonic() + 1)
    assert [(e.type, e.key) for e in itertools.islice(gone, 1)] == [("DELETED", "a")]


def test_a_filtered_watch_sees_objects_enter_and_leave_its_selector() -> None:
    """k8s.io/apiserver/pkg/storage/cacher/cache_watcher.go, convertToWatchEvent: ADDED when an
    object starts to match, DELETED (with its previous content) when it stops."""
    from upgrader.sandbox.apiserver.watch import WatchEvent, filtered

    def on_a(value: object) -> bool:
        return bool(value == "a")

    moved = WatchEvent(5, "MODIFIED", "pods", "ns/p", "b", {"n": "b"}, "a", {"n": "a"})
    assert filtered(moved, on_a) == ("DELETED", "a", {"n": "a"})
    arrived = WatchEvent(6, "MODIFIED", "pods", "ns/p", "a", {"n": "a"}, "b", {"n": "b"})
    assert filtered(arrived, on_a) == ("ADDED", "a", {"n": "a"})
    stayed = WatchEvent(7, "MODIFIED", "pods", "ns/p", "a", {"n": "a2"}, "a", {"n": "a"})
    assert filtered(stayed, on_a) == ("MODIFIED", "a", {"n": "a2"})
    elsewhere = WatchEvent(8, "MODIFIED", "pods", "ns/p", "b", {"n": "b"}, "c", {"n": "c"})
    assert filtered(elsewhere, on_a) is None
    gone = WatchEvent(9, "DELETED", "pods", "ns/p", "a", {"n": "a"})
    assert filtered(gone, on_a) == ("DELETED", "a", {"n": "a"})
