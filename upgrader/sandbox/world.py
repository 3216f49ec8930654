"""The sandbox world: moto (with eksup's EKS extension) and `FakeCluster`s on one virtual clock.

A node group created through the EKS API becomes Ready nodes in the fake Kubernetes cluster
after its provisioning delay; scaling it adds or removes nodes; deleting it removes them (and
loses whatever pods were still on them); a control-plane update bumps the API server's version
when it succeeds. eksup talks to this world only through its ports, with the same boto3 adapter
it uses against AWS, so the sandbox exercises the real code paths.

The sandbox is infrastructure, like `upgrader.adapters`: it may use boto3 to seed moto.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from moto import mock_aws

from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.adapters.aws.retry import RetryPolicy
from upgrader.adapters.aws.sessions import new_session
from upgrader.core.kube import NODEGROUP_LABEL, Taint, TaintEffect
from upgrader.sandbox.aws_seed import seed_public_parameters
from upgrader.sandbox.aws_world import network
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.asg_nodes import NODE_GONE_SECONDS, AsgNodes
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.sandbox.cluster.fargate_nodes import FargateProfiles
from upgrader.sandbox.cluster.instance_types import instance_type
from upgrader.sandbox.cluster.node_groups import NodeTemplate
from upgrader.sandbox.eks import extension as moto_eks
from upgrader.sandbox.eks.backend import eks_backend
from upgrader.sandbox.eks.state import NodegroupFacts, settings
from upgrader.sandbox.inplace import start_in_place_update

SANDBOX_ACCOUNT = "123456789012"
_EKS_EFFECTS = {
    "NO_SCHEDULE": TaintEffect.NO_SCHEDULE,
    "NO_EXECUTE": TaintEffect.NO_EXECUTE,
    "PREFER_NO_SCHEDULE": TaintEffect.PREFER_NO_SCHEDULE,
}
_ZONES = ("a", "b", "c")
# What the embedded sandbox's boto3 sees while it runs; every other AWS_* variable is hidden.
_EMBEDDED_ENV = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    # moto would build thousands of public AMIs for each account and region it touches (~0.5 s
    # each); the sandbox's nodes run only the EKS-optimized AMIs it registers (aws_seed.py).
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


@contextmanager
def _hidden_aws_environment() -> Iterator[None]:
    """The embedded sandbox is its own AWS: nothing in the user's shell may reach into it.
    Real credentials (moto refuses them), a profile, and above all AWS_ENDPOINT_URL (a shell
    that sourced a served sandbox's aws.env would send every call there) are hidden, and put
    back when the sandbox stops."""
    hidden = [n for n in os.environ if n.startswith("AWS_") or n in _EMBEDDED_ENV]
    saved = {n: os.environ.pop(n) for n in hidden}
    os.environ.update(_EMBEDDED_ENV)
    try:
        yield
    finally:
        for name in _EMBEDDED_ENV:
            os.environ.pop(name, None)
        os.environ.update(saved)


def kubelet_version(version: str, release_version: str = "") -> str:
    """What the kubelet of a node at `version` reports, e.g. "v1.29.8-eks-a737599"."""
    patch = re.match(r"\d+\.\d+\.(\d+)", release_version)
    return f"v{version}.{patch.group(1) if patch else 0}-eks-sandbox"


class Sandbox:
    """Enter it (`with Sandbox() as world:`) to start moto; leaving stops it and resets moto."""

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self.clock = VirtualClock()
        self._kube: dict[str, FakeCluster] = {}
        self._mock: Any = None
        self._environment = ExitStack()  # holds the hidden AWS_* settings while it runs
        with _hidden_aws_environment():  # a profile in the shell would be looked up here
            self._session = new_session(
                aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name=region
            )
        self.aws = Boto3Aws(session=self._session, retry=RetryPolicy(sleep=self.clock.sleep))
        self.asg_nodes = AsgNodes(self)  # self-managed instances join as nodes

    # lifecycle
    def __enter__(self) -> Sandbox:
        self._environment.enter_context(_hidden_aws_environment())
        moto_eks.install()
        self._mock = mock_aws()
        self._mock.start()
        settings.clock = self.clock
        settings.hooks = _Hooks(self)
        seed_public_parameters(self.region)
        self.asg_nodes.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.asg_nodes.stop()
        settings.reset()
        if self._mock is not None:
            self._mock.stop()
        self._environment.close()

    def kube(self, cluster: str) -> FakeCluster:
        """The fake Kubernetes cluster behind EKS cluster `cluster`."""
        if cluster not in self._kube:
            self._kube[cluster] = FakeCluster(self.clock)
            self._kube[cluster].attach_fargate(FargateProfiles(self, cluster))
        return self._kube[cluster]

    # seeding
    def boto3_client(self, service: str) -> Any:
        """A raw client, for seeding what no port offers (VPCs, add-ons to start from)."""
        session: Any = self._session
        return session.client(service)

    def create_network(self, subnets: int = 3) -> list[str]:
        """A VPC with one subnet per zone; returns the subnet ids."""
        return network(self.boto3_client("ec2"), self.region, subnets).subnets

    def create_cluster(self, name: str, version: str, subnets: list[str]) -> None:
        eks = self.boto3_client("eks")
        eks.create_cluster(
            name=name,
            version=version,
            roleArn=f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": subnets},
        )
        self.existing_cluster(name)
        self.kube(name).set_server_version(kubelet_version(version))

    def existing_cluster(
        self, name: str, account: str = SANDBOX_ACCOUNT, region: str | None = None
    ) -> None:
        """A world's clusters existed before its story starts: ACTIVE, not CREATING."""
        eks_backend(region or self.region, account).created_before_start(name)

    def install_addons(self, cluster: str, version: str, names: Sequence[str]) -> None:
        """Install each add-on at the version EKS gives as default for `version`."""
        eks = self.boto3_client("eks")
        for name in names:
            listing = eks.describe_addon_versions(addonName=name, kubernetesVersion=version)
            default = next(
                v["addonVersion"]
                for v in listing["addons"][0]["addonVersions"]
                if any(c["defaultVersion"] for c in v["compatibilities"])
            )
            eks.create_addon(clusterName=cluster, addonName=name, addonVersion=default)

    def create_nodegroup(
        self,
        cluster: str,
        name: str,
        *,
        instance_type_name: str,
        size: int,
        subnets: list[str],
        labels: Mapping[str, str] | None = None,
        taints: list[dict[str, str]] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.boto3_client("eks").create_nodegroup(
            clusterName=cluster,
            nodegroupName=name,
            nodeRole=f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/eks-node",
            subnets=subnets,
            instanceTypes=[instance_type_name],
            scalingConfig={"minSize": max(1, size // 2), "maxSize": size * 2, "desiredSize": size},
            labels=dict(labels or {}),
            taints=list(taints or []),
            tags=dict(tags or {}),
        )

    def settle(self, seconds: float = 600.0) -> None:
        """Let virtual time run until nodes have joined and pods are Ready."""
        self.clock.sleep(seconds)


class _Hooks:
    """Keeps each FakeCluster's nodes in step with what the EKS API says."""

    def __init__(self, world: Sandbox) -> None:
        self.world = world

    def _template(self, facts: NodegroupFacts) -> NodeTemplate:
        itype = instance_type(facts.instance_types[0] if facts.instance_types else "m5.large")
        taints = tuple(
            Taint(t["key"], _EKS_EFFECTS[t["effect"]], t.get("value", "")) for t in facts.taints
        )
        return NodeTemplate(
            labels={
                **facts.labels,
                NODEGROUP_LABEL: facts.name,
                "eks.amazonaws.com/capacityType": facts.capacity_type,
                "eks.amazonaws.com/nodegroup-image": facts.release_version,
                "node.kubernetes.io/instance-type": itype.name,
                "kubernetes.io/arch": "arm64" if itype.arch == "arm64" else "amd64",
            },
            taints=taints,
            allocatable=itype.allocatable,
            kubelet_version=kubelet_version(facts.version, facts.release_version),
            instance_type=itype.name,
            zones=tuple(f"{self.world.region}{zone}" for zone in _ZONES),
            capacity_type=facts.capacity_type,
        )

    def cluster_version_updating(
        self,
        cluster: str,
        version: str,
        update_id: str,  # noqa: ARG002 (part of the hook's signature)
        delay: float,
    ) -> None:
        kube = self.world.kube(cluster)

        def succeeded() -> None:
            kube.set_server_version(kubelet_version(version))

        self.world.clock.call_later(delay, succeeded)

    def nodegroup_created(self, facts: NodegroupFacts) -> None:
        self.world.kube(facts.cluster).scale_node_group(
            facts.name, facts.desired_size, self._template(facts), facts.delay
        )

    def nodegroup_scaled(self, facts: NodegroupFacts) -> None:
        self.world.kube(facts.cluster).scale_node_group(
            facts.name, facts.desired_size, self._template(facts), facts.delay
        )

    def nodegroup_version_updating(self, facts: NodegroupFacts, update_id: str) -> bool:
        # Node by node, as EKS does it (see `inplace`): the update ends when the nodes moved.
        return start_in_place_update(self.world, facts, update_id, self._template(facts))

    def nodegroup_deleting(self, facts: NodegroupFacts) -> None:
        # The Node objects outlive the instances by the node lifecycle controller's grace.
        gone = facts.delay + NODE_GONE_SECONDS
        self.world.kube(facts.cluster).delete_node_group(facts.name, gone)


@contextmanager
def sandbox(region: str = "us-east-1") -> Iterator[Sandbox]:
    with Sandbox(region) as world:
        yield world
