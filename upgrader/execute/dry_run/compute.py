"""`Compute` in a dry run: EC2, Auto Scaling and SSM reads pass through, changes recorded."""

from __future__ import annotations

from collections.abc import Sequence

from upgrader.core.aws import AutoScalingGroup, LaunchTemplateVersion, Subnet
from upgrader.core.errors import EksupError, NotFoundError, TemporaryError
from upgrader.core.ports import Compute
from upgrader.execute.dry_run.record import Recorder, ServerRefusedError


class DryRunCompute:
    """`Compute`: reads through, changes recorded."""

    def __init__(self, inner: Compute, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def describe_subnets(self, subnet_ids: Sequence[str]) -> list[Subnet]:
        return self.inner.describe_subnets(subnet_ids)

    def describe_launch_template_version(
        self, template_id: str, version: str
    ) -> LaunchTemplateVersion:
        return self.inner.describe_launch_template_version(template_id, version)

    def create_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> LaunchTemplateVersion:
        self.recorder.record(
            "ec2",
            "CreateLaunchTemplateVersion",
            template=template_id,
            source=source_version,
            image=image_id,
        )
        try:
            self.inner.check_launch_template_version(template_id, source_version, image_id)
        except (NotFoundError, TemporaryError):
            pass  # a template only the dry run knows, or a busy API: no verdict
        except EksupError as error:
            raise ServerRefusedError(
                f"EC2 would refuse CreateLaunchTemplateVersion (DryRun): {error}"
            ) from None
        return LaunchTemplateVersion(template_id, "", "(dry run)", image_id)

    def check_launch_template_version(
        self, template_id: str, source_version: str, image_id: str
    ) -> None:
        self.inner.check_launch_template_version(template_id, source_version, image_id)

    def list_cluster_auto_scaling_groups(self, cluster: str) -> list[AutoScalingGroup]:
        return self.inner.list_cluster_auto_scaling_groups(cluster)

    def set_launch_template(self, group: str, template_id: str, version: str) -> None:
        self.recorder.record(
            "autoscaling",
            "UpdateAutoScalingGroup",
            group=group,
            template=template_id,
            version=version,
        )

    def set_desired_capacity(self, group: str, desired: int) -> None:
        self.recorder.record("autoscaling", "SetDesiredCapacity", group=group, desired=desired)

    def suspend_processes(self, group: str, processes: Sequence[str]) -> None:
        self.recorder.record(
            "autoscaling", "SuspendProcesses", group=group, processes=",".join(processes)
        )

    def resume_processes(self, group: str, processes: Sequence[str]) -> None:
        self.recorder.record(
            "autoscaling", "ResumeProcesses", group=group, processes=",".join(processes)
        )

    def terminate_instance(self, instance_id: str, decrement_desired: bool) -> None:
        self.recorder.record(
            "autoscaling",
            "TerminateInstanceInAutoScalingGroup",
            instance=instance_id,
            decrement=decrement_desired,
        )

    def get_parameter(self, name: str) -> str:
        return self.inner.get_parameter(name)
