"""`eksup rollout plan|run` for rolling and recreate, through the CLI and the real Kubernetes
client, against a fake cluster served on loopback (moto stands in for AWS).

`rollout run` waits in real time here (SystemClock); the served cluster's virtual time moves
50 times faster, so a pod starting in 5 virtual seconds is Ready in 0.1 real ones. No
assertion is about time: the replica bounds are checked on every state the recorder saw.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.strategies.compute_world import RecordedCluster, RecordingClock, with_room
from tests.strategies.world import NAMESPACE, deployment
from upgrader.cli import app
from upgrader.core.kube import WorkloadKind
from upgrader.sandbox.apiserver.server import KubeServer
from upgrader.sandbox.world import Sandbox

RATE = 50.0  # virtual seconds per real second


def run(kubeconfig: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, list(args), env={"COLUMNS": "200", "KUBECONFIG": str(kubeconfig)}
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[RecordedCluster, Path]]:
    clock = RecordingClock()
    kube = RecordedCluster(clock)
    with_room(kube)
    kube.add_workload(deployment("web-stable", 3))
    kube.add_workload(deployment("web-candidate", 0))
    clock.sleep(60)
    kube.recording = True
    with Sandbox(), KubeServer(kube, clock) as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        server.start_ticker(RATE)
        yield kube, kubeconfig


def _spec(tmp_path: Path, strategy: str) -> Path:
    spec = tmp_path / "rollout.yaml"
    spec.write_text(
        f"app: {{name: web, namespace: {NAMESPACE}, stable: {{deployment: web-stable}},"
        " candidate: {deployment: web-candidate}}\n"
        f"strategy: {strategy}\n"
        "gates: [{kind: pod-readiness, interval_seconds: 1}]\n"
    )
    return spec


def _replicas(kube: RecordedCluster, name: str) -> int | None:
    return kube.get_workload(WorkloadKind.DEPLOYMENT, NAMESPACE, name).replicas


def test_plan_describes_a_rolling_rollout(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "{kind: rolling, max_surge: 1, max_unavailable: 0}")
    code, stdout, stderr = run(tmp_path / "none", "rollout", "plan", str(spec))
    assert code == 0, stderr
    assert "rolling shop/web-stable -> web-candidate" in stdout
    assert "max_surge 1" in stdout
    assert "pod-readiness" in stdout


def test_run_rolls_within_the_bounds(tmp_path: Path, served: tuple[RecordedCluster, Path]) -> None:
    kube, kubeconfig = served
    spec = _spec(tmp_path, "{kind: rolling, max_surge: 1, max_unavailable: 0}")

    code, stdout, stderr = run(
        kubeconfig, "rollout", "run", str(spec), "--yes", "--region", "us-east-1"
    )

    assert code == 0, stderr + stdout
    assert "succeeded after 4/4 steps" in stdout
    assert _replicas(kube, "web-stable") == 0
    assert _replicas(kube, "web-candidate") == 3
    assert max(s.desired for s in kube.samples) == 4  # 3 + max_surge
    assert min(s.ready for s in kube.samples) >= 3  # max_unavailable 0


def test_run_recreate_reports_its_downtime(
    tmp_path: Path, served: tuple[RecordedCluster, Path]
) -> None:
    kube, kubeconfig = served
    spec = _spec(tmp_path, "{kind: recreate}")

    code, stdout, stderr = run(
        kubeconfig, "rollout", "run", str(spec), "--yes", "--region", "us-east-1"
    )

    assert code == 0, stderr + stdout
    assert "succeeded after 2/2 steps" in stdout
    assert "downtime" in stdout
    assert all(s.stable_desired == 0 or s.candidate_desired == 0 for s in kube.samples)
    assert any(s.ready == 0 for s in kube.samples)
    assert _replicas(kube, "web-candidate") == 3


def test_abort_of_a_rolling_rollout_says_what_to_do_instead(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "{kind: rolling}")
    with Sandbox():
        code, _, stderr = run(tmp_path / "none", "rollout", "abort", str(spec))
    assert code == 1
    assert "no traffic switch" in stderr
    assert stderr.strip().count("\n") == 0
