"""Fargate pods in the sandbox run on nodes of their own, as on EKS (`sandbox.fargate_nodes`).

EKS user guide, "AWS Fargate" / "Fargate profile": a pod whose namespace (and labels, if the
selector has any) match a profile runs on Fargate, one pod per node, the node labelled
`eks.amazonaws.com/compute-type: fargate`; DaemonSets do not run on Fargate; a pod keeps the
kubelet it started with, so only a restart moves it to a new control-plane version.
"""

from __future__ import annotations

from upgrader.core.kube import (
    FARGATE_COMPUTE_LABEL,
    LabelSelector,
    PodSpec,
    PodTemplate,
    Resources,
    Toleration,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.cluster.node_groups import FARGATE_PROVISION_SECONDS
from upgrader.sandbox.eks.extension import settings
from upgrader.sandbox.world import SANDBOX_ACCOUNT, Sandbox

MIB = 2**20
SUBNETS = ["subnet-0a", "subnet-0b"]


def _deployment(namespace: str, name: str, replicas: int) -> Workload:
    labels = {"app": name}
    return Workload(
        kind=WorkloadKind.DEPLOYMENT,
        namespace=namespace,
        name=name,
        selector=LabelSelector(labels),
        template=PodTemplate(labels=labels, spec=PodSpec(requests=Resources(300, 600 * MIB, 1))),
        replicas=replicas,
        labels=labels,
    )


def test_fargate_pods_get_nodes_of_their_own_at_the_control_planes_version() -> None:
    with Sandbox() as world:
        world.create_cluster("prod", "1.29", SUBNETS)
        world.create_nodegroup("prod", "ng", instance_type_name="m5.large", size=1, subnets=SUBNETS)
        world.boto3_client("eks").create_fargate_profile(
            fargateProfileName="serverless",
            clusterName="prod",
            podExecutionRoleArn=f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/pods",
            subnets=SUBNETS,
            selectors=[{"namespace": "serverless", "labels": {"app": "notifier"}}],
        )
        world.settle(300)
        kube = world.kube("prod")
        agent = Workload(
            kind=WorkloadKind.DAEMON_SET,
            namespace="kube-system",
            name="agent",
            selector=LabelSelector({"app": "agent"}),
            template=PodTemplate(
                labels={"app": "agent"},
                spec=PodSpec(tolerations=(Toleration(operator="Exists"),)),
            ),
            labels={"app": "agent"},
        )
        kube.add_workload(agent)
        kube.add_workload(_deployment("serverless", "notifier", 2))
        kube.add_workload(_deployment("serverless", "other", 1))  # labels do not match
        world.settle(FARGATE_PROVISION_SECONDS - 5)
        fargate = kube.list_nodes(label_selector=f"{FARGATE_COMPUTE_LABEL}=fargate")
        assert fargate == []  # the micro-VMs are still starting
        world.settle(60)

        fargate = kube.list_nodes(label_selector=f"{FARGATE_COMPUTE_LABEL}=fargate")
        assert len(fargate) == 2
        assert all(n.name.startswith("fargate-ip-") for n in fargate)
        assert {n.minor_version for n in fargate} == {"1.29"}
        assert all(n.labels["eks.amazonaws.com/fargate-profile"] == "serverless" for n in fargate)
        pods = kube.list_pods(namespace="serverless", label_selector="app=notifier")
        assert sorted(p.node_name or "" for p in pods) == sorted(n.name for n in fargate)
        assert all(p.ready for p in pods)
        other = kube.list_pods(namespace="serverless", label_selector="app=other")
        assert other[0].node_name not in {n.name for n in fargate}
        agents = kube.list_pods(namespace="kube-system", label_selector="app=agent")
        assert {p.node_name for p in agents} == {n.name for n in kube.list_nodes()} - {
            n.name for n in fargate
        }

        world.aws.update_cluster_version("prod", "1.30")
        world.clock.sleep(settings.cluster_update_seconds)
        kube.restart_workload(WorkloadKind.DEPLOYMENT, "serverless", "notifier")
        world.settle(600)
        after = kube.list_nodes(label_selector=f"{FARGATE_COMPUTE_LABEL}=fargate")
        assert len(after) == 2
        assert {n.minor_version for n in after} == {"1.30"}  # the old nodes went with their pods
        assert not {n.name for n in after} & {n.name for n in fargate}
        assert kube.stats.lost_pods == ()
