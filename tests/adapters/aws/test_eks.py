"""`Boto3ControlPlane` against the sandbox's EKS (moto plus `upgrader.sandbox.eks.extension`, on a
virtual clock), and through Stubber where the exact request or a rare answer matters."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from tests.adapters.conftest import REGION
from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.aws import (
    LaunchTemplateRef,
    NodegroupSpec,
    NodegroupTaint,
    ScalingConfig,
    UpdateConfig,
    UpdateStatus,
)
from upgrader.core.errors import NotFoundError, UserError
from upgrader.sandbox.aws_world import network
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.eks import extension as moto_eks
from upgrader.sandbox.eks.extension import eks_backend, settings

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    role: str
    subnets: tuple[str, str]


@pytest.fixture
def clock(aws: Boto3Aws) -> Iterator[VirtualClock]:
    """The sandbox's EKS, installed before the first EKS request, on virtual time."""
    moto_eks.install()
    clock = VirtualClock()
    settings.clock = clock
    yield clock
    settings.reset()


@pytest.fixture
def world(aws: Boto3Aws, clock: VirtualClock) -> World:
    subnets = network(aws.clients.ec2, "us-east-1", subnets=2).subnets
    role = aws.clients.session.client("iam").create_role(
        RoleName="eks", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    aws.clients.eks.create_cluster(
        name="prod",
        version="1.29",
        roleArn=role,
        resourcesVpcConfig={"subnetIds": list(subnets), "securityGroupIds": ["sg-1"]},
        tags={"team": "platform"},
    )
    clock.sleep(settings.cluster_create_seconds)  # CREATING until the control plane is up
    return World(role=role, subnets=(subnets[0], subnets[1]))


def spec(world: World, name: str = "green", **changes: Any) -> NodegroupSpec:
    base = NodegroupSpec(
        cluster="prod",
        name=name,
        node_role=world.role,
        subnets=world.subnets,
        scaling=ScalingConfig(min_size=1, max_size=4, desired_size=2),
        version="1.29",
        instance_types=("m5.large",),
        labels={"pool": "general"},
        taints=(NodegroupTaint("dedicated", "web", "NO_SCHEDULE"),),
        tags={"owner": "eksup"},
    )
    return dataclasses.replace(base, **changes)


def test_describe_cluster(aws: Boto3Aws, world: World) -> None:
    cluster = aws.describe_cluster("prod")

    assert cluster.name == "prod"
    assert cluster.arn.endswith(":cluster/prod")
    assert cluster.version == "1.29"
    assert cluster.status == "ACTIVE"
    assert cluster.subnet_ids == world.subnets
    assert cluster.security_group_ids == ("sg-1",)
    assert cluster.role_arn == world.role
    assert cluster.tags == {"team": "platform"}
    assert cluster.endpoint.startswith("https://")
    assert cluster.created_at == settings.clock.now() - settings.cluster_create_seconds
    assert cluster.health_issues == ()


def test_describe_missing_cluster(aws: Boto3Aws, world: World) -> None:
    with pytest.raises(NotFoundError, match="eks:DescribeCluster"):
        aws.describe_cluster("staging")


def test_nodegroup_lifecycle(aws: Boto3Aws, world: World, clock: VirtualClock) -> None:
    created = aws.create_nodegroup(spec(world))

    assert created.status == "CREATING"
    assert created.name == "green"
    assert created.cluster == "prod"
    assert created.version == "1.29"
    assert created.scaling == ScalingConfig(1, 4, 2)
    assert created.instance_types == ("m5.large",)
    assert created.labels == {"pool": "general"}
    assert created.taints == (NodegroupTaint("dedicated", "web", "NO_SCHEDULE"),)
    assert created.subnets == world.subnets
    assert created.tags["owner"] == "eksup"
    assert created.created_at > 0

    assert created.release_version.startswith("1.29.")
    assert len(created.auto_scaling_groups) == 1
    aws.create_nodegroup(spec(world, name="blue"))
    assert sorted(aws.list_nodegroups("prod")) == ["blue", "green"]
    clock.sleep(settings.nodegroup_create_seconds)
    green = aws.describe_nodegroup("prod", "green")
    assert (green.status, green.node_role) == ("ACTIVE", world.role)

    assert aws.delete_nodegroup("prod", "green").status == "DELETING"
    clock.sleep(settings.nodegroup_delete_seconds)
    assert aws.list_nodegroups("prod") == ["blue"]
    with pytest.raises(NotFoundError):
        aws.describe_nodegroup("prod", "green")


def test_update_nodegroup_scaling(aws: Boto3Aws, world: World, clock: VirtualClock) -> None:
    aws.create_nodegroup(spec(world))
    clock.sleep(settings.nodegroup_create_seconds)

    update = aws.update_nodegroup_scaling("prod", "green", 0, 6, 3)

    assert update.type == "ConfigUpdate"
    assert update.id in aws.list_updates("prod", nodegroup="green")
    assert aws.describe_nodegroup("prod", "green").scaling == ScalingConfig(0, 6, 3)


def test_control_plane_then_nodegroup_version_update(
    aws: Boto3Aws, world: World, clock: VirtualClock
) -> None:
    aws.create_nodegroup(spec(world, name="blue"))
    clock.sleep(settings.nodegroup_create_seconds)

    update = aws.update_cluster_version("prod", "1.30")

    assert (update.type, update.status) == ("VersionUpdate", UpdateStatus.IN_PROGRESS)
    assert update.params["Version"] == "1.30"
    assert update.created_at == clock.now()
    assert aws.describe_cluster("prod").status == "UPDATING"
    clock.sleep(settings.cluster_update_seconds)
    assert aws.describe_update("prod", update.id).status is UpdateStatus.SUCCESSFUL
    assert aws.describe_cluster("prod").version == "1.30"
    assert aws.list_updates("prod") == [update.id]

    node_update = aws.update_nodegroup_version("prod", "blue", version="1.30")
    assert aws.describe_update("prod", node_update.id, nodegroup="blue").status is (
        UpdateStatus.IN_PROGRESS
    )
    clock.sleep(settings.nodegroup_update_seconds)
    assert aws.describe_update("prod", node_update.id, nodegroup="blue").status.finished
    assert aws.describe_nodegroup("prod", "blue").version == "1.30"


def test_addons(aws: Boto3Aws, world: World, clock: VirtualClock) -> None:
    aws.clients.eks.create_addon(
        clusterName="prod", addonName="vpc-cni", addonVersion="v1.20.4-eksbuild.2"
    )
    clock.sleep(settings.addon_create_seconds)

    assert aws.list_addons("prod") == ["vpc-cni"]
    addon = aws.describe_addon("prod", "vpc-cni")
    assert (addon.name, addon.version, addon.status) == ("vpc-cni", "v1.20.4-eksbuild.2", "ACTIVE")
    assert addon.service_account_role_arn is None

    update = aws.update_addon("prod", "vpc-cni", "v1.21.1-eksbuild.7")
    assert update.type == "AddonUpdate"
    assert update.params["ResolveConflicts"] == "PRESERVE"
    clock.sleep(settings.addon_update_seconds)
    assert aws.describe_update("prod", update.id, addon="vpc-cni").status is (
        UpdateStatus.SUCCESSFUL
    )
    assert aws.describe_addon("prod", "vpc-cni").version == "v1.21.1-eksbuild.7"
    assert aws.list_updates("prod", addon="vpc-cni") == [update.id]
    with pytest.raises(NotFoundError):
        aws.describe_addon("prod", "coredns")


def test_describe_addon_versions(aws: Boto3Aws, clock: VirtualClock) -> None:
    versions = aws.describe_addon_versions("1.30", "vpc-cni")

    assert versions
    assert {v.addon_name for v in versions} == {"vpc-cni"}
    assert all(v.compatible_with("1.30") for v in versions)
    assert "v1.21.1-eksbuild.7" in {v.version for v in versions}
    every_addon = aws.describe_addon_versions("1.30")
    assert {"vpc-cni", "coredns", "kube-proxy"} <= {v.addon_name for v in every_addon}


def test_list_insights_with_recommendations(aws: Boto3Aws, world: World) -> None:
    backend = eks_backend(REGION)
    failing = backend.add_insight(
        "prod",
        "Deprecated APIs removed in Kubernetes v1.30",
        "ERROR",
        reason="flowcontrol v1beta2 in use",
        description="Checks for usage of deprecated APIs",
        recommendation="Move to flowcontrol.apiserver.k8s.io/v1",
    )
    backend.add_insight("prod", "Kubelet version skew", "PASSING")

    insights = {i.id: i for i in aws.list_insights("prod")}

    assert len(insights) == 2
    error = insights[failing]
    assert error.name == "Deprecated APIs removed in Kubernetes v1.30"
    assert (error.category, error.status) == ("UPGRADE_READINESS", "ERROR")
    assert error.kubernetes_version == "1.30"
    assert error.description == "Checks for usage of deprecated APIs"
    assert error.recommendation == "Move to flowcontrol.apiserver.k8s.io/v1"
    (passing,) = (i for i in insights.values() if i.id != failing)
    assert (passing.status, passing.recommendation) == ("PASSING", "")


# Exact requests and rare answers, through Stubber ---------------------------------------------


@pytest.fixture
def eks_stub(aws: Boto3Aws) -> Iterator[Stubber]:
    with Stubber(aws.clients.eks) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def eks_update(update_id: str, kind: str, status: str = "InProgress") -> dict[str, object]:
    return {
        "update": {
            "id": update_id,
            "status": status,
            "type": kind,
            "params": [{"type": "Version", "value": "1.30"}],
            "createdAt": CREATED,
            "errors": [],
        }
    }


def test_describe_cluster_health_and_support(aws: Boto3Aws, eks_stub: Stubber) -> None:
    eks_stub.add_response(
        "describe_cluster",
        {
            "cluster": {
                "name": "prod",
                "version": "1.29",
                "status": "ACTIVE",
                "upgradePolicy": {"supportType": "STANDARD"},
                "health": {
                    "issues": [
                        {"code": "Ec2SubnetNotFound", "message": "subnet-1 is gone"},
                    ]
                },
            }
        },
        {"name": "prod"},
    )

    cluster = aws.describe_cluster("prod")

    assert cluster.support_type == "STANDARD"
    assert cluster.health_issues == ("Ec2SubnetNotFound: subnet-1 is gone",)
    assert cluster.created_at == 0.0


def test_describe_update_and_list_updates(aws: Boto3Aws, eks_stub: Stubber) -> None:
    failed = eks_update("u-2", "VersionUpdate", "Failed")
    failed["update"]["errors"] = [
        {"errorCode": "NodeCreationFailure", "errorMessage": "no capacity", "resourceIds": []}
    ]
    eks_stub.add_response(
        "describe_update", failed, {"name": "prod", "updateId": "u-2", "nodegroupName": "blue"}
    )
    eks_stub.add_response(
        "list_updates", {"updateIds": ["u-1"], "nextToken": "t"}, {"name": "prod"}
    )
    eks_stub.add_response(
        "list_updates", {"updateIds": ["u-2"]}, {"name": "prod", "nextToken": "t"}
    )
    eks_stub.add_response(
        "list_updates", {"updateIds": ["u-3"]}, {"name": "prod", "addonName": "vpc-cni"}
    )

    update = aws.describe_update("prod", "u-2", nodegroup="blue")
    assert update.status is UpdateStatus.FAILED
    assert update.status.finished
    assert update.errors == ("NodeCreationFailure: no capacity",)
    assert aws.list_updates("prod") == ["u-1", "u-2"]
    assert aws.list_updates("prod", addon="vpc-cni") == ["u-3"]


def test_update_nodegroup_version_keeps_the_template(aws: Boto3Aws, eks_stub: Stubber) -> None:
    eks_stub.add_response(
        "describe_nodegroup",
        {
            "nodegroup": {
                "nodegroupName": "blue",
                "clusterName": "prod",
                "launchTemplate": {"id": "lt-1", "name": "web", "version": "3"},
            }
        },
        {"clusterName": "prod", "nodegroupName": "blue"},
    )
    eks_stub.add_response(
        "update_nodegroup_version",
        eks_update("u-4", "VersionUpdate"),
        {
            "clusterName": "prod",
            "nodegroupName": "blue",
            "launchTemplate": {"id": "lt-1", "version": "4"},
            "force": False,
            "clientRequestToken": ANY,
        },
    )
    eks_stub.add_response(
        "update_nodegroup_version",
        eks_update("u-5", "VersionUpdate"),
        {
            "clusterName": "prod",
            "nodegroupName": "blue",
            "version": "1.30",
            "releaseVersion": "1.30.0-20260101",
            "force": True,
            "clientRequestToken": ANY,
        },
    )

    assert aws.update_nodegroup_version("prod", "blue", launch_template_version="4").id == "u-4"
    update = aws.update_nodegroup_version(
        "prod", "blue", version="1.30", release_version="1.30.0-20260101", force=True
    )
    assert update.id == "u-5"


def test_update_nodegroup_version_without_template(aws: Boto3Aws, eks_stub: Stubber) -> None:
    eks_stub.add_response(
        "describe_nodegroup", {"nodegroup": {"nodegroupName": "blue", "clusterName": "prod"}}
    )
    with pytest.raises(UserError, match="no launch template"):
        aws.update_nodegroup_version("prod", "blue", launch_template_version="4")


def test_list_nodegroups_follows_pages(aws: Boto3Aws, eks_stub: Stubber) -> None:
    eks_stub.add_response("list_nodegroups", {"nodegroups": ["a"], "nextToken": "p2"})
    eks_stub.add_response(
        "list_nodegroups", {"nodegroups": ["b"]}, {"clusterName": "prod", "nextToken": "p2"}
    )
    assert aws.list_nodegroups("prod") == ["a", "b"]


def test_describe_addon_versions_flattens(aws: Boto3Aws, eks_stub: Stubber) -> None:
    eks_stub.add_response(
        "describe_addon_versions",
        {
            "addons": [
                {
                    "addonName": "coredns",
                    "addonVersions": [
                        {
                            "addonVersion": "v1.11.3-eksbuild.1",
                            "compatibilities": [
                                {"clusterVersion": "1.30", "defaultVersion": True},
                                {"clusterVersion": "1.31", "defaultVersion": False},
                            ],
                        },
                        {"addonVersion": "v1.11.1-eksbuild.9", "compatibilities": []},
                    ],
                }
            ],
            "nextToken": "more",
        },
        {"kubernetesVersion": "1.30", "addonName": "coredns"},
    )
    eks_stub.add_response(
        "describe_addon_versions",
        {"addons": [{"addonName": "coredns", "addonVersions": [{"addonVersion": "v1.10"}]}]},
        {"kubernetesVersion": "1.30", "addonName": "coredns", "nextToken": "more"},
    )

    versions = aws.describe_addon_versions("1.30", "coredns")

    assert [v.version for v in versions] == [
        "v1.11.3-eksbuild.1",
        "v1.11.1-eksbuild.9",
        "v1.10",
    ]
    assert versions[0].addon_name == "coredns"
    assert versions[0].default_for("1.30")
    assert versions[0].compatible_with("1.31")
    assert not versions[0].default_for("1.31")
    assert not versions[1].compatible_with("1.30")


def test_fargate_profiles(aws: Boto3Aws, world: World) -> None:
    aws.clients.eks.create_fargate_profile(
        clusterName="prod",
        fargateProfileName="jobs",
        podExecutionRoleArn=world.role,
        subnets=[world.subnets[0]],
        selectors=[{"namespace": "batch", "labels": {"tier": "jobs"}}],
    )

    (profile,) = aws.list_fargate_profiles("prod")

    assert profile.name == "jobs"
    assert profile.status == "ACTIVE"
    assert profile.selectors == ({"namespace": "batch", "tier": "jobs"},)
    assert profile.subnets == (world.subnets[0],)


def test_create_nodegroup_request_leaves_defaults_to_eks(aws: Boto3Aws, eks_stub: Stubber) -> None:
    eks_stub.add_response(
        "create_nodegroup",
        {"nodegroup": {"nodegroupName": "green", "clusterName": "prod", "status": "CREATING"}},
        {
            "clusterName": "prod",
            "nodegroupName": "green",
            "nodeRole": "arn:aws:iam::1:role/node",
            "subnets": ["subnet-1"],
            "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 2},
            "capacityType": "ON_DEMAND",
            "launchTemplate": {"id": "lt-1", "version": "7"},
            "updateConfig": {"maxUnavailablePercentage": 25},
            "clientRequestToken": ANY,
        },
    )
    created = aws.create_nodegroup(
        NodegroupSpec(
            cluster="prod",
            name="green",
            node_role="arn:aws:iam::1:role/node",
            subnets=("subnet-1",),
            scaling=ScalingConfig(1, 3, 2),
            launch_template=LaunchTemplateRef(id="lt-1", name="web", version="7"),
            update_config=UpdateConfig(max_unavailable=None, max_unavailable_percentage=25),
        )
    )
    assert created.status == "CREATING"
    assert created.update_config == UpdateConfig(max_unavailable=1)
