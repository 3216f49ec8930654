"""The sandbox's EKS version rollback through boto3: which UpdateClusterVersion to N-1 it takes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.eks import extension as moto_eks
from upgrader.sandbox.eks.extension import eks_backend, settings
from upgrader.sandbox.eks.rollback import ROLLBACK_WINDOW_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_eks import EKSClient

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/eks"
SUBNETS = ["subnet-0a", "subnet-0b"]


@pytest.fixture(scope="module")
def eks() -> EKSClient:
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


def make_cluster(eks: EKSClient, version: str = "1.29") -> None:
    eks.create_cluster(
        name="prod", version=version, roleArn=ROLE, resourcesVpcConfig={"subnetIds": SUBNETS}
    )
    eks_backend(REGION).created_before_start("prod")  # a cluster that already runs


def update(eks: EKSClient, clock: VirtualClock, version: str, **extra: Any) -> Any:
    """UpdateClusterVersion, waited on to its end."""
    started = eks.update_cluster_version(name="prod", version=version, **extra)["update"]
    clock.sleep(settings.cluster_update_seconds)
    return eks.describe_update(name="prod", updateId=started["id"])["update"]


def message(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Message"])


def version(eks: EKSClient) -> str:
    return eks.describe_cluster(name="prod")["cluster"]["version"]


def test_one_minor_back_after_an_upgrade_is_a_version_rollback(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    before = eks.describe_cluster(name="prod")["cluster"]["platformVersion"]
    update(eks, clock, "1.30")

    rollback = update(eks, clock, "1.29")

    assert rollback["type"] == "VersionRollback"
    assert rollback["status"] == "Successful"
    assert {"type": "Version", "value": "1.29"} in rollback["params"]
    cluster = eks.describe_cluster(name="prod")["cluster"]
    assert (cluster["version"], cluster["platformVersion"]) == ("1.29", before)


def test_the_window_is_seven_days_from_the_end_of_the_upgrade(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    update(eks, clock, "1.30")  # ended exactly now
    clock.sleep(ROLLBACK_WINDOW_SECONDS + 1)

    with pytest.raises(eks.exceptions.InvalidRequestException) as error:
        eks.update_cluster_version(name="prod", version="1.29")

    assert message(error) == (
        "Cluster prod cannot be rolled back from 1.30 to 1.29: the 7-day rollback window after "
        "the upgrade to 1.30 closed at 2026-01-08T00:09:00Z"
    )
    assert version(eks) == "1.30"


def test_just_inside_the_window_is_accepted(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks)
    update(eks, clock, "1.30")
    clock.sleep(ROLLBACK_WINDOW_SECONDS)

    assert update(eks, clock, "1.29")["status"] == "Successful"


@pytest.mark.parametrize(
    ("history", "target", "expected"),
    [
        ([], "1.28", "it was created at 1.29 and has not been upgraded in place"),
        (["1.30", "1.29"], "1.28", "1.29 is the result of a rollback; only an upgrade"),
    ],
    ids=["created-at-current", "rollback-of-a-rollback"],
)
def test_rollbacks_eks_refuses_even_with_force(
    eks: EKSClient, clock: VirtualClock, history: list[str], target: str, expected: str
) -> None:
    make_cluster(eks)
    for step in history:
        update(eks, clock, step)
    updates = eks.list_updates(name="prod")["updateIds"]

    with pytest.raises(eks.exceptions.InvalidRequestException) as error:
        eks.update_cluster_version(name="prod", version=target, force=True)

    assert expected in message(error)
    assert eks.list_updates(name="prod")["updateIds"] == updates


def test_two_minors_back_is_an_invalid_parameter(eks: EKSClient, clock: VirtualClock) -> None:
    make_cluster(eks)
    update(eks, clock, "1.30")

    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.update_cluster_version(name="prod", version="1.28")

    assert message(error) == "Unsupported Kubernetes minor version update from 1.30 to 1.28"


def test_upgraded_again_after_a_rollback_can_be_rolled_back_again(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    for step in ("1.30", "1.29", "1.30"):
        update(eks, clock, step)

    assert update(eks, clock, "1.29")["type"] == "VersionRollback"


def test_only_the_end_of_extended_support_auto_upgrade_is_final(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    backend = eks_backend(REGION)
    backend.auto_upgrade("prod", support_ended="standard")
    clock.sleep(settings.cluster_update_seconds)
    assert update(eks, clock, "1.29")["status"] == "Successful"

    backend.auto_upgrade("prod", support_ended="extended")
    clock.sleep(settings.cluster_update_seconds)
    with pytest.raises(eks.exceptions.InvalidRequestException) as error:
        eks.update_cluster_version(name="prod", version="1.29", force=True)
    assert "upgraded it automatically at the end of extended support for 1.29" in message(error)


def test_an_error_readiness_insight_blocks_unless_forced(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    update(eks, clock, "1.30")
    backend = eks_backend(REGION)
    backend.add_insight("prod", "Cluster health issues", "WARNING", category="ROLLBACK_READINESS")
    backend.add_insight(
        "prod", "Kubernetes feature gates", "ERROR", reason="gate X", category="ROLLBACK_READINESS"
    )
    # An upgrade insight about the next minor has nothing to say about a rollback.
    backend.add_insight("prod", "Deprecated APIs removed in Kubernetes v1.31", "ERROR")

    # What force lifts is a readiness refusal: InvalidStateException (botocore's EKS model).
    with pytest.raises(eks.exceptions.InvalidStateException) as error:
        eks.update_cluster_version(name="prod", version="1.29")
    assert message(error) == (
        "Rollback readiness checks failed for cluster prod: Kubernetes feature gates: gate X. "
        "Resolve them or set force to override."
    )
    listed = eks.list_insights(clusterName="prod", filter={"categories": ["ROLLBACK_READINESS"]})
    assert {i["kubernetesVersion"] for i in listed["insights"]} == {"1.29"}

    assert update(eks, clock, "1.29", force=True)["status"] == "Successful"


def test_node_groups_go_back_first_while_the_rollback_is_open(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    request = {"clusterName": "prod", "nodegroupName": "ng-a", "nodeRole": ROLE}
    eks.create_nodegroup(**request, subnets=SUBNETS)
    clock.sleep(settings.nodegroup_create_seconds)
    update(eks, clock, "1.30")
    eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a", version="1.30")
    clock.sleep(settings.nodegroup_update_seconds)

    # A kubelet newer than the API server it would talk to: EKS's skew check says no.
    with pytest.raises(eks.exceptions.InvalidStateException) as error:
        eks.update_cluster_version(name="prod", version="1.29")
    assert "Kubelet version skew: nodegroups ng-a (1.30) are newer than 1.29" in message(error)

    back = eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a", version="1.29")
    clock.sleep(settings.nodegroup_update_seconds)
    assert {"type": "Version", "value": "1.29"} in back["update"]["params"]
    assert eks.describe_nodegroup(clusterName="prod", nodegroupName="ng-a")["nodegroup"][
        "version"
    ] == ("1.29")
    assert update(eks, clock, "1.29")["status"] == "Successful"


def test_a_node_group_cannot_go_back_once_the_window_closed(
    eks: EKSClient, clock: VirtualClock
) -> None:
    make_cluster(eks)
    eks.create_nodegroup(clusterName="prod", nodegroupName="ng-a", nodeRole=ROLE, subnets=SUBNETS)
    clock.sleep(settings.nodegroup_create_seconds)
    update(eks, clock, "1.30")
    eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a", version="1.30")
    clock.sleep(settings.nodegroup_update_seconds + ROLLBACK_WINDOW_SECONDS)

    with pytest.raises(eks.exceptions.InvalidParameterException) as error:
        eks.update_nodegroup_version(clusterName="prod", nodegroupName="ng-a", version="1.29")

    assert "Requested Nodegroup version 1.29 is invalid" in message(error)
