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
from upgrader.sandbox.eks.versions import PLATFORM_RELEASE_DAYS, platform_version

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
    created = eks.create_cluster(
        name="prod", version="1.29", roleArn=ROLE, resourcesVpcConfig={"subnetIds": ["s-1"]}
    )["cluster"]
    # EKS: CreateCluster answers CREATING and the cluster takes no node group or update until
    # it is ACTIVE (API reference, CreateCluster / Cluster.status). A new cluster runs the
    # latest platform version of its minor (docs: eks/latest/userguide/platform-versions.html).
    assert created["status"] == "CREATING"
    assert created["platformVersion"] == platform_version("1.29", clock.now())
    assert created["platformVersion"] != "eks.1"  # 1.29 had been out two years on this date
    with pytest.raises(eks.exceptions.InvalidRequestException):
        eks.create_nodegroup(
            clusterName="prod", nodegroupName="ng-a", nodeRole=ROLE, subnets=["s-1"]
        )
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.update_cluster_version(name="prod", version="1.30")
    clock.sleep(settings.cluster_create_seconds)
    assert eks.describe_cluster(name="prod")["cluster"]["status"] == "ACTIVE"
    eks.create_nodegroup(clusterName="prod", nodegroupName="ng-a", nodeRole=ROLE, subnets=["s-1"])
    assert eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"][
        "status"
    ] == ("CREATING")
    clock.sleep(settings.nodegroup_create_seconds)

    update = eks.update_cluster_version(name="prod", version="1.30")["update"]
    params = {p["type"]: p["value"] for p in update["params"]}
    assert params["PlatformVersion"] == platform_version("1.30", clock.now())
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.update_cluster_version(name="prod", version="1.30")
    assert eks.describe_cluster(name="prod")["cluster"]["status"] == "UPDATING"
    clock.sleep(settings.cluster_update_seconds)
    assert eks.describe_update(name="prod", updateId=update["id"])["update"]["status"] == (
        "Successful"
    )
    # The new minor at its latest platform version; EKS then moves it up by itself over time.
    upgraded = eks.describe_cluster(name="prod")["cluster"]["platformVersion"]
    assert upgraded == params["PlatformVersion"]
    clock.sleep(PLATFORM_RELEASE_DAYS * 86400)
    later = eks.describe_cluster(name="prod")["cluster"]["platformVersion"]
    assert int(later.removeprefix("eks.")) == int(upgraded.removeprefix("eks.")) + 1
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
    clock.sleep(settings.cluster_create_seconds)
    assert eks.update_cluster_version(name="prod", version="1.30")["update"]["status"] == (
        "InProgress"
    )
