"""eksup on the answers real EKS gives, now that the sandbox's EKS gives them too.

Each rule comes from the EKS API reference as botocore's EKS model carries it (cited per test):
readiness refusals (InvalidStateException), pages (maxResults/nextToken), one cluster update at
a time (ResourceInUseException), `upgradePolicy.supportType`, `resolveConflicts` values and the
update parameter types clients parse.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from tests.execute.worlds import CLUSTER, Runner, build_world, control_plane, hand_plan
from upgrader.core.errors import RefusedError
from upgrader.execute.engine import RunStatus
from upgrader.execute.reporter import PlainReporter
from upgrader.sandbox.eks import rules as moto_eks_rules
from upgrader.sandbox.eks.extension import eks_backend, settings
from upgrader.sandbox.eks.models import Update, now
from upgrader.sandbox.world import SANDBOX_ACCOUNT, Sandbox
from upgrader.usecases.rollback import RollbackOptions, run_rollback

SUBNETS = ["subnet-0a", "subnet-0b"]
EKS_MODEL = botocore.session.get_session().get_service_model("eks")


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        build_world(sandbox, "1.28", general=1, batch=0, autoscaler=False)
        yield sandbox


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_an_error_upgrade_insight_refuses_the_control_plane_step(
    world: Sandbox, tmp_path: Path
) -> None:
    """UpdateClusterVersion: InvalidStateException "Amazon EKS detected upgrade readiness
    issues ... Pass the force flag when updating to override" (botocore EKS model). An insight
    that turned ERROR after the plan was made: eksup refuses, naming it, and changes nothing."""
    name = "Deprecated APIs removed in Kubernetes v1.29"
    eks_backend(world.region).add_insight(CLUSTER, name, "ERROR", kubernetes_version="1.29")
    runner = Runner(world, tmp_path)
    result = runner.run(hand_plan([control_plane("1.29", "1.28")], "1.28", "1.29"))
    # FAILED, not REFUSED: the call was journaled before EKS answered (resumable).
    assert result.status is RunStatus.FAILED, runner.out.getvalue()
    assert f"upgrade readiness insights in ERROR: {name}" in (result.error or "")
    assert "--resume" in (result.error or "")
    assert world.aws.describe_cluster(CLUSTER).version == "1.28"
    assert world.aws.list_updates(CLUSTER) == []


def test_the_fake_refuses_an_error_insight_unless_forced(world: Sandbox) -> None:
    world.create_cluster("solo", "1.29", SUBNETS)  # no node group to hold it back
    eks = world.boto3_client("eks")
    backend = eks_backend(world.region)
    backend.add_insight("solo", "Kubelet version skew", "WARNING", kubernetes_version="1.30")
    backend.add_insight("solo", "Cluster health issues", "ERROR", kubernetes_version="1.31")
    eks.update_cluster_version(name="solo", version="1.30")  # WARNING, or another version's
    world.clock.sleep(settings.cluster_update_seconds)
    with pytest.raises(ClientError) as refused:
        eks.update_cluster_version(name="solo", version="1.31")
    assert _code(refused) == "InvalidStateException"
    assert refused.value.response["clusterName"] == "solo"
    eks.update_cluster_version(name="solo", version="1.31", force=True)


def test_paginators_read_every_page(world: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """ListUpdates / ListInsights / DescribeAddonVersions: maxResults 1-100, 100 by default,
    nextToken for the rest (EKS API reference via botocore)."""
    backend = eks_backend(world.region)
    for index in range(150):
        backend.add_insight(CLUSTER, f"check {index}", "PASSING")
    cluster = backend.clusters[CLUSTER]
    for _ in range(120):
        update = Update(type="ConfigUpdate", params=[], created=now(), completes=now())
        cluster.updates[update.id] = update
    eks = world.boto3_client("eks")
    first = eks.list_insights(clusterName=CLUSTER)
    assert len(first["insights"]) == 100
    assert "nextToken" in first
    assert len(world.aws.list_insights(CLUSTER)) == 150  # eksup's paginator, two pages
    assert len(world.aws.list_updates(CLUSTER)) == 120

    whole = world.aws.describe_addon_versions("vpc-cni", "1.28")
    monkeypatch.setattr(moto_eks_rules, "DEFAULT_MAX_RESULTS", 1)
    assert len(eks.describe_addon_versions(kubernetesVersion="1.28")["addons"]) == 1
    assert world.aws.describe_addon_versions("vpc-cni", "1.28") == whole
    with pytest.raises(ClientError) as bad:
        eks.list_updates(name=CLUSTER, maxResults=101)
    assert _code(bad) == "InvalidParameterException"
    with pytest.raises(ClientError) as bad:
        eks.list_updates(name=CLUSTER, nextToken="not-a-token")
    assert _code(bad) == "InvalidParameterException"


def test_no_other_cluster_update_during_a_version_update(world: Sandbox) -> None:
    """One cluster update at a time: ResourceInUseException; UpdateClusterConfig answers an
    update, not the cluster (EKS API reference, UpdateClusterConfig)."""
    eks = world.boto3_client("eks")
    eks.update_cluster_version(name=CLUSTER, version="1.29")
    with pytest.raises(ClientError) as busy:
        eks.update_cluster_config(name=CLUSTER, upgradePolicy={"supportType": "STANDARD"})
    assert _code(busy) == "ResourceInUseException"
    world.clock.sleep(settings.cluster_update_seconds)
    update = eks.update_cluster_config(name=CLUSTER, upgradePolicy={"supportType": "STANDARD"})
    assert update["update"]["type"] == "UpgradePolicyUpdate"
    assert eks.describe_cluster(name=CLUSTER)["cluster"]["upgradePolicy"] == {
        "supportType": "STANDARD"
    }


def test_a_standard_policy_cluster_is_refused_a_rollback_into_extended_support() -> None:
    """upgradePolicy.supportType as EKS returns it (EXTENDED unless created otherwise): eksup's
    STANDARD branch runs on the fake's own answer, then the remedy it prints works."""
    with Sandbox() as world:
        world.boto3_client("eks").create_cluster(
            name="prod",
            version="1.29",
            roleArn=f"arn:aws:iam::{SANDBOX_ACCOUNT}:role/eks-cluster",
            resourcesVpcConfig={"subnetIds": SUBNETS},
            upgradePolicy={"supportType": "STANDARD"},
        )
        world.existing_cluster("prod")
        assert world.aws.describe_cluster("prod").support_type == "STANDARD"
        world.aws.update_cluster_version("prod", "1.30")
        world.clock.sleep(settings.cluster_update_seconds)

        def roll_back() -> Any:
            return run_rollback(
                world.aws,
                world.kube("prod"),
                world.clock,
                "prod",
                RollbackOptions(yes=True),
                reporter=PlainReporter(io.StringIO(), world.clock),
                confirm=lambda _: False,
            )

        with pytest.raises(RefusedError) as refused:
            roll_back()  # 1.29 is in extended support in January 2026
        assert "upgrade policy is STANDARD" in str(refused.value)
        world.boto3_client("eks").update_cluster_config(
            name="prod", upgradePolicy={"supportType": "EXTENDED"}
        )
        roll_back()
        assert world.aws.describe_cluster("prod").version == "1.29"


class InsightAtTheLastMoment:
    """The rollback readiness insight EKS computes turns ERROR after eksup's own assessment."""

    def __init__(self, world: Sandbox) -> None:
        self.world = world

    def __getattr__(self, name: str) -> Any:
        return getattr(self.world.aws, name)

    def update_cluster_version(self, cluster: str, version: str, *, force: bool = False) -> Any:
        eks_backend(self.world.region).add_insight(
            cluster, "Kubelet version skew", "ERROR", category="ROLLBACK_READINESS"
        )
        return self.world.aws.update_cluster_version(cluster, version, force=force)


def test_a_rollback_readiness_refusal_is_invalid_state_and_a_refusal() -> None:
    with Sandbox() as world:
        world.create_cluster("prod", "1.29", SUBNETS)
        world.aws.update_cluster_version("prod", "1.30")
        world.clock.sleep(settings.cluster_update_seconds)
        eks = world.boto3_client("eks")
        backend = eks_backend(world.region)
        skew = backend.add_insight("prod", "Kubelet skew", "ERROR", category="ROLLBACK_READINESS")
        with pytest.raises(ClientError) as refused:
            eks.update_cluster_version(name="prod", version="1.29")
        assert _code(refused) == "InvalidStateException"  # force lifts it: readiness
        backend.set_insight_status("prod", skew, "PASSING")

        with pytest.raises(RefusedError) as eksup_refused:
            run_rollback(
                InsightAtTheLastMoment(world),  # type: ignore[arg-type]
                world.kube("prod"),
                world.clock,
                "prod",
                RollbackOptions(yes=True),
                reporter=PlainReporter(io.StringIO(), world.clock),
                confirm=lambda _: False,
            )
        assert "EKS refused the rollback, nothing was changed" in str(eksup_refused.value)
        assert world.aws.describe_cluster("prod").version == "1.30"


def test_resolve_conflicts_is_validated(world: Sandbox) -> None:
    eks = world.boto3_client("eks")
    assert EKS_MODEL.shape_for("ResolveConflicts").enum == ["OVERWRITE", "NONE", "PRESERVE"]
    with pytest.raises(ClientError) as bad:
        eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", resolveConflicts="MERGE")
    assert _code(bad) == "InvalidParameterException"
    assert "resolveConflicts" in str(bad.value)
    eks.update_addon(clusterName=CLUSTER, addonName="vpc-cni", resolveConflicts="PRESERVE")


def test_a_forced_node_group_update_carries_only_param_types_botocore_knows(
    world: Sandbox,
) -> None:
    world.aws.update_cluster_version(CLUSTER, "1.29")
    world.clock.sleep(settings.cluster_update_seconds)
    update = world.aws.update_nodegroup_version(CLUSTER, "general", version="1.29", force=True)
    known = set(EKS_MODEL.shape_for("UpdateParamType").enum)
    assert set(update.params) <= known
    assert update.params["Version"] == "1.29"
