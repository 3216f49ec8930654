"""Public AWS state the sandbox needs and moto lacks: the EKS-optimized AMI parameters in SSM.

eksup finds the AMI of a node group's new version as AWS documents it, by reading the public SSM
parameters under /aws/service/ (Amazon Linux: `.../recommended/image_id` and `release_version`;
Bottlerocket: `.../latest/image_id`). moto has none of them, and its put_parameter refuses the
reserved /aws/ prefix as AWS does, so they are written into moto's SSM backend directly. The
releases are the extension's (`moto_eks_catalog`), so the SSM parameters and a new node group's
`releaseVersion` agree; the AMI ids are derived from region and path, so they are stable. They
are also registered as images in moto's EC2 backend: instances launched from them then report
the right architecture, and `describe_images` finds them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from moto.core.models import DEFAULT_ACCOUNT_ID

from upgrader.sandbox.eks import catalog

AMAZON_LINUX_IMAGE = "/aws/service/eks/optimized-ami/{version}/{path}/recommended/image_id"
AMAZON_LINUX_RELEASE = "/aws/service/eks/optimized-ami/{version}/{path}/recommended/release_version"
BOTTLEROCKET_IMAGE = "/aws/service/bottlerocket/aws-k8s-{version}/{arch}/latest/image_id"
# Beside it, Bottlerocket's OS version, which is a managed node group's releaseVersion.
BOTTLEROCKET_VERSION = "/aws/service/bottlerocket/aws-k8s-{version}/{arch}/latest/image_version"

# amiType -> (path segment in the parameter name, AMI family, EC2 architecture)
AMAZON_LINUX_PATHS: dict[str, tuple[str, catalog.AmiFamily, str]] = {
    "AL2023_x86_64_STANDARD": ("amazon-linux-2023/x86_64/standard", "al2023", "x86_64"),
    "AL2023_ARM_64_STANDARD": ("amazon-linux-2023/arm64/standard", "al2023", "arm64"),
    "AL2_x86_64": ("amazon-linux-2", "al2", "x86_64"),
    "AL2_ARM_64": ("amazon-linux-2-arm64", "al2", "arm64"),
    "AL2_x86_64_GPU": ("amazon-linux-2-gpu", "al2", "x86_64"),
}
BOTTLEROCKET_ARCHES = ("x86_64", "arm64")
# The account that owns the EKS-optimized AMIs in most commercial regions.
EKS_AMI_OWNER = "602401143452"


@dataclass(frozen=True)
class PublicImage:
    """One public EKS AMI: the parameter that names it and what EC2 says about it."""

    parameter: str
    image_id: str
    name: str
    architecture: str
    release_version: str
    release_parameter: str | None  # the release version, published beside the image id


def image_id(region: str, parameter: str) -> str:
    """A stable, AMI-shaped id: the same region and parameter always name the same image."""
    digest = hashlib.sha256(f"{region}:{parameter}".encode()).hexdigest()
    return f"ami-0{digest[:16]}"


def public_images(region: str) -> list[PublicImage]:
    """Every public EKS AMI the sandbox publishes: for each supported Kubernetes version, the
    Amazon Linux 2023 and (up to 1.32) Amazon Linux 2 variants, and Bottlerocket."""
    images = []
    for version, releases in catalog.ami_releases().items():
        for path, family, arch in AMAZON_LINUX_PATHS.values():
            release = releases.for_family(family)
            if release is None:
                continue  # no AL2 from 1.33
            parameter = AMAZON_LINUX_IMAGE.format(version=version, path=path)
            images.append(
                PublicImage(
                    parameter=parameter,
                    image_id=image_id(region, parameter),
                    name=f"amazon-eks-node-{path.replace('/', '-')}-{version}-v{release[-8:]}",
                    architecture=arch,
                    release_version=release,
                    release_parameter=AMAZON_LINUX_RELEASE.format(version=version, path=path),
                )
            )
        for arch in BOTTLEROCKET_ARCHES:
            parameter = BOTTLEROCKET_IMAGE.format(version=version, arch=arch)
            images.append(
                PublicImage(
                    parameter=parameter,
                    image_id=image_id(region, parameter),
                    name=f"bottlerocket-aws-k8s-{version}-{arch}-v{releases.bottlerocket}",
                    architecture=arch,
                    release_version=releases.bottlerocket,
                    release_parameter=BOTTLEROCKET_VERSION.format(version=version, arch=arch),
                )
            )
    return images


def public_parameters(region: str) -> dict[str, str]:
    """Parameter name -> value, as `ssm get-parameter` would answer."""
    values = {}
    for image in public_images(region):
        values[image.parameter] = image.image_id
        if image.release_parameter:
            values[image.release_parameter] = image.release_version
    return values


def seed_public_parameters(
    region: str, account_id: str = DEFAULT_ACCOUNT_ID, *, register_images: bool = True
) -> dict[str, str]:
    """Write the public EKS AMI parameters into moto's SSM (and, unless told not to, the images
    into moto's EC2) for one account and region. Idempotent; returns the parameters written.
    moto's reset drops them with everything else: seed again after a reset."""
    from moto.ssm.models import Parameter, ssm_backends

    ssm = ssm_backends[account_id][region]
    images = public_images(region)
    parameters = public_parameters(region)
    modified = _release_dates(images)
    for name, value in parameters.items():
        # Replace, not append: a parameter's history is a list of versions in moto.
        ssm._parameters[name] = [
            Parameter(  # type: ignore[abstract]  # moto's CloudFormation stubs, unused here
                account_id=account_id,
                name=name,
                value=value,
                parameter_type="String",
                description=None,
                allowed_pattern=None,
                keyid=None,
                last_modified_date=modified.get(name, datetime(2025, 1, 1, tzinfo=UTC)),
                version=1,
                data_type="text",
                tier="Standard",
            )
        ]
    if register_images:
        _register_images(images, region, account_id)
    return parameters


def _release_dates(images: list[PublicImage]) -> dict[str, datetime]:
    # Amazon Linux releases end in their build date (1.30.14-20251209); date their parameters so.
    dates = {}
    for image in images:
        if image.release_parameter and image.release_version[-8:].isdigit():
            built = datetime.strptime(image.release_version[-8:], "%Y%m%d").replace(tzinfo=UTC)
            dates[image.parameter] = dates[image.release_parameter] = built
    return dates


def _register_images(images: list[PublicImage], region: str, account_id: str) -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami

    ec2 = ec2_backends[account_id][region]
    for image in images:
        if image.image_id in ec2.amis:
            continue
        ec2.amis[image.image_id] = Ami(
            ec2,
            image.image_id,
            name=image.name,
            description=f"EKS-optimized image, release {image.release_version}",
            owner_id=EKS_AMI_OWNER,
            owner_alias="amazon",
            public=True,
            virtualization_type="hvm",
            architecture=image.architecture,
            root_device_type="ebs",
            root_device_name="/dev/xvda",
            region_name=f"{region}a",  # moto creates the image's snapshot volume in this zone
        )
