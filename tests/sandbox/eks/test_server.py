"""The same extension served by moto's server, as `eksup sandbox up` serves it to real tools."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from moto.server import ThreadedMotoServer

from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.eks import extension as moto_eks
from upgrader.sandbox.eks.extension import eks_backend, settings

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/eks"


@pytest.fixture
def server() -> Iterator[str]:
    moto_eks.install()  # before the server's first EKS request: it builds its routes then
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    yield url
    _reset(url)
    server.stop()
    settings.reset()


def _reset(url: str) -> None:
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request) as response:
        assert json.load(response) == {"status": "ok"}


def test_core_calls_through_the_server(server: str) -> None:
    clock = VirtualClock()
    settings.clock = clock
    eks: EKSClient = boto3.client(
        "eks",
        region_name=REGION,
        endpoint_url=server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    eks.create_cluster(
        name="prod", version="1.29", roleArn=ROLE, resourcesVpcConfig={"subnetIds": ["s-1"]}
    )
    eks.create_nodegroup(clusterName="prod", nodegroupName="ng-a", nodeRole=ROLE, subnets=["s-1"])
    clock.sleep(settings.nodegroup_create_seconds)

    update = eks.update_cluster_version(name="prod", version="1.30")["update"]
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.update_cluster_version(name="prod", version="1.30")
    assert eks.describe_cluster(name="prod")["cluster"]["status"] == "UPDATING"
    clock.sleep(settings.cluster_update_seconds)
    assert eks.describe_update(name="prod", updateId=update["id"])["update"]["status"] == (
        "Successful"
    )
    with pytest.raises(eks.exceptions.InvalidParameterException):
        eks.update_cluster_version(name="prod", version="1.32")

    ng_update = eks.update_nodegroup_version(
        clusterName="prod", nodegroupName="ng-a", version="1.30"
    )["update"]
    assert eks.list_updates(name="prod", nodegroupName="ng-a")["updateIds"] == [ng_update["id"]]
    addons = eks.describe_addon_versions(kubernetesVersion="1.30", addonName="vpc-cni")["addons"]
    assert addons[0]["addonName"] == "vpc-cni"
    eks.create_addon(clusterName="prod", addonName="vpc-cni")
    assert eks.list_addons(clusterName="prod")["addons"] == ["vpc-cni"]
    eks_backend(REGION).add_insight("prod", "Kubelet version skew", "PASSING")
    assert [i["name"] for i in eks.list_insights(clusterName="prod")["insights"]] == [
        "Kubelet version skew"
    ]

    _reset(server)  # moto's reset endpoint: state gone, extension still serving
    assert eks.list_clusters()["clusters"] == []
    eks.create_cluster(
        name="prod", version="1.29", roleArn=ROLE, resourcesVpcConfig={"subnetIds": ["s-1"]}
    )
    assert eks.update_cluster_version(name="prod", version="1.30")["update"]["status"] == (
        "InProgress"
    )
