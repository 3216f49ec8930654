"""`Boto3Compute` against moto: subnets, launch templates, Auto Scaling groups, SSM."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.core.aws import LaunchTemplateRef
from upgrader.core.errors import NotFoundError

# Two of the images moto ships with (listing them by owner costs over a second).
MOTO_AMIS = ("ami-03cf127a", "ami-12c6146b")


@dataclass(frozen=True)
class World:
    subnets: tuple[str, str]
    template_id: str
    images: tuple[str, str]


@pytest.fixture
def world(aws: Boto3Aws) -> World:
    ec2 = aws.clients.ec2
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = tuple(
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/28", "us-east-1b"))
    )
    images = MOTO_AMIS
    template_id = ec2.create_launch_template(
        LaunchTemplateName="workers",
        LaunchTemplateData={"ImageId": images[0], "InstanceType": "m5.large"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    return World((subnets[0], subnets[1]), template_id, images)


def make_group(aws: Boto3Aws, world: World, name: str, cluster: str | None, size: int) -> None:
    tags = [{"Key": "team", "Value": "web", "PropagateAtLaunch": False}]
    if cluster is not None:
        tags.append(
            {"Key": f"kubernetes.io/cluster/{cluster}", "Value": "owned", "PropagateAtLaunch": True}
        )
    aws.clients.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=0,
        MaxSize=5,
        DesiredCapacity=size,
        LaunchTemplate={"LaunchTemplateId": world.template_id, "Version": "$Latest"},
        VPCZoneIdentifier=",".join(world.subnets),
        Tags=tags,
    )


def test_describe_subnets_reports_free_addresses(aws: Boto3Aws, world: World) -> None:
    subnets = aws.describe_subnets(list(world.subnets))

    by_id = {s.id: s for s in subnets}
    assert set(by_id) == set(world.subnets)
    first, second = by_id[world.subnets[0]], by_id[world.subnets[1]]
    assert (first.availability_zone, first.cidr) == ("us-east-1a", "10.0.1.0/24")
    # AWS keeps 5 addresses of every subnet for itself.
    assert first.available_ips == 251
    assert second.available_ips == 11


def test_describe_no_subnets_asks_nothing(aws: Boto3Aws, world: World) -> None:
    assert aws.describe_subnets([]) == []


def test_launch_template_versions(aws: Boto3Aws, world: World) -> None:
    first = aws.describe_launch_template_version(world.template_id, "1")
    assert first.template_id == world.template_id
    assert first.template_name == "workers"
    assert first.version == "1"
    assert first.image_id == world.images[0]
    assert first.instance_type == "m5.large"

    created = aws.create_launch_template_version(world.template_id, "1", world.images[1])

    assert created.version == "2"
    assert created.image_id == world.images[1]
    # (AWS copies the rest of the source version; moto 5.2 does not, so that goes unchecked.)
    assert aws.describe_launch_template_version(world.template_id, "$Latest").version == "2"


def test_missing_launch_template(aws: Boto3Aws, world: World) -> None:
    with pytest.raises(NotFoundError):
        aws.describe_launch_template_version("lt-0000000000000000", "1")


def test_auto_scaling_groups_of_one_cluster(aws: Boto3Aws, world: World) -> None:
    make_group(aws, world, "prod-workers", "prod", 2)
    make_group(aws, world, "staging-workers", "staging", 1)
    make_group(aws, world, "untagged", None, 1)

    (group,) = aws.list_cluster_auto_scaling_groups("prod")

    assert group.name == "prod-workers"
    assert (group.min_size, group.max_size, group.desired_capacity) == (0, 5, 2)
    assert group.launch_template == LaunchTemplateRef(
        id=world.template_id, name="workers", version="$Latest"
    )
    assert group.tags["kubernetes.io/cluster/prod"] == "owned"
    assert group.tags["team"] == "web"
    assert group.subnets == world.subnets
    assert len(group.instances) == 2
    for instance in group.instances:
        assert instance.id.startswith("i-")
        assert instance.image_id == world.images[0]  # joined in from EC2
        assert instance.lifecycle_state == "InService"
        assert instance.health == "Healthy"
        assert instance.availability_zone in ("us-east-1a", "us-east-1b")
    assert aws.list_cluster_auto_scaling_groups("other") == []


def test_scaling_and_processes(aws: Boto3Aws, world: World) -> None:
    make_group(aws, world, "prod-workers", "prod", 1)

    aws.suspend_processes("prod-workers", ["AZRebalance", "ReplaceUnhealthy"])
    aws.set_desired_capacity("prod-workers", 3)
    (group,) = aws.list_cluster_auto_scaling_groups("prod")
    assert set(group.suspended_processes) == {"AZRebalance", "ReplaceUnhealthy"}
    assert group.desired_capacity == 3
    assert len(group.instances) == 3

    aws.resume_processes("prod-workers", ["AZRebalance"])
    aws.suspend_processes("prod-workers", [])  # nothing, not "every process"
    aws.terminate_instance(group.instances[0].id, decrement_desired=True)
    (group,) = aws.list_cluster_auto_scaling_groups("prod")
    assert group.suspended_processes == ("ReplaceUnhealthy",)
    assert group.desired_capacity == 2


def test_get_parameter(aws: Boto3Aws) -> None:
    aws.clients.ssm.put_parameter(
        Name="/eksup/test/ami", Value="ami-0123456789abcdef0", Type="String"
    )

    assert aws.get_parameter("/eksup/test/ami") == "ami-0123456789abcdef0"
    with pytest.raises(NotFoundError, match="ssm:GetParameter"):
        aws.get_parameter("/eksup/test/missing")
