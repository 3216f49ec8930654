"""Discovery on the sandbox: moto with eksup's EKS extension for AWS, the FakeCluster for
Kubernetes, both behind the real ports (boto3 adapter included)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from tests.plan.fakes import Recording
from upgrader.core.errors import PermissionDeniedError, UserError
from upgrader.core.kube import Node
from upgrader.core.ports import Cluster, Compute, ControlPlane
from upgrader.plan.checks import CheckContext
from upgrader.plan.discovery import discover
from upgrader.plan.document import StepKind
from upgrader.plan.planner import plan_cluster
from upgrader.plan.snapshot import NodeOwner, NodeOwnerKind, Read, UsageSource
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.demo_world import DEMO_CLUSTER, build_demo_world
from upgrader.sandbox.world import Sandbox
from upgrader.versions import default_catalog

SELF_MANAGED = "legacy-workers"


@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        build_demo_world(sandbox)
        _add_self_managed_group(sandbox)
        yield sandbox


def _add_self_managed_group(world: Sandbox) -> None:
    """An Auto Scaling group tagged for the cluster, its template on the 1.29 AL2023 AMI and its
    nodes still on 1.28; and the ASG of a managed node group, which is not self-managed."""
    subnets = world.aws.describe_cluster(DEMO_CLUSTER).subnet_ids
    image = world.aws.get_parameter(
        "/aws/service/eks/optimized-ami/1.29/amazon-linux-2023/x86_64/standard/recommended/image_id"
    )
    ec2, autoscaling = world.boto3_client("ec2"), world.boto3_client("autoscaling")
    template = ec2.create_launch_template(
        LaunchTemplateName="legacy",
        LaunchTemplateData={"ImageId": image, "InstanceType": "m5.large"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    tag = {"Key": f"kubernetes.io/cluster/{DEMO_CLUSTER}", "Value": "owned"}
    for name, extra in ((SELF_MANAGED, []), ("eks-general-copy", ["eks:nodegroup-name"])):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
            MinSize=2,
            MaxSize=4,
            DesiredCapacity=2,
            VPCZoneIdentifier=",".join(subnets),
            Tags=[
                {**tag, "PropagateAtLaunch": True},
                *({"Key": k, "Value": "general", "PropagateAtLaunch": True} for k in extra),
            ],
        )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[SELF_MANAGED])
    kube = world.kube(DEMO_CLUSTER)
    for index, instance in enumerate(group["AutoScalingGroups"][0]["Instances"]):
        kube.add_node(
            Node(
                name=f"legacy-{index}",
                kubelet_version="v1.28.9-eks-abc",
                provider_id=f"aws:///{instance['AvailabilityZone']}/{instance['InstanceId']}",
            )
        )


def _discover(world: Sandbox, **kwargs: Any) -> Any:
    return discover(
        DEMO_CLUSTER,
        kwargs.pop("control_plane", world.aws),
        kwargs.pop("compute", world.aws),
        kwargs.pop("kube", world.kube(DEMO_CLUSTER)),
        world.clock,
        region=world.region,
        **kwargs,
    )


def test_it_reads_the_whole_cluster(world: Sandbox) -> None:
    snap = _discover(world, target_version="1.31", kube_context="demo", kube_endpoint="https://x")
    assert snap.cluster.name == DEMO_CLUSTER
    assert snap.version == "1.29"
    assert snap.server_version.startswith("v1.29")
    assert (snap.kube_context, snap.kube_endpoint) == ("demo", "https://x")
    assert snap.taken_at == world.clock.now()
    assert [g.name for g in snap.nodegroups] == ["batch", "general"]
    assert [a.name for a in snap.addons] == [
        "aws-ebs-csi-driver",
        "coredns",
        "kube-proxy",
        "vpc-cni",
    ]
    # The current version and every hop; only the installed add-ons are kept.
    assert sorted(snap.addon_versions) == ["1.29", "1.30", "1.31"]
    assert {v.addon_name for v in snap.addon_versions["1.30"]} == {a.name for a in snap.addons}
    assert set(snap.cluster.subnet_ids) <= {s.id for s in snap.subnets}
    assert len(snap.nodes) == 14
    assert snap.pods
    assert snap.workloads
    assert snap.pdbs
    assert snap.not_assessed == {}


def test_self_managed_groups_exclude_managed_ones(world: Sandbox) -> None:
    snap = _discover(world, target_version="1.31")
    (group,) = snap.self_managed_groups
    assert group.name == SELF_MANAGED
    assert group.launch_template is not None
    assert group.image_id == group.launch_template.image_id
    owned = snap.nodes_by_owner[NodeOwner(NodeOwnerKind.SELF_MANAGED, SELF_MANAGED)]
    assert sorted(n.name for n in owned) == ["legacy-0", "legacy-1"]


def test_ami_ids_for_every_hop_and_the_self_managed_image(world: Sandbox) -> None:
    snap = _discover(world, target_version="1.31")
    catalog = default_catalog()
    for version in ("1.29", "1.30", "1.31"):
        # Managed groups are AL2; the self-managed group was recognised as AL2023 by its image.
        for ami_type in ("AL2_x86_64", "AL2023_x86_64_STANDARD"):
            parameter = catalog.ami_parameter(version, ami_type)
            assert parameter is not None
            assert snap.ami_ids[parameter].startswith("ami-")
    assert snap.self_managed_groups[0].image_id in snap.ami_ids.values()


def test_one_list_call_per_kind(world: Sandbox) -> None:
    eks, compute = Recording(world.aws), Recording(world.aws)
    kube = Recording(world.kube(DEMO_CLUSTER))
    snap = _discover(
        world,
        target_version="1.31",
        control_plane=cast(ControlPlane, eks),
        compute=cast(Compute, compute),
        kube=cast(Cluster, kube),
    )
    assert kube.calls == {
        "server_version": 1,
        "list_nodes": 1,
        "list_pods": 1,
        "list_workloads": 1,
        "list_pdbs": 1,
        "list_services": 1,
        "list_persistent_volumes": 1,  # zonal-placement: EBS volumes' zones
        "list_node_pools": 1,  # karpenter-placement: what NodePools' new nodes carry
        "deprecated_api_requests": 1,
        "helm_releases": 1,
    }
    # Every namespace at once, not pod by pod or node by node.
    assert kube.arguments["list_pods"] == [((), {})]
    assert eks.calls["describe_cluster"] == 1
    assert eks.calls["list_nodegroups"] == 1
    assert eks.calls["describe_nodegroup"] == len(snap.nodegroups)
    assert eks.calls["list_addons"] == 1
    assert eks.calls["describe_addon"] == len(snap.addons)
    assert eks.calls["describe_addon_versions"] == 3  # 1.29, 1.30, 1.31
    assert eks.calls["list_insights"] == 1
    assert compute.calls["list_cluster_auto_scaling_groups"] == 1
    assert compute.calls["describe_launch_template_version"] == 1
    assert compute.calls["describe_subnets"] == 1
    assert compute.calls["get_parameter"] <= len(default_catalog().data.amis.ssm_parameters) + 6


def test_denied_reads_are_recorded_and_discovery_goes_on(world: Sandbox) -> None:
    eks = Recording(
        world.aws,
        deny={
            "list_insights": "eks:ListInsights",
            "describe_addon_versions": "eks:DescribeAddonVersions",
        },
    )
    compute = Recording(world.aws, deny={"describe_subnets": "ec2:DescribeSubnets"})
    kube = world.kube(DEMO_CLUSTER)

    def forbid(action: Action) -> None:
        raise PermissionDeniedError("pods is forbidden", "list pods")

    kube.add_reactor("list", "pods", forbid)
    try:
        snap = _discover(
            world,
            target_version="1.31",
            control_plane=cast(ControlPlane, eks),
            compute=cast(Compute, compute),
        )
    finally:
        kube.remove_reactors()
    assert snap.not_assessed == {
        Read.INSIGHTS.value: "eks:ListInsights",
        Read.ADDON_VERSIONS.value: "eks:DescribeAddonVersions",
        Read.SUBNETS.value: "ec2:DescribeSubnets",
        Read.PODS.value: "list pods",
    }
    assert snap.pods == ()
    assert snap.addon_versions == {}
    assert snap.nodes  # the reads that were allowed still happened


def test_a_missing_cluster_is_a_one_line_user_error(world: Sandbox) -> None:
    with pytest.raises(
        UserError, match=r"cluster 'nope' not found in region us-east-1; check --cluster/--region"
    ):
        discover("nope", world.aws, world.aws, world.kube("nope"), world.clock, region="us-east-1")


def test_manifests_are_scanned_when_given(world: Sandbox, tmp_path: Path) -> None:
    (tmp_path / "pdb.yaml").write_text(
        "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web}\n",
        encoding="utf-8",
    )
    snap = _discover(world, target_version="1.31", manifests_dir=tmp_path)
    assert [(u.group_version, u.kind) for u in snap.api_usage] == [
        ("policy/v1beta1", "PodDisruptionBudget")
    ]
    assert snap.api_usage_sources == frozenset(UsageSource)  # with the metric and Helm
    assert _discover(world).api_usage_sources == {UsageSource.API_SERVER, UsageSource.HELM}


def test_an_invalid_target_still_reads_the_current_version(world: Sandbox) -> None:
    snap = _discover(world, target_version="1.20")
    assert sorted(snap.addon_versions) == ["1.29"]


def test_discovery_checks_and_plan_end_to_end(world: Sandbox) -> None:
    snap = _discover(world, target_version="1.31")
    context = CheckContext(target="1.31", catalog=default_catalog(), today=dt.date(2025, 3, 1))
    plan = plan_cluster(snap, context, region=world.region, now=world.clock.now())
    assert plan.hops == ["1.30", "1.31"]
    kinds = [s.kind for s in plan.steps]
    assert kinds.count(StepKind.CONTROL_PLANE) == 2
    assert kinds.count(StepKind.NODEGROUP_BLUE_GREEN) == 4
    # The 1.28 self-managed nodes trail within the skew: one replacement, after the last hop.
    assert [s.id for s in plan.steps if s.kind is StepKind.SELF_MANAGED_GROUP] == [
        f"self-managed-{SELF_MANAGED}-1.31"
    ]
    assert plan.step("pause-autoscaler")  # the demo runs Cluster Autoscaler
    assert {f.check_id for f in plan.findings} >= {"kubelet-skew", "target-version"}
    managed = plan.step("nodegroup-general-1.30")
    assert str(managed.params.ami_id).startswith("ami-")
    own = plan.step(f"self-managed-{SELF_MANAGED}-1.31")
    assert own.params.ami_type == "AL2023_x86_64_STANDARD"
    assert str(own.params.ami_id).startswith("ami-")
