"""The self-managed node group step on the sandbox: a real Auto Scaling group in moto, whose
instances the sandbox joins as nodes after their boot and whose terminated instances' nodes it
deletes some time later, as the cloud node lifecycle controller does (`sandbox.asg_nodes`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.execute.worlds import (
    CLUSTER,
    MIB,
    CrashingReporter,
    Delegate,
    Runner,
    build_world,
    hand_plan,
    step,
)
from upgrader.core.errors import PermissionDeniedError
from upgrader.core.kube import (
    LabelSelector,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.execute.engine import RunStatus, StepOutcome
from upgrader.execute.steps.self_managed import instance_id
from upgrader.plan.document import Plan, StepKind
from upgrader.sandbox.cluster.asg_nodes import BOOT_SECONDS, LABEL_TAG, AsgNodes
from upgrader.sandbox.world import Sandbox

GROUP = "legacy"
AMI = "/aws/service/eks/optimized-ami/{}/amazon-linux-2023/x86_64/standard/recommended/image_id"
POOL = {"pool": "legacy"}


class MirroringCompute(Delegate):
    """The AWS ports, counting the group's changes (the sandbox mirrors instances into nodes)."""

    def __init__(self, world: Sandbox) -> None:
        super().__init__(world.aws)
        self.world = world
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in ("set_desired_capacity", "terminate_instance", "suspend_processes"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            result = target(*args, **kwargs)
            self.calls[name] += 1
            return result

        return call


def add_group(world: Sandbox) -> tuple[str, str]:
    """The group, on the 1.28 AMI with two instances, and a Deployment only its nodes take;
    returns (old AMI, new AMI)."""
    old, new = (world.aws.get_parameter(AMI.format(v)) for v in ("1.28", "1.29"))
    subnets = world.aws.describe_cluster(CLUSTER).subnet_ids
    template = world.boto3_client("ec2").create_launch_template(
        LaunchTemplateName=GROUP, LaunchTemplateData={"ImageId": old, "InstanceType": "m5.large"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    world.boto3_client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName=GROUP,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(subnets),
        Tags=[
            {
                "Key": f"kubernetes.io/cluster/{CLUSTER}",
                "Value": "owned",
                "PropagateAtLaunch": True,
            },
            # What the kubelet's --node-labels would say (see sandbox.asg_nodes).
            {"Key": f"{LABEL_TAG}pool", "Value": "legacy", "PropagateAtLaunch": False},
        ],
    )
    world.settle(BOOT_SECONDS + 10)
    kube = world.kube(CLUSTER)
    labels = {"app": "reports"}
    kube.add_workload(
        Workload(
            kind=WorkloadKind.DEPLOYMENT,
            namespace="shop",
            name="reports",
            selector=LabelSelector(labels),
            template=PodTemplate(
                labels=labels,
                spec=PodSpec(requests=Resources(250, 256 * MIB, 1), node_selector=POOL),
            ),
            replicas=4,
            labels=labels,
        ),
        startup_seconds=20,
    )
    kube.add_pdb(
        PodDisruptionBudget(
            namespace="shop", name="reports-pdb", selector=LabelSelector(labels), max_unavailable=1
        )
    )
    world.settle(120)
    return old, new


@pytest.fixture
def legacy() -> Iterator[tuple[Sandbox, str, str]]:
    with Sandbox() as world:
        build_world(world, general=3, batch=0, autoscaler=False, network=True)
        old, new = add_group(world)
        yield world, old, new


def plan() -> Plan:
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
            )
        ],
        current="1.29",
        target="1.29",
    )


def _group(world: Sandbox) -> Any:
    return next(g for g in world.aws.list_cluster_auto_scaling_groups(CLUSTER) if g.name == GROUP)


def _assert_rolled(world: Sandbox, new: str) -> None:
    group = _group(world)
    assert {i.image_id for i in group.instances} == {new}
    assert len(group.instances) == 2
    assert group.desired_capacity == 2
    assert group.suspended_processes == ()
    world.settle(120)
    kube = world.kube(CLUSTER)
    nodes = {n.name for n in kube.list_nodes(label_selector="pool=legacy")}
    assert {instance_id(n) for n in kube.list_nodes(label_selector="pool=legacy")} == {
        i.id for i in group.instances
    }
    assert all(not n.unschedulable for n in kube.list_nodes(label_selector="pool=legacy"))
    reports = kube.get_workload(WorkloadKind.DEPLOYMENT, "shop", "reports")
    assert reports.ready_replicas == 4
    pods = kube.list_pods(namespace="shop", label_selector="app=reports")
    assert {p.node_name for p in pods} <= nodes
    stats = kube.stats
    assert stats.lost_pods == ()
    assert stats.pdb_violations == ()


def test_group_rolls_onto_the_new_ami(legacy: tuple[Sandbox, str, str], tmp_path: Path) -> None:
    world, old, new = legacy
    assert {i.image_id for i in _group(world).instances} == {old}
    runner = Runner(world, tmp_path)
    compute = MirroringCompute(world)
    result = runner.run(plan(), ports=runner.ports(compute=compute))
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_rolled(world, new)
    assert compute.calls["set_desired_capacity"] == 1
    assert compute.calls["terminate_instance"] == 2
    text = runner.out.getvalue()
    assert "SuspendProcesses" in text
    assert "ResumeProcesses" in text

    # Done is done: a new plan with the same step finds every instance on the AMI.
    runner.journal_path.unlink()
    later = plan().model_copy(update={"created_at": "2026-01-02T00:00:00Z"})
    again = runner.run(later, ports=runner.ports(compute=compute))
    assert again.steps[0].outcome is StepOutcome.ALREADY_DONE
    assert compute.calls["set_desired_capacity"] == 1


@pytest.mark.parametrize(
    "moment", ["SetDesiredCapacity", "SuspendProcesses group=legacy processes=Launch", "drain 2"]
)
def test_crash_mid_step_resumes_restores_processes_and_surges_once(
    legacy: tuple[Sandbox, str, str], tmp_path: Path, moment: str
) -> None:
    world, _, new = legacy
    runner = Runner(world, tmp_path)
    compute = MirroringCompute(world)
    ports = runner.ports(compute=compute)
    with pytest.raises(BaseException, match="crash at action"):
        runner.run(plan(), ports=ports, reporter=CrashingReporter(runner, ("action", moment)))
    assert _group(world).suspended_processes != ()  # the crash left the roll's suspensions
    world.settle(60)

    result = runner.run(plan(), ports=ports, resume=True)
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    assert compute.calls["set_desired_capacity"] == 1
    _assert_rolled(world, new)


def test_a_group_at_its_max_size_is_refused_before_any_change(
    legacy: tuple[Sandbox, str, str], tmp_path: Path
) -> None:
    world, old, _ = legacy
    world.boto3_client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=GROUP, MaxSize=2
    )
    runner = Runner(world, tmp_path)
    compute = MirroringCompute(world)
    result = runner.run(plan(), ports=runner.ports(compute=compute))
    assert result.status is RunStatus.REFUSED
    assert "raise MaxSize by at least 1" in (result.error or "")
    assert sum(compute.calls.values()) == 0
    group = _group(world)
    assert group.desired_capacity == 2
    assert group.suspended_processes == ()
    assert {i.image_id for i in group.instances} == {old}


class WatchingCompute(MirroringCompute):
    """Also records the most instances and the highest desired capacity the group had."""

    def __init__(self, world: Sandbox) -> None:
        super().__init__(world)
        self.most_instances = 0
        self.most_desired = 0

    def __getattr__(self, name: str) -> Any:
        target = super().__getattr__(name)
        if name not in ("set_desired_capacity", "terminate_instance", "suspend_processes"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            result = target(*args, **kwargs)
            group = _group(self.world)
            live = [i for i in group.instances if not i.lifecycle_state.startswith("Terminat")]
            self.most_instances = max(self.most_instances, len(live))
            self.most_desired = max(self.most_desired, group.desired_capacity)
            return result

        return call


def _room_for_one(world: Sandbox) -> None:
    world.boto3_client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=GROUP, MaxSize=3
    )


def test_a_group_with_room_for_one_rolls_in_waves(
    legacy: tuple[Sandbox, str, str], tmp_path: Path
) -> None:
    world, old, new = legacy
    _room_for_one(world)
    assert {i.image_id for i in _group(world).instances} == {old}
    runner = Runner(world, tmp_path)
    compute = WatchingCompute(world)
    result = runner.run(plan(), ports=runner.ports(compute=compute))
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_rolled(world, new)
    assert compute.calls["set_desired_capacity"] == 2  # one per wave
    assert compute.calls["terminate_instance"] == 2
    assert compute.most_desired == 3
    assert compute.most_instances == 3
    assert "in 2 waves of up to 1" in result.steps[0].detail
    text = runner.out.getvalue()
    assert "desired=3 (wave 1" in text
    assert "desired=3 (wave 2" in text
    assert "ResumeProcesses group=legacy processes=AZRebalance,ReplaceUnhealthy" in text


@pytest.mark.parametrize(
    "moment", ["desired=3 (wave 2", "old nodes of legacy (wave 2)", "old (wave 2)"]
)
def test_a_crash_in_the_second_wave_resumes_that_wave(
    legacy: tuple[Sandbox, str, str], tmp_path: Path, moment: str
) -> None:
    world, _, new = legacy
    _room_for_one(world)
    runner = Runner(world, tmp_path)
    compute = WatchingCompute(world)
    ports = runner.ports(compute=compute)
    with pytest.raises(BaseException, match="crash at action"):
        runner.run(plan(), ports=ports, reporter=CrashingReporter(runner, ("action", moment)))
    before = len(runner.out.getvalue())
    world.settle(60)

    result = runner.run(plan(), ports=ports, resume=True)
    assert result.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_rolled(world, new)
    assert compute.calls["set_desired_capacity"] == 2  # once per wave, crash or not
    assert compute.calls["terminate_instance"] == 2
    assert compute.most_instances == 3
    resumed = runner.out.getvalue()[before:]
    assert "(wave 1" not in resumed  # the finished wave is not repeated
    assert "(wave 2" in resumed


def test_a_wave_whose_new_instances_never_join_keeps_the_finished_waves(
    legacy: tuple[Sandbox, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, old, new = legacy
    _room_for_one(world)
    joins: list[str] = []
    join = AsgNodes._join

    def first_join_only(nodes: AsgNodes, cluster: str, instance: Any, tags: Any) -> None:
        if not joins:  # wave 1's instance joins, then the AMI breaks
            joins.append(instance.id)
            join(nodes, cluster, instance, tags)

    monkeypatch.setattr(AsgNodes, "_join", first_join_only)
    runner = Runner(world, tmp_path)
    compute = WatchingCompute(world)
    ports = runner.ports(compute=compute)
    result = runner.run(plan(), ports=ports)
    assert result.status is RunStatus.FAILED
    error = result.error or ""
    assert "wave 2: its not-Ready new instances terminated" in error
    assert "launch template kept at version 2: 1 finished waves run on it" in error
    group = _group(world)
    assert sorted(i.image_id for i in group.instances) == sorted([old, new])
    assert group.desired_capacity == 2
    assert group.launch_template.version == "2"
    assert group.suspended_processes == ()
    kube = world.kube(CLUSTER)
    legacy_nodes = kube.list_nodes(label_selector="pool=legacy")
    assert {instance_id(n) for n in legacy_nodes} == {i.id for i in group.instances}
    assert joins == [next(i.id for i in group.instances if i.image_id == new)]
    assert not any(n.unschedulable or n.taints for n in legacy_nodes)
    assert kube.stats.lost_pods == ()

    monkeypatch.undo()  # the AMI is fixed: the resumed step runs wave 2 again
    before = len(runner.out.getvalue())
    again = runner.run(plan(), ports=ports, resume=True)
    assert again.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_rolled(world, new)
    assert "(wave 1" not in runner.out.getvalue()[before:]
    assert compute.most_instances == 3


def test_new_instances_that_never_join_are_rolled_back_and_resume_starts_over(
    legacy: tuple[Sandbox, str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, old, new = legacy
    template_version = _group(world).launch_template.version
    monkeypatch.setattr(AsgNodes, "_join", lambda *_: None)  # a broken AMI
    runner = Runner(world, tmp_path)
    compute = MirroringCompute(world)
    ports = runner.ports(compute=compute)
    result = runner.run(plan(), ports=ports)
    assert result.status is RunStatus.FAILED
    assert "rolled back: new instances of legacy terminated" in (result.error or "")
    group = _group(world)
    assert {i.image_id for i in group.instances} == {old}
    assert group.desired_capacity == 2
    assert group.launch_template.version == template_version
    assert group.suspended_processes == ()
    kube = world.kube(CLUSTER)
    legacy_nodes = kube.list_nodes(label_selector="pool=legacy")
    assert len(legacy_nodes) == 2
    assert not any(n.unschedulable or n.taints for n in legacy_nodes)
    assert kube.stats.lost_pods == ()

    monkeypatch.undo()  # the AMI is fixed: the resumed step rolls from the start
    again = runner.run(plan(), ports=ports, resume=True)
    assert again.status is RunStatus.SUCCEEDED, runner.out.getvalue()
    _assert_rolled(world, new)
    assert (
        "SuspendProcesses group=legacy processes=AZRebalance,ReplaceUnhealthy"
        in (runner.out.getvalue().split("rolled back")[-1])
    )


def test_a_dry_run_asks_ec2_with_dryrun_and_reports_its_refusal(
    legacy: tuple[Sandbox, str, str], tmp_path: Path
) -> None:
    world, old, _ = legacy
    runner = Runner(world, tmp_path)
    result = runner.run(plan(), ports=runner.ports(compute=MirroringCompute(world)), dry_run=True)
    assert result.status is RunStatus.SUCCEEDED, result.summary()  # moto answered DryRunOperation
    versions = world.boto3_client("ec2").describe_launch_template_versions(
        LaunchTemplateName=GROUP
    )["LaunchTemplateVersions"]
    assert len(versions) == 1  # asked with DryRun: nothing created

    class RefusingEc2(MirroringCompute):
        def check_launch_template_version(self, *args: object) -> None:
            self.calls["check_launch_template_version"] += 1
            raise PermissionDeniedError(
                "ec2:CreateLaunchTemplateVersion: You are not authorized to perform this "
                "operation.",
                action="ec2:CreateLaunchTemplateVersion",
            )

    refusing = RefusingEc2(world)
    blocked = Runner(world, tmp_path / "again").run(
        plan(), ports=runner.ports(compute=refusing), dry_run=True
    )

    assert blocked.status is RunStatus.WOULD_BLOCK
    assert "EC2 would refuse CreateLaunchTemplateVersion (DryRun)" in blocked.blockers[0]
    assert refusing.calls["check_launch_template_version"] == 1
    group = _group(world)
    assert {i.image_id for i in group.instances} == {old}
    assert group.launch_template.version == "1"  # no version was created


def test_a_dry_run_of_a_wave_roll_changes_nothing_and_shows_the_waves(
    legacy: tuple[Sandbox, str, str], tmp_path: Path
) -> None:
    world, old, _ = legacy
    _room_for_one(world)
    runner = Runner(world, tmp_path)
    compute = MirroringCompute(world)
    result = runner.run(plan(), ports=runner.ports(compute=compute), dry_run=True)
    assert result.status is RunStatus.SUCCEEDED, result.summary()
    assert "then 1 more waves like it" in result.steps[0].detail
    assert sum(compute.calls.values()) == 0
    group = _group(world)
    assert group.desired_capacity == 2
    assert group.suspended_processes == ()
    assert {i.image_id for i in group.instances} == {old}
