"""Nodes come and go as in EKS, and every step that retires nodes waits for their Node objects.

On AWS a terminated instance's Node is deleted by the cloud node lifecycle controller only after
the kubelet has been silent for node-monitor-grace-period (40 s; 50 s from 1.32) and the cloud
provider says the instance is gone (k8s.io/cloud-provider
controllers/nodelifecycle/node_lifecycle_controller.go; kubernetes.io docs, "Nodes", "Node
controller"). The sandbox plays that gap (`sandbox.asg_nodes`), so a step that counts an
instance gone when Auto Scaling stops listing it, or a verify that reads the nodes once, fails
here as it would on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.execute.steps.test_self_managed import AMI, GROUP, MirroringCompute, add_group
from tests.execute.worlds import CLUSTER, Runner, blue_green, build_world, hand_plan, step
from upgrader.core.kube import NODEGROUP_LABEL, Node
from upgrader.execute.engine import RunStatus
from upgrader.execute.steps.self_managed import instance_id
from upgrader.plan.document import Plan, StepKind
from upgrader.sandbox.cluster.asg_nodes import BOOT_SECONDS, NODE_GONE_SECONDS
from upgrader.sandbox.world import Sandbox, kubelet_version


@pytest.fixture
def at_129() -> Iterator[Sandbox]:
    """Control plane and managed nodes at 1.29; the self-managed group still on the 1.28 AMI."""
    with Sandbox() as world:
        build_world(world, "1.29", general=3, batch=0, autoscaler=False, network=True)
        add_group(world)
        yield world


def _roll_and_verify() -> Plan:
    return hand_plan(
        [
            step(
                StepKind.SELF_MANAGED_GROUP,
                f"self-managed-{GROUP}-1.29",
                "1.29",
                nodegroup=GROUP,
                version="1.29",
                ami_parameter=AMI.format("1.29"),
                drain_timeout_seconds=900,
            ),
            step(StepKind.VERIFY, "verify", version="1.29"),
        ],
        current="1.29",
        target="1.29",
    )


def test_auto_scaling_instances_join_after_boot_and_their_nodes_go_later() -> None:
    with Sandbox() as world:
        build_world(world, "1.29", general=1, batch=0, autoscaler=False, network=True)
        add_group(world)  # settles BOOT_SECONDS + 10: the two instances joined
        kube = world.kube(CLUSTER)
        asg = world.boto3_client("autoscaling")
        group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])
        instances = [i["InstanceId"] for i in group["AutoScalingGroups"][0]["Instances"]]
        nodes = {instance_id(n): n for n in kube.list_nodes(label_selector="pool=legacy")}
        assert set(nodes) == set(instances)
        first = nodes[instances[0]]
        # Named after the instance's private DNS name, like the EKS AMI's kubelet; distinct.
        assert first.name.startswith("ip-")
        assert first.name.endswith(".ec2.internal")
        assert len({n.name for n in nodes.values()}) == 2
        assert first.minor_version == "1.28"  # the AMI's version, not the control plane's
        assert first.labels["node.kubernetes.io/instance-type"] == "m5.large"

        asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
        world.settle(BOOT_SECONDS - 10)
        assert len(kube.list_nodes(label_selector="pool=legacy")) == 2  # still booting
        world.settle(20)
        assert len(kube.list_nodes(label_selector="pool=legacy")) == 3

        asg.terminate_instance_in_auto_scaling_group(
            InstanceId=instances[0], ShouldDecrementDesiredCapacity=True
        )
        world.settle(NODE_GONE_SECONDS - 10)
        # Auto Scaling no longer lists it, but its Node is still registered.
        assert first.name in {n.name for n in kube.list_nodes()}
        world.settle(20)
        assert first.name not in {n.name for n in kube.list_nodes()}


def test_a_clean_self_managed_roll_then_verify_succeeds(at_129: Sandbox, tmp_path: Path) -> None:
    """The roll's step waits until the old instances' Node objects are gone, and verify waits
    with a deadline instead of reading once: no FAILED "3 nodes not at 1.29" and no --resume."""
    world = at_129
    runner = Runner(world, tmp_path)
    result = runner.run(_roll_and_verify(), ports=runner.ports(compute=MirroringCompute(world)))
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    legacy = world.kube(CLUSTER).list_nodes(label_selector="pool=legacy")
    assert len(legacy) == 2
    assert {n.minor_version for n in legacy} == {"1.29"}
    assert "nodes still registered" in runner.out.getvalue()  # it did wait for them


def test_verify_waits_for_a_node_that_is_leaving(tmp_path: Path) -> None:
    with Sandbox() as world:
        build_world(world, "1.29", general=2, batch=0, autoscaler=False)
        kube = world.kube(CLUSTER)
        kube.add_node(Node(name="old-node", kubelet_version=kubelet_version("1.28")))
        world.clock.call_later(120, lambda: kube.remove_node("old-node"))
        runner = Runner(world, tmp_path)
        start = world.clock.now()
        plan = hand_plan([step(StepKind.VERIFY, "verify", version="1.29")], "1.29", "1.29")
        result = runner.run(plan)
        assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
        assert world.clock.now() - start >= 120


def test_verify_still_fails_for_a_node_that_stays_behind(tmp_path: Path) -> None:
    with Sandbox() as world:
        build_world(world, "1.29", general=2, batch=0, autoscaler=False)
        world.kube(CLUSTER).add_node(Node(name="stuck", kubelet_version=kubelet_version("1.28")))
        runner = Runner(world, tmp_path)
        plan = hand_plan([step(StepKind.VERIFY, "verify", version="1.29")], "1.29", "1.29")
        result = runner.run(plan)
        assert result.status is RunStatus.FAILED
        assert "1 nodes not at 1.29: stuck" in (result.error or "")


def test_blue_green_waits_for_blues_node_objects(tmp_path: Path) -> None:
    with Sandbox() as world:
        build_world(world, "1.29", general=2, batch=0, autoscaler=False)
        runner = Runner(world, tmp_path)
        plan = hand_plan([blue_green("general", "general-1-29", "1.29")], "1.29", "1.29")
        result = runner.run(plan)
        assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
        kube = world.kube(CLUSTER)
        # No settling: when the step says done, blue's nodes are gone, not just its group.
        assert kube.list_nodes(label_selector=f"{NODEGROUP_LABEL}=general") == []
