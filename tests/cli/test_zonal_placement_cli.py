"""`eksup plan --sandbox` on a world whose pods are tied to zones (issue 11, item 1 a and b).

The world (registered for the test under `EKSUP_SANDBOX_WORLD=zonal`): a managed node group in
three zones running a Deployment whose zone spread asks for 4 domains (`minDomains`), and a
self-managed Auto Scaling group whose old instance runs in us-east-1a, next to the EBS volume
its pod uses, while the group now launches only into us-east-1b and us-east-1c. Both would leave
pods Pending with the old nodes cordoned; the plan must be NOT READY and name them.
The same world holds a Deployment whose pods are bound but never start (Pending, item 4), under
a budget at 0 because of them: that budget must not block the plan.
The rules: PodTopologySpread (kubernetes pkg/scheduler/framework/plugins/podtopologyspread/
filtering.go, `minMatchNum`) and VolumeBinding (plugins/volumebinding/binder.go,
`checkBoundClaims`).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.kube import (
    LabelSelector,
    NodeAffinity,
    PersistentVolume,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    SelectorRequirement,
    TopologySpread,
    Volume,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox import mixed_world
from upgrader.sandbox.cluster.asg_nodes import BOOT_SECONDS, LABEL_TAG
from upgrader.sandbox.demo_world import DEMO_CLUSTER, DEMO_VERSION
from upgrader.sandbox.world import Sandbox

ZONE = "topology.kubernetes.io/zone"
MIB = 2**20
AMI = "/aws/service/eks/optimized-ami/{}/amazon-linux-2023/x86_64/standard/recommended/image_id"


def _deployment(namespace: str, name: str, spec: PodSpec, replicas: int) -> Workload:
    labels = {"app": name}
    return Workload(
        WorkloadKind.DEPLOYMENT,
        namespace,
        name,
        LabelSelector(labels),
        PodTemplate(labels, spec=spec),
        replicas=replicas,
        labels=labels,
    )


def build_zonal_world(world: Sandbox) -> None:
    subnets = world.create_network()
    world.create_cluster(DEMO_CLUSTER, DEMO_VERSION, subnets)
    world.install_addons(DEMO_CLUSTER, DEMO_VERSION, ("vpc-cni", "coredns", "kube-proxy"))
    world.create_nodegroup(
        DEMO_CLUSTER,
        "general",
        instance_type_name="m5.xlarge",
        size=3,
        subnets=subnets,
        labels={"workload": "general"},
    )
    ec2 = world.boto3_client("ec2")
    zone_of = {
        s["SubnetId"]: s["AvailabilityZone"]
        for s in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    }
    first = min(subnets, key=lambda s: zone_of[s])
    template = ec2.create_launch_template(
        LaunchTemplateName="legacy",
        LaunchTemplateData={
            "ImageId": world.aws.get_parameter(AMI.format(DEMO_VERSION)),
            "InstanceType": "m5.large",
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling = world.boto3_client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="legacy",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=1,
        MaxSize=2,
        DesiredCapacity=1,
        VPCZoneIdentifier=first,
        Tags=[
            {"Key": f"kubernetes.io/cluster/{DEMO_CLUSTER}", "Value": "owned"},
            {"Key": f"{LABEL_TAG}pool", "Value": "legacy", "PropagateAtLaunch": False},
        ],
    )
    world.settle(BOOT_SECONDS + 300)
    # Later, someone moved the group off the first zone; its old instance stays there.
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName="legacy",
        VPCZoneIdentifier=",".join(s for s in subnets if s != first),
    )
    kube = world.kube(DEMO_CLUSTER)
    spread = TopologySpread(
        ZONE, 1, "DoNotSchedule", label_selector=LabelSelector({"app": "web"}), min_domains=4
    )
    web = PodSpec(
        requests=Resources(100, 64 * MIB, 1),
        node_selector={"workload": "general"},
        topology_spread=(spread,),
    )
    kube.add_workload(_deployment("shop", "web", web, 6), startup_seconds=5)
    affinity = NodeAffinity(((SelectorRequirement(ZONE, "In", (zone_of[first],)),),))
    kube.add_persistent_volume(
        PersistentVolume("pv-ledger", "reporting/data-ledger", affinity, "ebs.csi.aws.com")
    )
    ledger = PodSpec(
        requests=Resources(100, 64 * MIB, 1),
        node_selector={"pool": "legacy"},
        volumes=(Volume("data", persistent_claim="data-ledger"),),
    )
    kube.add_workload(_deployment("reporting", "ledger", ledger, 1), startup_seconds=5)
    # Item 4: a Deployment whose image cannot be pulled; its budget is at 0 only because of it.
    broken = PodSpec(requests=Resources(100, 64 * MIB, 1), node_selector={"workload": "general"})
    kube.add_workload(_deployment("shop", "broken", broken, 2), startup_seconds=5, starts=False)
    kube.add_pdb(
        PodDisruptionBudget("shop", "broken-pdb", LabelSelector({"app": "broken"}), min_available=1)
    )
    world.settle(120)


@pytest.fixture(autouse=True)
def zonal_world(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(mixed_world.WORLDS, "zonal", build_zonal_world)


def test_the_plan_is_not_ready_and_names_both_zonal_problems() -> None:
    minor = int(DEMO_VERSION.split(".")[1])
    env = {"COLUMNS": "250", "EKSUP_SANDBOX_WORLD": "zonal"}
    args = ["plan", "--sandbox", "--to", f"1.{minor + 1}", "--format", "json"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2, result.stderr
    plan = json.loads(result.stdout)
    assert plan["verdict"] == "NOT READY"
    found = {
        tuple(f["objects"]): f
        for f in plan["findings"]
        if f["check_id"] == "zonal-placement" and f["status"] == "fail"
    }
    assert set(found) == {("shop/web",), ("reporting/ledger",)}, plan["findings"]
    web = found[("shop/web",)]
    assert web["severity"] == "error"
    assert "than minDomains 4" in web["message"]
    assert "managed node group general" in web["message"]
    ledger = found[("reporting/ledger",)]
    assert "PersistentVolume pv-ledger (claim reporting/data-ledger)" in ledger["message"]
    assert "subnet in the volume's zone" in ledger["remedy"]
    # The broken Deployment's pods are bound and Pending: the Eviction API lets them go without
    # their budget (eviction.go canIgnorePDB), so a budget at 0 because of them blocks nothing.
    budgets = [f for f in plan["findings"] if f["check_id"] == "pdb-zero-disruptions"]
    assert all(f["status"] == "pass" for f in budgets), budgets
