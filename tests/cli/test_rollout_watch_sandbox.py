"""`rollout status --watch --sandbox` follows a `rollout run --sandbox` on the served sandbox.

An embedded `--sandbox` world lives in its command's process, so another command cannot see
its rollout; the served sandbox (`eksup sandbox up`) keeps one world, its ConfigMap and Lease
included, for every command. So the README's way to watch a sandbox rollout is: `sandbox up`,
`rollout run SPEC --sandbox --yes` in one shell, `rollout status SPEC --sandbox --watch
--timeout S` in another. The watch refreshes on each change and ends with the run's outcome.

Here the servers run in this process (as `eksup sandbox serve` runs them) with a fast ticker,
the run in a thread through the real adapters, and the watch through the CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.demo import rollout_ports
from upgrader.demo.rollout_ports import served_rollout_ports
from upgrader.sandbox.daemon import ServedSandbox
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.rollout_world import build_rollout_world
from upgrader.sandbox.servers import SandboxServers
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.rollouts import run_rollout

SPEC = Path("examples/rollouts/blue-green-route53.yaml")
# Virtual seconds per real second: the blue/green's ~10 virtual minutes in seconds, while a
# stall of a loaded machine (a fraction of a real second) stays far within the run's 120 s
# lease. The wall time goes mostly to HTTP round trips, not to the rate.
RATE = 200.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    """The demo world with the examples' resources, served as `eksup sandbox serve` serves
    it (both servers, a ticker), shared by this module's tests: each uses other resources."""
    with Sandbox() as world:
        build_demo_world(world)
        build_rollout_world(world)
        directory = tmp_path_factory.mktemp("sandbox")
        with SandboxServers(
            world.kube(DEMO_CLUSTER),
            world.clock,
            directory,
            ticker_rate=RATE,
            moto=True,
            region=world.region,
            eks_cluster=DEMO_CLUSTER,
        ) as servers:
            assert servers.aws_endpoint_url is not None
            yield ServedSandbox(
                directory,
                servers.kube.url,
                servers.aws_endpoint_url,
                world.region,
                servers.kube.clock_url,
            )


@pytest.mark.slow  # real servers: the run's HTTP round trips take seconds of wall time
def test_status_watch_follows_a_sandbox_run_to_its_end(
    served: ServedSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sandbox up` proves its process by a token in a pid file; these servers run in this
    # process, so `--sandbox` is pointed at them directly.
    monkeypatch.setattr(rollout_ports, "running_sandbox", lambda _: served)
    outcome: list[str] = []

    def run() -> None:
        report = run_rollout(SPEC, served_rollout_ports(served), confirm=None, log=lambda _: None)
        outcome.append(report.status.value)

    started = threading.Thread(target=run, daemon=True)
    started.start()
    result = CliRunner().invoke(
        app,
        ["rollout", "status", str(SPEC), "--sandbox", "--watch", "--timeout", "3600"],
        env={"COLUMNS": "200"},
    )
    started.join(timeout=60)

    assert outcome == ["succeeded"]
    assert result.exit_code == 0, result.stdout + result.stderr
    shown = [line for line in result.stdout.splitlines() if line.startswith("shop/web:")]
    # It refreshed: more than one state on the way, and the last is the end.
    assert len(shown) >= 2, result.stdout
    assert "succeeded" in shown[-1], result.stdout


@pytest.mark.slow
def test_the_ab_and_shadow_examples_run_on_the_served_sandbox(
    served: ServedSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real kubernetes client: the Ingress patched over HTTP reaches the fake Load
    Balancer Controller, the HTTPRoute replaced over HTTP is accepted by its Gateway."""
    monkeypatch.setattr(rollout_ports, "running_sandbox", lambda _: served)
    runner = CliRunner()
    ab = "examples/rollouts/ab-ingress.yaml"
    result = runner.invoke(app, ["rollout", "run", ab, "--sandbox", "--yes"])
    assert result.exit_code == 0, result.stderr
    assert "Cookie ~ *variant=b* -> k8s-shop-web-candidate" in result.stdout
    # The A/B route stays on after a passed bake; a later command, from anywhere, ends it.
    result = runner.invoke(app, ["rollout", "abort", ab, "--sandbox"])
    assert result.exit_code == 0, result.stderr
    assert "Cookie ~ *variant=b* -> k8s-shop-web)" in result.stdout

    shadow = "examples/rollouts/shadow-gateway.yaml"
    result = runner.invoke(app, ["rollout", "run", shadow, "--sandbox", "--yes"])
    assert result.exit_code == 0, result.stderr
    assert "no mirror on HTTPRoute shop/web generation 3" in result.stdout


def test_status_on_a_sandbox_that_is_not_served_says_how_to_serve_one() -> None:
    result = CliRunner().invoke(
        app, ["rollout", "status", str(SPEC), "--sandbox", "--watch", "--timeout", "60"]
    )
    assert result.exit_code == 1
    assert "no sandbox is served from" in result.stderr
    assert "eksup sandbox up" in result.stderr
    assert "Traceback" not in result.stderr
