"""The `Compute` port on EC2, Auto Scaling and SSM through boto3.

Self-managed node groups are Auto Scaling groups with launch templates; their upgrade path is a
new launch-template version with a new AMI (from the SSM parameter EKS publishes), then instance
replacement. Auto Scaling does not report an instance's image, so group listings join EC2's
describe_instances to fill `AsgInstance.image_id`: comparing images is the only reliable test of
"already replaced" (an instance's reported template version is the template's default).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from upgrader.adapters.aws.clients import AwsClients
from upgrader.core.aws import (
    AsgInstance,
    AutoScalingGroup,
    LaunchTemplateRef,
    LaunchTemplateVersion,
    Subnet,
)
from upgrader.core.errors import AwsApiError, NotFoundError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling.type_defs import (
        AutoScalingGroupTypeDef,
        LaunchTemplateSpecificationTypeDef,
    )
    from mypy_boto3_ec2.type_defs import LaunchTemplateVersionTypeDef, SubnetTypeDef

CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
# describe_instances accepts at most 1000 ids per call; stay well under it.
_INSTANCE_BATCH = 200


def subnet_from_ec2(subnet: SubnetTypeDef) -> Subnet:
    return Subnet(
        id=subnet.get("SubnetId", ""),
        availability_zone=subnet.get("AvailabilityZone", ""),
        cidr=subnet.get("CidrBlock", ""),
        available_ips=subnet.get("AvailableIpAddressCount", 0),
    )


def launch_template_version_from_ec2(
    version: LaunchTemplateVersionTypeDef,
) -> LaunchTemplateVersion:
    data = version.get("LaunchTemplateData", {})
    instance_type = data.get("InstanceType")
    return LaunchTemplateVersion(
        template_id=version.get("LaunchTemplateId", ""),
        template_name=version.get("LaunchTemplateName", ""),
        version=str(version.get("VersionNumber", "")),
        image_id=data.get("ImageId", ""),
        instance_type=str(instance_type) if instance_type is not None else None,
    )


def _template_ref(spec: LaunchTemplateSpecificationTypeDef | None) -> LaunchTemplateRef | None:
    if not spec:
        return None
    return LaunchTemplateRef(
        id=spec.get("LaunchTemplateId", ""),
        name=spec.get("LaunchTemplateName", ""),
        version=spec.get("Version", ""),
    )


def auto_scaling_group_from_aws(
    group: AutoScalingGroupTypeDef, image_ids: dict[str, str]
) -> AutoScalingGroup:
    """`image_ids` maps instance id to AMI id (from EC2); unknown instances get ""."""
    template = group.get("LaunchTemplate") or (
        group.get("MixedInstancesPolicy", {})
        .get("LaunchTemplate", {})
        .get("LaunchTemplateSpecification")
    )
    return AutoScalingGroup(
        name=group["AutoScalingGroupName"],
        min_size=group["MinSize"],
        max_size=group["MaxSize"],
        desired_capacity=group["DesiredCapacity"],
        launch_template=_template_ref(template),
        instances=tuple(
            AsgInstance(
                id=instance["InstanceId"],
                image_id=image_ids.get(instance["InstanceId"], ""),
                lifecycle_state=instance["LifecycleState"],
                health=instance["HealthStatus"],
                availability_zone=instance.get("AvailabilityZone", ""),
            )
            for instance in group.get("Instances", ())
        ),
        tags={tag["Key"]: tag.get("Value", "") for tag in group.get("Tags", ()) if "Key" in tag},
        suspended_processes=tuple(
            p["ProcessName"] for p in group.get("SuspendedProcesses", ()) if "ProcessName" in p
        ),
        subnets=tuple(s for s in group.get("VPCZoneIdentifier", "").split(",") if s),
    )


class Boto3Compute:
    """`Compute` on EC2, Auto Scaling and SSM. Build it from an `AwsClients`."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def describe_subnets(self, subnet_ids: Sequence[str]) -> list[Subnet]:
        if not subnet_ids:
            return []  # an empty filter would describe every subnet in the account
        ec2 = self.clients.ec2
        ids = list(subnet_ids)

        def request() -> list[Subnet]:
            pages = ec2.get_paginator("describe_subnets").paginate(SubnetIds=ids)
            return [subnet_from_ec2(s) for page in pages for s in page.get("Subnets", ())]

        return self.clients.call_ec2(request)

    def describe_launch_template_version(
        self, template_id: str, version: str
    ) -> LaunchTemplateVersion:
        ec2 = self.clients.ec2
        response = self.clients.call_ec2(
            lambda: ec2.describe_launch_template_versions(
                LaunchTemplateId=template_id, Versions=[version]
            )
        )
        versions = response.get("LaunchTemplateVersions", [])
        if not versions:
            raise NotFoundError(f"launch template {template_id} has no version {version}")
        return launch_template_version_from_ec2(versions[0])

    def create_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> LaunchTemplateVersion:
        ec2 = self.clients.ec2
        # ClientToken makes a retried create return the first version instead of a second one.
        token = str(uuid.uuid4())
        response = self.clients.call_ec2(
            lambda: ec2.create_launch_template_version(
                LaunchTemplateId=template_id,
                SourceVersion=source_version,
                LaunchTemplateData={"ImageId": image_id},
                VersionDescription=f"eksup: {image_id} from version {source_version}",
                ClientToken=token,
            )
        )
        return launch_template_version_from_ec2(response["LaunchTemplateVersion"])

    def check_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> None:
        ec2 = self.clients.ec2
        try:
            self.clients.call_ec2(
                lambda: ec2.create_launch_template_version(
                    LaunchTemplateId=template_id,
                    SourceVersion=source_version,
                    LaunchTemplateData={"ImageId": image_id},
                    DryRun=True,
                )
            )
        except AwsApiError as error:
            if error.code == "DryRunOperation":  # EC2's way of saying "it would succeed"
                return
            raise

    def list_cluster_auto_scaling_groups(self, cluster: str) -> list[AutoScalingGroup]:
        autoscaling = self.clients.autoscaling
        tag = f"{CLUSTER_TAG_PREFIX}{cluster}"

        def request() -> list[AutoScalingGroupTypeDef]:
            pages = autoscaling.get_paginator("describe_auto_scaling_groups").paginate(
                Filters=[{"Name": "tag-key", "Values": [tag]}]
            )
            return [group for page in pages for group in page.get("AutoScalingGroups", ())]

        groups = self.clients.call_autoscaling(request)
        image_ids = self._image_ids(
            [i["InstanceId"] for group in groups for i in group.get("Instances", ())]
        )
        return [auto_scaling_group_from_aws(group, image_ids) for group in groups]

    @cached_property
    def _instance_images(self) -> dict[str, str]:
        # An instance's AMI never changes, and a roll polls its group every few seconds: each
        # instance is described once, not once a poll. (Lazy: Boto3Aws runs one base __init__.)
        return {}

    def _image_ids(self, instance_ids: list[str]) -> dict[str, str]:
        known = self._instance_images
        unknown = [i for i in instance_ids if i not in known]
        for start in range(0, len(unknown), _INSTANCE_BATCH):
            known.update(self._image_ids_batch(unknown[start : start + _INSTANCE_BATCH]))
        return {i: known[i] for i in instance_ids if i in known}

    def _image_ids_batch(self, instance_ids: list[str]) -> dict[str, str]:
        ec2 = self.clients.ec2

        def request() -> dict[str, str]:
            pages = ec2.get_paginator("describe_instances").paginate(InstanceIds=instance_ids)
            return {
                instance["InstanceId"]: instance.get("ImageId", "")
                for page in pages
                for reservation in page.get("Reservations", ())
                for instance in reservation.get("Instances", ())
                if "InstanceId" in instance
            }

        return self.clients.call_ec2(request)

    def set_launch_template(self, group: str, template_id: str, version: str) -> None:
        autoscaling = self.clients.autoscaling
        self.clients.call_autoscaling(
            lambda: autoscaling.update_auto_scaling_group(
                AutoScalingGroupName=group,
                LaunchTemplate={"LaunchTemplateId": template_id, "Version": version},
            )
        )

    def set_desired_capacity(self, group: str, desired: int) -> None:
        autoscaling = self.clients.autoscaling
        self.clients.call_autoscaling(
            lambda: autoscaling.set_desired_capacity(
                AutoScalingGroupName=group, DesiredCapacity=desired, HonorCooldown=False
            )
        )

    def suspend_processes(self, group: str, processes: Sequence[str]) -> None:
        if not processes:
            return  # Auto Scaling reads an empty list as "every process"
        autoscaling = self.clients.autoscaling
        self.clients.call_autoscaling(
            lambda: autoscaling.suspend_processes(
                AutoScalingGroupName=group, ScalingProcesses=list(processes)
            )
        )

    def resume_processes(self, group: str, processes: Sequence[str]) -> None:
        if not processes:
            return  # Auto Scaling reads an empty list as "every process"
        autoscaling = self.clients.autoscaling
        self.clients.call_autoscaling(
            lambda: autoscaling.resume_processes(
                AutoScalingGroupName=group, ScalingProcesses=list(processes)
            )
        )

    def terminate_instance(self, instance_id: str, decrement_desired: bool) -> None:
        autoscaling = self.clients.autoscaling
        self.clients.call_autoscaling(
            lambda: autoscaling.terminate_instance_in_auto_scaling_group(
                InstanceId=instance_id, ShouldDecrementDesiredCapacity=decrement_desired
            )
        )

    def get_parameter(self, name: str) -> str:
        ssm = self.clients.ssm
        response = self.clients.call_ssm(lambda: ssm.get_parameter(Name=name))
        return response["Parameter"].get("Value", "")
