"""Single steps in detail: add-on paths, launch templates with a custom AMI, the autoscaler."""

from __future__ import annotations

import pytest

from tests.execute.worlds import (
    CLUSTER,
    SUBNETS,
    Crash,
    CrashingReporter,
    Runner,
    addons,
    blue_green,
    control_plane,
    hand_plan,
    step,
)
from upgrader.core.kube import NODEGROUP_LABEL, WorkloadKind
from upgrader.execute.engine import RunStatus
from upgrader.plan.document import AddonUpdate, StepKind
from upgrader.sandbox.world import SANDBOX_ACCOUNT, Sandbox


def test_an_addon_path_goes_one_version_at_a_time(world: Sandbox, runner: Runner) -> None:
    path = ["1.16", "1.18", "v1.19.2-eksbuild.5", "v1.19.2-eksbuild.5"]
    moves = addons("1.29").model_copy(
        update={"addon_updates": [AddonUpdate(name="vpc-cni", current="", target="", path=path)]}
    )
    plan = hand_plan([control_plane("1.29", "1.28"), moves], target="1.29")

    result = runner.run(plan)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    updates = [
        world.aws.describe_update(CLUSTER, u, addon="vpc-cni").params["AddonVersion"]
        for u in world.aws.list_updates(CLUSTER, addon="vpc-cni")
    ]
    assert updates == ["v1.16.0-eksbuild.1", "v1.18.3-eksbuild.2", "v1.19.2-eksbuild.5"]
    assert world.aws.describe_addon(CLUSTER, "vpc-cni").version == "v1.19.2-eksbuild.5"
    # coredns and kube-proxy were not in this step's list: untouched.
    assert world.aws.list_updates(CLUSTER, addon="coredns") == []


def test_an_addon_version_eks_does_not_list_fails_the_step(world: Sandbox, runner: Runner) -> None:
    moves = addons("1.29").model_copy(
        update={
            "addon_updates": [AddonUpdate(name="vpc-cni", current="", target="", path=["1.17"])]
        }
    )
    plan = hand_plan([control_plane("1.29", "1.28"), moves], target="1.29")

    result = runner.run(plan)

    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert "EKS lists no version 1.17 for Kubernetes 1.29" in result.error


def test_add_ons_wait_for_the_control_plane(world: Sandbox, runner: Runner) -> None:
    result = runner.run(hand_plan([addons("1.29")], target="1.29"))
    assert result.status is RunStatus.REFUSED
    assert result.error is not None
    assert "only after the control plane" in result.error


def _custom_ami_group(world: Sandbox) -> str:
    ec2 = world.boto3_client("ec2")
    template = ec2.create_launch_template(
        LaunchTemplateName="custom-nodes", LaunchTemplateData={"ImageId": "ami-0old0000000000000"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    world.boto3_client("eks").create_nodegroup(
        clusterName=CLUSTER,
        nodegroupName="custom",
        nodeRole=f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/eks-node",
        subnets=SUBNETS,
        scalingConfig={"minSize": 1, "maxSize": 2, "desiredSize": 1},
        launchTemplate={"id": template, "version": "1"},
    )
    world.settle(300)
    return str(template)


def test_a_custom_ami_gets_a_new_template_version_once(world: Sandbox, runner: Runner) -> None:
    template = _custom_ami_group(world)
    plan = hand_plan(
        [
            control_plane("1.29", "1.28"),
            blue_green("general", "general-1-29", "1.29"),
            blue_green("batch", "batch-1-29", "1.29"),
            blue_green("custom", "custom-1-29", "1.29", ami_id="ami-0new0000000000000"),
        ],
        target="1.29",
    )
    crash = CrashingReporter(
        runner, ("action", "eks:CreateNodegroup cluster=prod nodegroup=custom")
    )
    with pytest.raises(Crash):
        runner.run(plan, reporter=crash)

    result = runner.run(plan, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    green = world.aws.describe_nodegroup(CLUSTER, "custom-1-29")
    assert green.launch_template is not None
    assert (green.launch_template.id, green.launch_template.version) == (template, "2")
    versions = world.boto3_client("ec2").describe_launch_template_versions(
        LaunchTemplateId=template
    )["LaunchTemplateVersions"]
    images = sorted((v["VersionNumber"], v["LaunchTemplateData"]["ImageId"]) for v in versions)
    assert images == [(1, "ami-0old0000000000000"), (2, "ami-0new0000000000000")]
    nodes = world.kube(CLUSTER).list_nodes(label_selector=f"{NODEGROUP_LABEL}=custom-1-29")
    assert len(nodes) == 1


def test_the_autoscaler_comes_back_to_its_recorded_count_after_a_crash(
    world: Sandbox, runner: Runner
) -> None:
    kube = world.kube(CLUSTER)
    kube.scale_workload(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler", 2)
    world.settle(60)
    # The plan was made when it ran 3 replicas; the journal knows better.
    planned = {"replicas": {"kube-system/cluster-autoscaler": "3"}}
    plan = hand_plan(
        [
            step(StepKind.PAUSE_AUTOSCALER, "pause-autoscaler", **planned),
            control_plane("1.29", "1.28"),
            step(StepKind.RESUME_AUTOSCALER, "resume-autoscaler", **planned),
        ],
        target="1.29",
    )
    with pytest.raises(Crash):
        runner.run(plan, reporter=CrashingReporter(runner, ("finished", "pause-autoscaler")))
    paused = kube.get_workload(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler")
    assert paused.replicas == 0

    result = runner.run(plan, resume=True)

    assert result.status is RunStatus.SUCCEEDED, result.summary()
    restored = kube.get_workload(WorkloadKind.DEPLOYMENT, "kube-system", "cluster-autoscaler")
    assert (restored.replicas, restored.ready_replicas) == (2, 2)
