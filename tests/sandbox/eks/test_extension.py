"""The sandbox's EKS through boto3, as eksup calls it: AWS's rules, virtual time, the hooks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.eks.exceptions import (
    InvalidParameterException,
    InvalidRequestException,
    ResourceInUseException,
)
from moto.moto_api._internal.models import moto_api_backend

from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.eks import catalog as moto_eks_catalog
from upgrader.sandbox.eks import extension as moto_eks
from upgrader.sandbox.eks.extension import NodegroupFacts, NoHooks, eks_backend, settings
from upgrader.sandbox.eks.versions import platform_version

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/eks"
SUBNETS = ["subnet-0a", "subnet-0b"]
SUPPORTED = moto_eks_catalog.supported_versions()


@pytest.fixture(scope="module")
def eks() -> EKSClient:
    # One client for the module: a client costs ~40 ms to build, a mock_aws cycle a few ms.
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    return session.client("eks")


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    moto_eks.install()
    clock = VirtualClock()
    settings.clock = clock
    with mock_aws():
        yield clock
    settings.reset()


def make_cluster(eks: EKSClient, name: str = "prod", version: str | None = "1.29") -> Any:
    extra = {"version": version} if version else {}
    created = eks.create_cluster(
        name=name, roleArn=ROLE, resourcesVpcConfig={"subnetIds": SUBNETS}, **extra
    )["cluster"]
    eks_backend(REGION).created_before_start(name)  # a cluster that already runs
    return created


def make_nodegroup(
    eks: EKSClient, clock: VirtualClock | None, name: str = "ng-a", **kwargs: Any
) -> Any:
    """Create a node group; with a clock, wait until it is ACTIVE."""
    nodegroup = eks.create_nodegroup(
        clusterName="prod", nodegroupName=name, nodeRole=ROLE, subnets=SUBNETS, **kwargs
    )["nodegroup"]
    if clock is not None:
        clock.sleep(settings.nodegroup_create_seconds)
    return nodegroup


def message(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Message"])


# --- control plane ------------------------------------------------------------------------------


def test_one_minor_update_succeeds_after_the_delay(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks, version="1.29")

    update = eks.update_cluster_version(name="prod", version="1.30")["update"]

    assert update["type"] == "VersionUpdate"
    assert update["status"] == "InProgress"
    assert {"type": "Version", "value": "1.30"} in update["params"]
    cluster = eks.describe_cluster(name="prod")["cluster"]
    assert (cluster["status"], cluster["version"]) == ("UPDATING", "1.29")

    clock.sleep(settings.cluster_update_seconds - 1)
    assert eks.describe_update(name="prod", updateId=update["id"])["update"]["status"] == (
        "InProgress"
    )
    clock.sleep(1)
    assert eks.describe_update(name="prod", updateId=update["id"])["update"]["status"] == (
        "Successful"
    )
    cluster = eks.describe_cluster(name="prod")["cluster"]
    # The new minor at its latest platform version on this date, not eks.1 (docs:
    # eks/latest/userguide/platform-versions.html).
    assert (cluster["status"], cluster["version"], cluster["platformVersion"]) == (
        "ACTIVE",
        "1.30",
        platform_version("1.30", clock.now()),
    )
    assert eks.list_updates(name="prod")["updateIds"] == [update["id"]]


def test_update_ids_are_uuids(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks)
    update_id = eks.update_cluster_version(name="prod", version="1.30")["update"]["id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", update_id)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("1.31", "Unsupported Kubernetes minor version update from 1.29 to 1.31"),
        # One minor down is a rollback: tests/sandbox/eks/test_rollback.py.
        ("1.27", "Unsupported Kubernetes minor version update from 1.29 to 1.27"),
        ("1.29", "Unsupported Kubernetes minor version update from 1.29 to 1.29"),
        ("1.99", "unsupported Kubernetes version"),
    ],
    ids=["skip-a-minor", "downgrade", "same-version", "unknown-version"],
)
def test_version_updates_aws_refuses(
    eks: EKSClient, clock: VirtualClock, target: str, expected: str
) -> None:
    make_cluster(eks, version="1.29")

    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.update_cluster_version(name="prod", version=target)

    assert message(error) == expected
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert eks.list_updates(name="prod")["updateIds"] == []


def test_a_second_update_is_refused_while_one_runs(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks)
    first = eks.update_cluster_version(name="prod", version="1.30")["update"]

    with pytest.raises(eks.exceptions.ResourceInUseException) as error:
        eks.update_cluster_version(name="prod", version="1.30")

    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert message(error) == (
        f"Cannot VersionUpdate because cluster prod currently has update {first['id']} in progress"
    )
    clock.sleep(settings.cluster_update_seconds)
    assert eks.update_cluster_version(name="prod", version="1.31")["update"]["status"] == (
        "InProgress"
    )


def test_a_retried_request_gets_its_first_answer(eks: EKSClient, clock: VirtualClock) -> None:
    # boto3 and eksup's retry layer resend a request with the same clientRequestToken.
    make_cluster(eks)
    first = eks.update_cluster_version(name="prod", version="1.30", clientRequestToken="t-1")
    again = eks.update_cluster_version(name="prod", version="1.30", clientRequestToken="t-1")
    assert again["update"]["id"] == first["update"]["id"]

    request = {"clusterName": "prod", "nodegroupName": "ng-a", "nodeRole": ROLE}
    clock.sleep(settings.cluster_update_seconds)
    made = eks.create_nodegroup(**request, subnets=SUBNETS, clientRequestToken="t-2")
    remade = eks.create_nodegroup(**request, subnets=SUBNETS, clientRequestToken="t-2")
    assert remade["nodegroup"]["nodegroupArn"] == made["nodegroup"]["nodegroupArn"]
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.create_nodegroup(**request, subnets=SUBNETS, clientRequestToken="t-3")


def test_node_groups_must_match_the_control_plane_before_it_moves(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks, version="1.29")
    make_nodegroup(eks, clock, version="1.28")

    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.update_cluster_version(name="prod", version="1.30")

    assert message(error) == (
        "Nodegroups ng-a must be updated to match cluster version 1.29 before updating "
        "cluster version"
    )
    settings.require_nodegroups_at_cluster_version = False
    eks.update_cluster_version(name="prod", version="1.30")


def test_create_cluster_defaults_to_a_current_version_and_refuses_unknown_ones(
    eks: EKSClient, clock: VirtualClock
) -> None:
    assert make_cluster(eks, version=None)["version"] == "1.31"
    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        make_cluster(eks, name="old", version="1.19")
    assert message(error) == "unsupported Kubernetes version"


def test_a_bad_role_arn_is_refused(eks: EKSClient, clock: VirtualClock) -> None:
    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.create_cluster(name="x", roleArn="role/eks", resourcesVpcConfig={})
    assert message(error) == "Invalid Role Arn: 'role/eks'"


def test_moto_reset_leaves_the_extension_installed(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks)
    moto_api_backend.reset()

    assert moto_eks.installed()
    make_cluster(eks)
    assert eks.update_cluster_version(name="prod", version="1.30")["update"]["status"] == (
        "InProgress"
    )


# --- node groups --------------------------------------------------------------------------------


def test_a_node_group_defaults_to_the_cluster_version_and_keeps_its_update_config(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks, version="1.30")

    plain = make_nodegroup(eks, None, name="plain")
    tuned = make_nodegroup(eks, None, name="tuned", updateConfig={"maxUnavailablePercentage": 33})

    assert plain["version"] == "1.30"
    assert plain["amiType"] == "AL2023_x86_64_STANDARD"  # AWS's default from 1.30
    assert re.fullmatch(r"1\.30\.\d+-20\d{6}", plain["releaseVersion"])
    assert plain["updateConfig"] == {"maxUnavailable": 1}
    described = eks.describe_nodegroup(clusterName="prod", nodegroupName="tuned")["nodegroup"]
    assert tuned["updateConfig"] == described["updateConfig"] == {"maxUnavailablePercentage": 33}


def test_default_scaling_configs_are_not_shared(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks)
    make_nodegroup(eks, None, name="blue")
    make_nodegroup(eks, clock, name="green")

    eks.update_nodegroup_config(
        clusterName="prod",
        nodegroupName="blue",
        scalingConfig={"minSize": 0, "maxSize": 6, "desiredSize": 5},
    )

    green = eks.describe_nodegroup(clusterName="prod", nodegroupName="green")["nodegroup"]
    assert green["scalingConfig"] == {"minSize": 2, "maxSize": 2, "desiredSize": 2}


def test_a_node_group_is_creating_then_active(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks)
    assert make_nodegroup(eks, None)["status"] == "CREATING"

    clock.sleep(settings.nodegroup_create_seconds - 1)
    assert eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"][
        "status"
    ] == ("CREATING")
    clock.sleep(1)
    assert eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"][
        "status"
    ] == ("ACTIVE")


def test_a_deleted_node_group_reads_deleting_until_it_is_gone(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    make_nodegroup(eks, clock)

    assert eks.delete_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"][
        "status"
    ] == ("DELETING")
    clock.sleep(settings.nodegroup_delete_seconds - 1)
    assert eks.list_nodegroups(clusterName="prod")["nodegroups"] == ["ng-a"]
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.delete_cluster(name="prod")  # AWS refuses while node groups exist

    clock.sleep(1)
    assert eks.list_nodegroups(clusterName="prod")["nodegroups"] == []
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")
    eks.delete_cluster(name="prod")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.30", "Requested Nodegroup version 1.30 is greater than cluster version 1.29"),
        ("1.25", "Requested Nodegroup version 1.25 is too far behind cluster version 1.29"),
    ],
    ids=["newer-than-control-plane", "beyond-kubelet-skew"],
)
def test_node_group_versions_outside_the_skew_are_refused(
    eks: EKSClient, clock: VirtualClock, version: str, expected: str
) -> None:
    make_cluster(eks, version="1.29")

    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        make_nodegroup(eks, None, version=version)

    assert message(error) == expected
    assert make_nodegroup(eks, None, name="oldest", version="1.26")["version"] == "1.26"


def test_a_node_group_update_may_not_pass_the_control_plane(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks, version="1.29")
    make_nodegroup(eks, clock)

    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a", version="1.30")
    assert message(error) == "Requested Nodegroup version 1.30 is greater than cluster version 1.29"


def test_a_node_group_version_update_completes_by_time(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks, version="1.29")
    make_nodegroup(eks, clock)
    eks.update_cluster_version(name="prod", version="1.30")
    clock.sleep(settings.cluster_update_seconds)

    update = eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a", version="1.30")[
        "update"
    ]

    nodegroup = eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"]
    assert (nodegroup["status"], nodegroup["version"]) == ("UPDATING", "1.29")
    with pytest.raises(eks.exceptions.ResourceInUseException):
        eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a")
    clock.sleep(settings.nodegroup_update_seconds)
    described = eks.describe_update(name="prod", updateId=update["id"], nodegroupName="ng-a")
    assert described["update"]["status"] == "Successful"
    nodegroup = eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"]
    assert (nodegroup["status"], nodegroup["version"]) == ("ACTIVE", "1.30")
    assert nodegroup["releaseVersion"] == moto_eks_catalog.release_version("1.30", "AL2_x86_64")


def test_node_group_updates_are_described_and_listed_by_node_group(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    make_nodegroup(eks, clock)
    update_id = eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a")["update"][
        "id"
    ]

    assert eks.list_updates(name="prod", nodegroupName="ng-a")["updateIds"] == [update_id]
    assert eks.list_updates(name="prod")["updateIds"] == []
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        eks.describe_update(name="prod", updateId=update_id)  # a cluster update: no such id
    with pytest.raises(eks.exceptions.ResourceInUseException) as error:
        eks.update_nodegroup_config(
            clusterName="prod", nodegroupName="ng-a", labels={"addOrUpdateLabels": {"a": "b"}}
        )
    assert message(error).startswith("Cannot ConfigUpdate because nodegroup ng-a")


def test_amazon_linux_2_node_groups_cannot_reach_1_33(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks, version="1.33")

    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        make_nodegroup(eks, None, amiType="AL2_x86_64")

    assert message(error) == "AMI type AL2_x86_64 is not supported for Kubernetes version 1.33"


def test_health_issues_are_reported_and_degrade_the_group(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    make_nodegroup(eks, clock)
    issue = {"code": "AsgInstanceLaunchFailures", "message": "no capacity", "resourceIds": ["x"]}

    eks_backend(REGION).set_nodegroup_health("prod", "ng-a", [issue])

    nodegroup = eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"]
    assert nodegroup["health"]["issues"] == [issue]
    assert nodegroup["status"] == "DEGRADED"


# --- hooks --------------------------------------------------------------------------------------


class RecordingHooks(NoHooks):
    def __init__(self, take_over_updates: bool = False) -> None:
        self.events: list[tuple[str, Any]] = []
        self.take_over_updates = take_over_updates

    def cluster_version_updating(
        self, cluster: str, version: str, update_id: str, delay: float
    ) -> None:
        self.events.append(("cluster", (cluster, version, delay)))

    def nodegroup_created(self, facts: NodegroupFacts) -> None:
        self.events.append(("created", facts))

    def nodegroup_scaled(self, facts: NodegroupFacts) -> None:
        self.events.append(("scaled", facts))

    def nodegroup_version_updating(self, facts: NodegroupFacts, update_id: str) -> bool:
        self.events.append(("updating", facts))
        return self.take_over_updates

    def nodegroup_deleting(self, facts: NodegroupFacts) -> None:
        self.events.append(("deleting", facts))


def test_hooks_hear_node_group_facts(eks: EKSClient, clock: VirtualClock) -> None:
    hooks = RecordingHooks()
    settings.hooks = hooks
    make_cluster(eks, version="1.30")
    taint = {"key": "dedicated", "value": "web", "effect": "NO_SCHEDULE"}
    make_nodegroup(
        eks,
        clock,
        labels={"role": "web"},
        taints=[taint],
        instanceTypes=["m6i.large"],
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 3},
    )
    eks.update_nodegroup_config(
        clusterName="prod",
        nodegroupName="ng-a",
        scalingConfig={"minSize": 1, "maxSize": 4, "desiredSize": 4},
    )
    eks.delete_nodegroup(clusterName="prod", nodegroupName="ng-a")

    assert [kind for kind, _ in hooks.events] == ["created", "scaled", "deleting"]
    created, scaled, deleting = (facts for _, facts in hooks.events)
    assert created == NodegroupFacts(
        cluster="prod",
        name="ng-a",
        version="1.30",
        release_version=moto_eks_catalog.release_version("1.30", "AL2023_x86_64_STANDARD") or "",
        ami_type="AL2023_x86_64_STANDARD",
        capacity_type="ON_DEMAND",
        instance_types=("m6i.large",),
        desired_size=3,
        min_size=1,
        max_size=4,
        labels={"role": "web"},
        taints=(taint,),
        max_unavailable=1,
        max_unavailable_percentage=None,
        delay=settings.nodegroup_create_seconds,
    )
    assert (scaled.desired_size, scaled.delay) == (4, settings.node_join_seconds)
    assert deleting.delay == settings.nodegroup_delete_seconds


def test_hooks_hear_control_plane_updates(eks: EKSClient, clock: VirtualClock) -> None:
    settings.hooks = hooks = RecordingHooks()
    make_cluster(eks, version="1.29")
    eks.update_cluster_version(name="prod", version="1.30")
    assert hooks.events == [("cluster", ("prod", "1.30", settings.cluster_update_seconds))]


def test_a_hook_can_take_over_and_finish_a_node_group_update(
    eks: EKSClient, clock: VirtualClock
) -> None:
    settings.hooks = hooks = RecordingHooks(take_over_updates=True)
    make_cluster(eks, version="1.29")
    make_nodegroup(eks, clock, version="1.28")
    update_id = eks.update_nodegroup_version(
        clusterName="prod", nodegroupName="ng-a", version="1.29"
    )["update"]["id"]
    kind, facts = hooks.events[-1]
    assert (kind, facts.version, facts.release_version) == (
        "updating",
        "1.29",
        moto_eks_catalog.release_version("1.29", "AL2_x86_64"),
    )

    clock.sleep(10 * settings.nodegroup_update_seconds)
    described = eks.describe_update(name="prod", updateId=update_id, nodegroupName="ng-a")
    assert described["update"]["status"] == "InProgress"  # the hook owns it: no time-out

    eks_backend(REGION).finish_update("prod", update_id, moto_eks.SUCCESSFUL)
    described = eks.describe_update(name="prod", updateId=update_id, nodegroupName="ng-a")
    assert described["update"]["status"] == "Successful"
    nodegroup = eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"]
    assert (nodegroup["status"], nodegroup["version"]) == ("ACTIVE", "1.29")


def test_a_failed_node_group_update_keeps_the_old_version(
    eks: EKSClient, clock: VirtualClock
) -> None:
    settings.hooks = RecordingHooks(take_over_updates=True)
    make_cluster(eks, version="1.29")
    make_nodegroup(eks, clock, version="1.28")
    update_id = eks.update_nodegroup_version(
        clusterName="prod", nodegroupName="ng-a", version="1.29"
    )["update"]["id"]
    error = {
        "errorCode": "PodEvictionFailure",
        "errorMessage": "Reached max retries while trying to evict pods from nodes",
        "resourceIds": ["ip-10-0-1-1.ec2.internal"],
    }

    eks_backend(REGION).finish_update("prod", update_id, moto_eks.FAILED, [error])

    update = eks.describe_update(name="prod", updateId=update_id, nodegroupName="ng-a")["update"]
    assert (update["status"], update["errors"]) == ("Failed", [error])
    nodegroup = eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"]
    assert (nodegroup["status"], nodegroup["version"]) == ("ACTIVE", "1.28")


# --- add-ons ------------------------------------------------------------------------------------


def test_the_catalogue_has_one_default_per_add_on_and_cluster_version(
    eks: EKSClient, clock: VirtualClock
) -> None:
    names = {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"}
    for version in moto_eks_catalog.supported_versions():
        addons = eks.describe_addon_versions(kubernetesVersion=version)["addons"]
        expected = names - {"eks-pod-identity-agent"} if version == "1.23" else names
        assert {a["addonName"] for a in addons} == expected, version
        for addon in addons:
            defaults = [
                v["addonVersion"]
                for v in addon["addonVersions"]
                for c in v["compatibilities"]
                if c["clusterVersion"] == version and c["defaultVersion"]
            ]
            assert len(defaults) == 1, (version, addon["addonName"])
            assert re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", defaults[0])


def test_add_on_versions_for_one_cluster_version(eks: EKSClient, clock: VirtualClock) -> None:
    addons = eks.describe_addon_versions(kubernetesVersion="1.29", addonName="kube-proxy")["addons"]

    assert [a["addonName"] for a in addons] == ["kube-proxy"]
    versions = addons[0]["addonVersions"]
    assert [v["addonVersion"] for v in versions] == [
        "v1.29.15-eksbuild.16",
        "v1.29.11-eksbuild.2",
        "v1.29.0-eksbuild.1",
    ]
    assert versions[2]["compatibilities"] == [
        {"clusterVersion": "1.29", "platformVersions": ["*"], "defaultVersion": True}
    ]


def test_add_on_create_and_update_progress_over_time(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks, version="1.29")

    created = eks.create_addon(clusterName="prod", addonName="coredns")["addon"]
    assert (created["status"], created["addonVersion"]) == ("CREATING", "v1.11.1-eksbuild.9")
    assert eks.list_addons(clusterName="prod")["addons"] == ["coredns"]
    clock.sleep(settings.addon_create_seconds)
    assert eks.describe_addon(clusterName="prod", addonName="coredns")["addon"]["status"] == (
        "ACTIVE"
    )

    update = eks.update_addon(
        clusterName="prod",
        addonName="coredns",
        addonVersion="v1.11.4-eksbuild.2",
        resolveConflicts="PRESERVE",
    )["update"]
    assert (update["type"], update["status"]) == ("AddonUpdate", "InProgress")
    addon = eks.describe_addon(clusterName="prod", addonName="coredns")["addon"]
    assert (addon["status"], addon["addonVersion"]) == ("UPDATING", "v1.11.1-eksbuild.9")

    clock.sleep(settings.addon_update_seconds)
    described = eks.describe_update(name="prod", updateId=update["id"], addonName="coredns")
    assert described["update"]["status"] == "Successful"
    assert eks.list_updates(name="prod", addonName="coredns")["updateIds"] == [update["id"]]
    addon = eks.describe_addon(clusterName="prod", addonName="coredns")["addon"]
    assert (addon["status"], addon["addonVersion"]) == ("ACTIVE", "v1.11.4-eksbuild.2")


def test_an_add_on_version_not_built_for_the_cluster_is_refused(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks, version="1.29")
    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.create_addon(
            clusterName="prod", addonName="kube-proxy", addonVersion="v1.30.0-eksbuild.3"
        )
    assert message(error) == "Addon version specified is not supported"

    eks.create_addon(clusterName="prod", addonName="kube-proxy")
    clock.sleep(settings.addon_create_seconds)
    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.update_addon(
            clusterName="prod", addonName="kube-proxy", addonVersion="v1.30.0-eksbuild.3"
        )
    assert message(error) == "Addon version specified is not supported"


def test_an_unknown_add_on_is_refused(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks, version="1.23")
    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.create_addon(clusterName="prod", addonName="eks-pod-identity-agent")
    assert message(error) == (
        "Addon eks-pod-identity-agent specified is not supported in 1.23 kubernetes version"
    )
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        eks.describe_addon(clusterName="prod", addonName="vpc-cni")


def test_a_deleted_add_on_reads_deleting_until_it_is_gone(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    eks.create_addon(clusterName="prod", addonName="vpc-cni")
    clock.sleep(settings.addon_create_seconds)

    assert eks.delete_addon(clusterName="prod", addonName="vpc-cni")["addon"]["status"] == (
        "DELETING"
    )
    clock.sleep(settings.addon_delete_seconds)
    assert eks.list_addons(clusterName="prod")["addons"] == []


# --- insights -----------------------------------------------------------------------------------


def test_stored_insights_are_listed_and_described(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks, version="1.29")
    backend = eks_backend(REGION)
    skew = backend.add_insight(
        "prod",
        "Kubelet version skew",
        "WARNING",
        reason="Node kubelet versions do not match the control plane",
        description="Checks the kubelet version skew.",
        recommendation="Upgrade your nodes to match the control plane.",
    )
    backend.add_insight("prod", "Deprecated APIs removed in Kubernetes v1.30", "PASSING")

    listed = eks.list_insights(clusterName="prod")["insights"]
    assert len(listed) == 2
    first = listed[0]
    assert first["id"] == skew
    assert first["name"] == "Kubelet version skew"
    assert first["category"] == "UPGRADE_READINESS"
    assert first["kubernetesVersion"] == "1.30"
    assert first["insightStatus"] == {
        "status": "WARNING",
        "reason": "Node kubelet versions do not match the control plane",
    }
    assert first["lastRefreshTime"].timestamp() == clock.now()
    assert first["lastTransitionTime"].timestamp() == clock.now()
    warnings = eks.list_insights(clusterName="prod", filter={"statuses": ["WARNING"]})
    assert [i["id"] for i in warnings["insights"]] == [skew]
    insight = eks.describe_insight(clusterName="prod", id=skew)["insight"]
    assert insight["recommendation"] == "Upgrade your nodes to match the control plane."


# --- property -----------------------------------------------------------------------------------

_versions = st.sampled_from([f"1.{m}" for m in range(22, 38)])
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("update"), _versions),
        st.tuples(st.just("sleep"), st.floats(min_value=0, max_value=1200)),
    ),
    max_size=25,
)


@given(steps=_steps)
@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_control_plane_moves_up_one_minor_or_back_the_last_one(
    steps: list[tuple[str, Any]],
) -> None:
    moto_eks.install()
    clock = VirtualClock()
    settings.clock = clock
    try:
        with mock_aws():
            backend = eks_backend(REGION)
            backend.create_cluster("prod", ROLE, {"subnetIds": SUBNETS}, version="1.24")
            backend.created_before_start("prod")
            seen = [backend.describe_cluster("prod").version]
            for action, argument in steps:
                if action == "sleep":
                    clock.sleep(argument)
                else:
                    before = backend.describe_cluster("prod")
                    idle = before.status == "ACTIVE"
                    try:
                        backend.update_cluster_version("prod", argument)
                        accepted = True
                    except (
                        InvalidParameterException,
                        InvalidRequestException,
                        ResourceInUseException,
                    ):
                        accepted = False
                    step = moto_eks_catalog.minor(argument) - moto_eks_catalog.minor(before.version)
                    # Back to where the last change came from undoes an upgrade (a rollback
                    # lands below where it came from). Sleeps are short: the 7-day window
                    # never closes here.
                    undoes_an_upgrade = step == -1 and len(seen) > 1 and seen[-2] == argument
                    expected = idle and (step == 1 or undoes_an_upgrade) and argument in SUPPORTED
                    assert accepted == expected
                version = backend.describe_cluster("prod").version
                if version != seen[-1]:
                    moved = moto_eks_catalog.minor(version) - moto_eks_catalog.minor(seen[-1])
                    assert moved in (-1, 1)
                    seen.append(version)
    finally:
        settings.reset()
