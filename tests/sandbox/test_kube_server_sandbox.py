"""SandboxServers: both servers up on loopback, and the files that point clients at them."""

from __future__ import annotations

from pathlib import Path

import boto3

from upgrader.adapters.kubernetes_client import KubernetesCluster
from upgrader.sandbox.clock import VirtualClock

from .kube_server_fixtures import build_world


def test_kube_and_moto_servers_with_their_settings(tmp_path: Path) -> None:
    from upgrader.sandbox.sandbox_servers import SandboxServers

    clock = VirtualClock()
    cluster = build_world(clock)
    with SandboxServers(cluster, clock, tmp_path / "sandbox", moto=True) as servers:
        kube = KubernetesCluster.from_kubeconfig(str(servers.kubeconfig_path))
        assert [n.name for n in kube.list_nodes()] == ["node-1", "node-2", "node-3"]
        env = servers.aws_env()
        assert f"export AWS_ENDPOINT_URL={env['AWS_ENDPOINT_URL']}" in (
            servers.aws_env_path.read_text()
        )
        eks = boto3.client(
            "eks",
            region_name=env["AWS_REGION"],
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )
        assert eks.list_clusters()["clusters"] == []
        before = clock.now()
        servers.kube.advance(30)
        assert clock.now() == before + 30
