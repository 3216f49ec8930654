"""The pod-readiness gate on the fake cluster, the http-probe gate on a fake and on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import TypeAdapter

from strategies.gates.decide import GateTally
from strategies.gates.kinds import GateResult, HttpProbeGate, PodReadinessGate, Verdict
from strategies.run.outcome import AbortError, analyse
from strategies.spec import Gate
from strategies.spec import HttpProbeGate as HttpProbeSpec
from strategies.spec import PodReadinessGate as PodsSpec
from tests.strategies.compute_world import FakeProbe, with_room
from tests.strategies.world import NAMESPACE, deployment
from upgrader.adapters.http_probe import UrllibHttpProbe
from upgrader.core.errors import ServiceUnavailableError
from upgrader.core.kube import Pod, WorkloadKind
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster

# pod-readiness ----------------------------------------------------------------------------------


class RestartingCluster(FakeCluster):
    """FakeCluster whose containers restart: `restarts[pod name]` is added to the count."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(clock)
        self.restarts: dict[str, int] = {}

    def list_pods(
        self,
        namespace: str | None = None,
        node_name: str | None = None,
        label_selector: str | None = None,
    ) -> list[Pod]:
        pods = super().list_pods(namespace, node_name, label_selector)
        return [replace(p, restart_count=self.restarts.get(p.name, 0)) for p in pods]


@pytest.fixture
def kube(clock: VirtualClock) -> RestartingCluster:
    cluster = RestartingCluster(clock)
    with_room(cluster)
    cluster.add_workload(deployment("web-candidate", 3))
    clock.sleep(30)
    return cluster


def _pods_gate(kube: FakeCluster, **fields: Any) -> PodReadinessGate:
    spec = TypeAdapter(Gate).validate_python({"kind": "pod-readiness", **fields})
    assert isinstance(spec, PodsSpec)
    return PodReadinessGate(kube, NAMESPACE, "web-candidate", spec)


def _names(kube: FakeCluster) -> list[str]:
    return [p.name for p in kube.list_pods(NAMESPACE, label_selector="app=web-candidate")]


def test_all_pods_ready_pass(kube: RestartingCluster) -> None:
    result = _pods_gate(kube).evaluate()
    assert result.verdict is Verdict.PASS
    assert "3 pod(s) Ready" in result.reason


def test_a_pod_not_ready_fails_and_is_named(kube: RestartingCluster) -> None:
    name = _names(kube)[1]
    kube.set_pod_ready(NAMESPACE, name, False)

    result = _pods_gate(kube).evaluate()

    assert result.verdict is Verdict.FAIL
    assert result.culprits == (name,)
    assert f"not Ready: {name}" in result.reason


def test_restarts_count_from_when_the_gate_first_saw_the_pod(kube: RestartingCluster) -> None:
    first, second, _ = _names(kube)
    kube.restarts[first] = 4  # crashed before the rollout: not the candidate's fault
    gate = _pods_gate(kube, max_restarts=1)
    assert gate.evaluate().verdict is Verdict.PASS

    kube.restarts[first] = 5  # one more: within max_restarts 1
    kube.restarts[second] = 2  # two since the start
    result = gate.evaluate()

    assert result.verdict is Verdict.FAIL
    assert result.culprits == (second,)
    assert f"{second} (2)" in result.reason


def test_a_pod_born_after_the_first_check_counts_every_restart(
    kube: RestartingCluster, clock: VirtualClock
) -> None:
    gate = _pods_gate(kube, max_restarts=0)
    before = set(_names(kube))
    assert gate.evaluate().verdict is Verdict.PASS
    kube.delete_pod(NAMESPACE, sorted(before)[0], grace_period_seconds=0)
    clock.sleep(30)  # the Deployment replaces it; the new pod starts
    (newcomer,) = set(_names(kube)) - before
    kube.restarts[newcomer] = 1

    result = gate.evaluate()

    assert result.verdict is Verdict.FAIL
    assert result.culprits == (newcomer,)


@pytest.mark.parametrize(
    ("policy", "verdict"),
    [("fail", Verdict.FAIL), ("pause", Verdict.PAUSE), ("pass", Verdict.PASS)],
)
def test_no_pods_follow_the_declared_policy(
    kube: RestartingCluster, clock: VirtualClock, policy: str, verdict: Verdict
) -> None:
    kube.add_workload(deployment("web-empty", 0))
    spec = TypeAdapter(Gate).validate_python({"kind": "pod-readiness", "no_data": policy})
    assert isinstance(spec, PodsSpec)

    result = PodReadinessGate(kube, NAMESPACE, "web-empty", spec).evaluate()

    assert result.verdict is verdict
    assert result.reason == f"no pods (no_data: {policy})"


def test_terminating_pods_are_not_counted(kube: RestartingCluster, clock: VirtualClock) -> None:
    before = set(_names(kube))
    victim = sorted(before)[0]
    kube.delete_pod(NAMESPACE, victim)  # 30 s grace: still listed, not Ready
    (replacement,) = set(_names(kube)) - before
    gate = _pods_gate(kube)

    starting = gate.evaluate()
    clock.sleep(10)  # the replacement is Ready; the victim is still terminating
    settled = gate.evaluate()

    assert starting.verdict is Verdict.FAIL
    assert starting.culprits == (replacement,)
    assert victim in _names(kube)
    assert settled.verdict is Verdict.PASS, settled.reason
    assert "3 pod(s) Ready" in settled.reason


# http-probe -------------------------------------------------------------------------------------


def _probe_spec(**fields: Any) -> HttpProbeSpec:
    spec = TypeAdapter(Gate).validate_python(
        {"kind": "http-probe", "url": "http://web.shop.svc/healthz", **fields}
    )
    assert isinstance(spec, HttpProbeSpec)
    return spec


def test_the_expected_status_passes() -> None:
    probe = FakeProbe(204)
    result = HttpProbeGate(probe, _probe_spec(expected_status=204, timeout_seconds=2)).evaluate()
    assert result.verdict is Verdict.PASS
    assert probe.calls == [("http://web.shop.svc/healthz", 2.0)]


def test_another_status_fails() -> None:
    result = HttpProbeGate(FakeProbe(503), _probe_spec()).evaluate()
    assert result.verdict is Verdict.FAIL
    assert "503, expected 200" in result.reason


@pytest.mark.parametrize("policy", ["fail", "pause", "pass"])
def test_no_answer_fails_whatever_the_no_data_policy(policy: str) -> None:
    result = HttpProbeGate(FakeProbe(None), _probe_spec(no_data=policy)).evaluate()
    assert result.verdict is Verdict.FAIL
    assert "Connection refused" in result.reason


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1.0)
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_urllib_probe_returns_any_status(server: str) -> None:
    probe = UrllibHttpProbe()
    assert probe.get_status(f"{server}/healthz", 5) == 200
    assert probe.get_status(f"{server}/broken", 5) == 503


def test_urllib_probe_no_answer_is_service_unavailable(server: str) -> None:
    probe = UrllibHttpProbe()
    with pytest.raises(ServiceUnavailableError, match="no answer"):
        probe.get_status(f"{server}/slow", 0.2)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there any more
    with pytest.raises(ServiceUnavailableError, match="no answer"):
        probe.get_status(f"http://127.0.0.1:{port}/healthz", 2)


def test_a_refused_connection_fails_the_gate_end_to_end() -> None:
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = closed.server_address[1]
    closed.server_close()
    spec = _probe_spec(url=f"http://127.0.0.1:{port}/healthz", no_data="pass")

    result = HttpProbeGate(UrllibHttpProbe(), spec).evaluate()

    assert result.verdict is Verdict.FAIL
    assert "no answer" in result.reason


def test_starting_pods_are_rechecked_within_the_failure_limit(
    kube: RestartingCluster, clock: VirtualClock
) -> None:
    kube.scale_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, "web-candidate", 5)  # 2 start now
    gate = _pods_gate(kube, failure_limit=3, interval_seconds=3)
    results: list[GateResult] = []

    analyse([gate], clock, give_up=clock.now() + 60, label="b", tally=GateTally(results, {}))

    # Not Ready at +0 and +3, Ready at +6 (5 s start-up): two failures, under the limit.
    assert [r.verdict for r in results] == [Verdict.FAIL, Verdict.FAIL, Verdict.PASS]
    assert "5 pod(s) Ready" in results[-1].reason


def test_a_probe_recovering_within_the_failure_limit_passes(clock: VirtualClock) -> None:
    probe = FakeProbe(None, 503, 200)
    gate = HttpProbeGate(probe, _probe_spec(failure_limit=3, interval_seconds=10))
    results: list[GateResult] = []
    start = clock.now()

    analyse([gate], clock, give_up=start + 60, label="b", tally=GateTally(results, {}))

    assert [r.verdict for r in results] == [Verdict.FAIL, Verdict.FAIL, Verdict.PASS]
    assert clock.now() - start == pytest.approx(20)


def test_a_probe_failing_up_to_its_limit_aborts(clock: VirtualClock) -> None:
    gate = HttpProbeGate(FakeProbe(None, 500), _probe_spec(failure_limit=2, interval_seconds=10))

    with pytest.raises(AbortError, match=r"500, expected 200 \(failure 2 of 2\)"):
        analyse([gate], clock, give_up=clock.now() + 60, label="b", tally=GateTally([], {}))
