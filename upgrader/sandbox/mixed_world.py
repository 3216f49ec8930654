"""The sandbox's worlds by name, and `mixed`: the demo cluster plus every other kind of capacity.

`EKSUP_SANDBOX_WORLD=mixed` makes `--sandbox` commands and `eksup sandbox up` build the demo
cluster with, beside its two managed node groups, a self-managed node group (an Auto Scaling
group on the EKS AMI of the cluster's version, whose instances join as nodes; see `asg_nodes`)
running a Deployment that selects its nodes, and a Fargate profile for namespace `serverless`
whose Deployment's pods run on Fargate nodes of their own (see `fargate_nodes`). The upgrade
of that world has a self-managed step and a Fargate restart step, so both run from the CLI.
The demo world itself stays as it is: its counts are what the demo and README show.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from upgrader.core.errors import UserError
from upgrader.core.kube import (
    LabelSelector,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.cluster.asg_nodes import LABEL_TAG
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.world import SANDBOX_ACCOUNT, Sandbox

WORLD_ENV = "EKSUP_SANDBOX_WORLD"
SELF_MANAGED_GROUP = "legacy"
FARGATE_PROFILE = "serverless"
FARGATE_NAMESPACE = "serverless"
_MIB = 2**20
_AMI = "/aws/service/eks/optimized-ami/{}/amazon-linux-2023/x86_64/standard/recommended/image_id"


def _workload(namespace: str, name: str, replicas: int, selector: dict[str, str]) -> Workload:
    labels = {"app": name}
    return Workload(
        kind=WorkloadKind.DEPLOYMENT,
        namespace=namespace,
        name=name,
        selector=LabelSelector(labels),
        template=PodTemplate(
            labels=labels,
            spec=PodSpec(requests=Resources(250, 256 * _MIB, 1), node_selector=selector),
        ),
        replicas=replicas,
        labels=labels,
    )


def build_mixed_world(world: Sandbox) -> None:
    """The demo world, plus a self-managed node group and a Fargate profile, settled."""
    build_demo_world(world)
    version = world.aws.describe_cluster(DEMO_CLUSTER).version
    subnets = world.aws.describe_cluster(DEMO_CLUSTER).subnet_ids
    image = world.aws.get_parameter(_AMI.format(version))
    template = world.boto3_client("ec2").create_launch_template(
        LaunchTemplateName=SELF_MANAGED_GROUP,
        LaunchTemplateData={"ImageId": image, "InstanceType": "m5.large"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    world.boto3_client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=SELF_MANAGED_GROUP,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(subnets),
        Tags=[
            {
                "Key": f"kubernetes.io/cluster/{DEMO_CLUSTER}",
                "Value": "owned",
                "PropagateAtLaunch": True,
            },
            {"Key": f"{LABEL_TAG}workload", "Value": "legacy", "PropagateAtLaunch": False},
        ],
    )
    world.boto3_client("eks").create_fargate_profile(
        fargateProfileName=FARGATE_PROFILE,
        clusterName=DEMO_CLUSTER,
        podExecutionRoleArn=f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/eks-fargate-pods",
        subnets=subnets,
        selectors=[{"namespace": FARGATE_NAMESPACE}],
    )
    world.settle(120)  # the instances boot and join
    kube = world.kube(DEMO_CLUSTER)
    reports = _workload("reporting", "legacy-reports", 3, {"workload": "legacy"})
    kube.add_workload(reports, startup_seconds=20)
    kube.add_pdb(
        PodDisruptionBudget(
            namespace="reporting",
            name="legacy-reports-pdb",
            selector=reports.selector,
            max_unavailable=1,
        )
    )
    kube.add_workload(_workload(FARGATE_NAMESPACE, "notifier", 2, {}), startup_seconds=10)
    world.settle(300)


WORLDS: dict[str, Callable[[Sandbox], None]] = {
    "demo": build_demo_world,
    "mixed": build_mixed_world,
}


def build_chosen_world(world: Sandbox) -> None:
    """The world `EKSUP_SANDBOX_WORLD` names (default `demo`), built in `world`."""
    name = os.environ.get(WORLD_ENV, "") or "demo"
    build = WORLDS.get(name)
    if build is None:
        raise UserError(
            f"{WORLD_ENV}={name}: the sandbox has no such world; use one of: "
            + ", ".join(sorted(WORLDS))
        )
    build(world)
