"""SandboxServers: both servers up on loopback, and the files that point clients at them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3

from tests.sandbox.apiserver.fixtures import build_world
from upgrader.adapters.kubernetes.client import KubernetesCluster
from upgrader.core.kube import NODEGROUP_LABEL
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.daemon import aws_env


def test_kube_and_moto_servers_with_their_settings(tmp_path: Path) -> None:
    from upgrader.sandbox.servers import SandboxServers

    clock = VirtualClock()
    cluster = build_world(clock)
    # A directory a shell would split or expand: aws.env must quote what it exports.
    directory = tmp_path / "on call $HOME's sandbox"
    with SandboxServers(cluster, clock, directory, moto=True) as servers:
        kube = KubernetesCluster.from_kubeconfig(str(servers.kubeconfig_path))
        assert [n.name for n in kube.list_nodes()] == ["node-1", "node-2", "node-3"]
        env = servers.aws_env()
        assert f"export AWS_ENDPOINT_URL={env['AWS_ENDPOINT_URL']}" in (
            servers.aws_env_path.read_text()
        )
        # Sourcing aws.env points kubectl at the sandbox too, as the fleet's does.
        sourced = subprocess.run(
            ["bash", "-c", 'source "$1" && printf %s "$KUBECONFIG"', "_", servers.aws_env_path],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            capture_output=True,
            text=True,
            check=True,
        )
        assert sourced.stdout == str(servers.kubeconfig_path.resolve())
        assert aws_env(directory)["KUBECONFIG"] == str(servers.kubeconfig_path.resolve())
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


def test_moto_beside_a_sandbox_serves_the_same_cluster(tmp_path: Path) -> None:
    from upgrader.sandbox.servers import SandboxServers
    from upgrader.sandbox.world import Sandbox

    with Sandbox() as world:
        subnets = world.create_network()
        world.create_cluster("prod", "1.29", subnets)
        world.create_nodegroup(
            "prod", "ng-a", instance_type_name="m5.large", size=2, subnets=subnets
        )
        world.settle()
        directory = tmp_path / "sandbox"
        with SandboxServers(
            world.kube("prod"), world.clock, directory, moto=True, eks_cluster="prod"
        ) as servers:
            env = servers.aws_env()
            eks = boto3.client(
                "eks",
                region_name=env["AWS_REGION"],
                endpoint_url=env["AWS_ENDPOINT_URL"],
                aws_access_key_id="sandbox",
                aws_secret_access_key="sandbox",
            )
            assert eks.describe_cluster(name="prod")["cluster"]["endpoint"] == servers.kube.url
            assert eks.list_nodegroups(clusterName="prod")["nodegroups"] == ["ng-a"]
            kube = KubernetesCluster.from_kubeconfig(str(servers.kubeconfig_path))
            assert len(kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=ng-a")) == 2
            # A change through the AWS side shows on the Kubernetes side once time passes.
            eks.update_nodegroup_config(
                clusterName="prod", nodegroupName="ng-a", scalingConfig={"desiredSize": 3}
            )
            servers.kube.advance(600)
            assert len(kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=ng-a")) == 3
