"""The public EKS AMI parameters, seeded into moto and read back as eksup reads them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from upgrader.sandbox.aws_seed import public_parameters, seed_public_parameters
from upgrader.sandbox.eks import catalog as moto_eks_catalog

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

REGION = "eu-west-1"
AL = "/aws/service/eks/optimized-ami"


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture
def ssm(session: boto3.Session) -> Iterator[SSMClient]:
    with mock_aws():
        seed_public_parameters(REGION, register_images=False)
        yield session.client("ssm")


def value(ssm: SSMClient, name: str) -> str:
    return ssm.get_parameter(Name=name)["Parameter"]["Value"]


@pytest.mark.parametrize("version", moto_eks_catalog.supported_versions())
def test_amazon_linux_2023_and_bottlerocket_for_every_version(ssm: SSMClient, version: str) -> None:
    for arch in ("x86_64", "arm64"):
        path = f"{AL}/{version}/amazon-linux-2023/{arch}/standard/recommended"
        assert value(ssm, f"{path}/image_id").startswith("ami-0")
        release = value(ssm, f"{path}/release_version")
        assert release == moto_eks_catalog.release_version(version, "AL2023_x86_64_STANDARD")
        bottlerocket = f"/aws/service/bottlerocket/aws-k8s-{version}/{arch}/latest/image_id"
        assert value(ssm, bottlerocket).startswith("ami-0")


def test_amazon_linux_2_up_to_1_32_and_not_after(ssm: SSMClient) -> None:
    for path in ("amazon-linux-2", "amazon-linux-2-arm64", "amazon-linux-2-gpu"):
        assert value(ssm, f"{AL}/1.32/{path}/recommended/image_id").startswith("ami-0")
        assert value(ssm, f"{AL}/1.32/{path}/recommended/release_version").startswith("1.32.")
        with pytest.raises(ssm.exceptions.ParameterNotFound):
            ssm.get_parameter(Name=f"{AL}/1.33/{path}/recommended/image_id")


def test_a_new_node_groups_release_matches_the_parameter(ssm: SSMClient) -> None:
    name = f"{AL}/1.29/amazon-linux-2/recommended/release_version"
    assert value(ssm, name) == moto_eks_catalog.release_version("1.29", "AL2_x86_64")


def test_ids_are_stable_and_regional(ssm: SSMClient) -> None:
    name = f"{AL}/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id"
    assert value(ssm, name) == public_parameters(REGION)[name]
    assert public_parameters("us-west-2")[name] != public_parameters(REGION)[name]


def test_seeding_twice_keeps_one_version(ssm: SSMClient) -> None:
    seed_public_parameters(REGION, register_images=False)
    name = f"{AL}/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id"
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1


def test_the_images_exist_in_ec2_with_their_architecture(session: boto3.Session) -> None:
    with mock_aws():
        parameters = seed_public_parameters(REGION)
        ec2 = session.client("ec2")
        image_id = parameters["/aws/service/bottlerocket/aws-k8s-1.31/arm64/latest/image_id"]

        [image] = ec2.describe_images(ImageIds=[image_id])["Images"]
        assert (image["Architecture"], image["OwnerId"]) == ("arm64", "602401143452")
        launched = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"]
        assert launched[0]["Architecture"] == "arm64"
