"""A small fleet in the embedded sandbox: a management cluster and three workload clusters in two
AWS accounts and two regions, on one moto and one virtual clock.

Each cluster is reached the way a real fleet's are: an STS AssumeRole into its account (moto
ties the temporary credentials to that account, so each account sees only its own clusters),
then EKS in its region. The Kubernetes side is the sandbox's fake cluster of the same name.
One cluster, `dev-b`, runs a bare debugging pod: its plan warns, and its pre-flight refuses to
drain it without --force, which is how the demo's wave meets a failing cluster.

Built with the sandbox's public builders (`Sandbox.kube`, `settle`, the moto EKS extension) and
the cluster's version from `demo_world`, so it follows the demo cluster's version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from upgrader.adapters.aws.adapter import Boto3Aws
from upgrader.adapters.aws.assume import assumed_session
from upgrader.adapters.aws.retry import RetryPolicy
from upgrader.adapters.aws.sessions import new_session
from upgrader.core.errors import UserError
from upgrader.core.kube import (
    LabelSelector,
    Pod,
    PodDisruptionBudget,
    PodSpec,
    PodTemplate,
    Resources,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox.aws_seed import seed_public_parameters
from upgrader.sandbox.aws_world import network
from upgrader.sandbox.demo_world import DEMO_VERSION
from upgrader.sandbox.world import SANDBOX_ACCOUNT, Sandbox, kubelet_version
from upgrader.usecases.fleet.targets import Address
from upgrader.usecases.targets import Target
from upgrader.versions import KubeVersion

MIB = 2**20
PLATFORM_ACCOUNT = SANDBOX_ACCOUNT
WORKLOAD_ACCOUNT = "210987654321"
FLEET_ROLE = "eksup-fleet"


@dataclass(frozen=True)
class FleetMember:
    name: str
    account: str
    region: str
    labels: dict[str, str]
    upstream: str | None = None
    bare_pod: bool = False


MEMBERS = (
    FleetMember("mgmt", PLATFORM_ACCOUNT, "us-east-1", {"env": "mgmt"}),
    FleetMember("dev-a", PLATFORM_ACCOUNT, "us-east-1", {"env": "dev"}, "mgmt"),
    FleetMember("dev-b", WORKLOAD_ACCOUNT, "eu-west-1", {"env": "dev"}, "mgmt", bare_pod=True),
    FleetMember("prod-eu", WORKLOAD_ACCOUNT, "eu-west-1", {"env": "prod"}, "mgmt"),
)


def fleet_target_version() -> str:
    return str(KubeVersion.parse(DEMO_VERSION) + 1)


def example_fleet_yaml(target: str | None = None) -> str:
    """The fleet.yaml of the sandbox fleet: what `eksup fleet example` prints."""
    lines = [
        "# The sandbox fleet: eksup fleet plan fleet.yaml --sandbox --out run.json, or, with",
        "# `eksup sandbox up --fleet` and its aws.env sourced: eksup fleet plan fleet.yaml ...",
        f'target: "{target or fleet_target_version()}"',
        "clusters:",
    ]
    for m in MEMBERS:
        labels = ", ".join(f"{k}: {v}" for k, v in m.labels.items())
        lines += [
            f"  - name: {m.name}",
            f'    account: "{m.account}"',
            f"    region: {m.region}",
            f"    context: {m.name}",
            f"    roleArn: arn:aws:iam::{m.account}:role/{FLEET_ROLE}",
            f"    labels: {{{labels}}}",
        ]
        if m.upstream:
            lines.append(f"    upstream: {m.upstream}")
    lines += [
        "stages:",
        "  - name: management",
        "    selector: env=mgmt",
        "    afterStageWait: 1h",
        "  - name: dev",
        "    selector: env=dev",
        "    maxConcurrency: 2",
        "    maxAllowedFailures: 0",
        "    afterStageWait: 2h",
        "  - name: prod",
        "    selector: env=prod",
        "    beforeGates: [{name: change-board}]",
        "",
    ]
    return "\n".join(lines)


# Sessions are the AWS adapter's boto3 ones, typed Any: only adapters name the SDK's types.
def _base(region: str) -> Any:
    return new_session(
        aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name=region
    )


def _session(member_account: str, region: str) -> Any:
    role = f"arn:aws:iam::{member_account}:role/{FLEET_ROLE}"
    return assumed_session(role, region, base=_base(region))


def _build_member(world: Sandbox, member: FleetMember, version: str) -> None:
    session: Any = _session(member.account, member.region)
    ec2, eks = session.client("ec2"), session.client("eks")
    subnets = network(ec2, member.region).subnets
    eks.create_cluster(
        name=member.name,
        version=version,
        roleArn=f"arn:aws:iam::{member.account}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    world.existing_cluster(member.name, member.account, member.region)
    world.kube(member.name).set_server_version(kubelet_version(version))
    for addon in ("vpc-cni", "coredns", "kube-proxy"):
        listing = eks.describe_addon_versions(addonName=addon, kubernetesVersion=version)
        default = next(
            v["addonVersion"]
            for v in listing["addons"][0]["addonVersions"]
            if any(c["defaultVersion"] for c in v["compatibilities"])
        )
        eks.create_addon(clusterName=member.name, addonName=addon, addonVersion=default)
    eks.create_nodegroup(
        clusterName=member.name,
        nodegroupName="general",
        nodeRole=f"arn:aws:iam::{member.account}:role/eks-node",
        subnets=subnets,
        instanceTypes=["m5.large"],
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 2},
        labels={"workload": "general"},
    )


def _apps(world: Sandbox, member: FleetMember) -> None:
    kube = world.kube(member.name)
    labels = {"app": "web"}
    kube.add_workload(
        Workload(
            kind=WorkloadKind.DEPLOYMENT,
            namespace="apps",
            name="web",
            selector=LabelSelector(labels),
            template=PodTemplate(
                labels=labels,
                spec=PodSpec(requests=Resources(250, 256 * MIB, 1), has_readiness_probe=True),
            ),
            replicas=3,
            labels=labels,
        ),
        startup_seconds=10,
    )
    kube.add_pdb(
        PodDisruptionBudget(
            namespace="apps", name="web-pdb", selector=LabelSelector(labels), max_unavailable=1
        )
    )
    if member.bare_pod:
        kube.add_pod(
            Pod(
                namespace="default",
                name="debug-shell",
                uid=f"{member.name}-debug-shell",
                labels={"run": "debug-shell"},
                owner=None,
                spec=PodSpec(requests=Resources(100, 64 * MIB, 1)),
            )
        )


def build_fleet_world(world: Sandbox, version: str = DEMO_VERSION) -> None:
    """Create the sandbox fleet in `world` (entered) and let it settle."""
    for account, region in sorted({(m.account, m.region) for m in MEMBERS}):
        if (account, region) != (SANDBOX_ACCOUNT, world.region):
            seed_public_parameters(region, account)
    for member in MEMBERS:
        _build_member(world, member, version)
    world.settle(300)
    for member in MEMBERS:
        _apps(world, member)
    world.settle(120)


def sandbox_fleet_opener(world: Sandbox) -> Callable[[Address], AbstractContextManager[Target]]:
    """Opens a cluster of the sandbox fleet by the address fleet.yaml gives it."""
    names = {m.name: m for m in MEMBERS}

    @contextmanager
    def open_member(cluster: Address) -> Iterator[Target]:
        member = names.get(cluster.name)
        if member is None or (member.account, member.region) != (cluster.account, cluster.region):
            raise UserError(
                f"the sandbox fleet has no cluster {cluster.name} in account {cluster.account} "
                f"{cluster.region}: it holds {', '.join(names)} (`eksup fleet example`)"
            )
        base = _base(member.region)
        session = (
            assumed_session(cluster.role_arn, cluster.region, base=base)
            if cluster.role_arn
            else base
        )
        aws = Boto3Aws(session=session, retry=RetryPolicy(sleep=world.clock.sleep))
        yield Target(
            cluster_name=cluster.name,
            region=cluster.region,
            control_plane=aws,
            compute=aws,
            kube=world.kube(cluster.name),
            clock=world.clock,
            kube_context=f"sandbox-{cluster.name}",
            kube_endpoint=aws.describe_cluster(cluster.name).endpoint,
        )

    return open_member
