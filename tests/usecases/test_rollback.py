"""`upgrader.usecases.rollback` on the sandbox: an upgrade, then a rollback, all in virtual time."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, cast

import pytest

from upgrader.core.aws import EksCluster
from upgrader.core.errors import RefusedError
from upgrader.core.kube import Node
from upgrader.core.ports import ControlPlane
from upgrader.execute.reporter import PlainReporter
from upgrader.sandbox.eks.extension import eks_backend, settings
from upgrader.sandbox.world import Sandbox
from upgrader.usecases.rollback import RollbackOptions, RollbackResult, run_rollback

CLUSTER = "prod"
SUBNETS = ["subnet-0a", "subnet-0b"]
DAY = 24 * 3600.0


@pytest.fixture
def world() -> Iterator[Sandbox]:
    """A 1.29 cluster with one two-node managed node group."""
    with Sandbox() as sandbox:
        sandbox.create_cluster(CLUSTER, "1.29", SUBNETS)
        sandbox.create_nodegroup(
            CLUSTER, "ng-a", instance_type_name="m5.large", size=2, subnets=SUBNETS
        )
        sandbox.settle()
        yield sandbox


def upgrade_control_plane(world: Sandbox, version: str = "1.30") -> None:
    world.aws.update_cluster_version(CLUSTER, version)
    world.clock.sleep(settings.cluster_update_seconds)


def upgrade_nodegroup(world: Sandbox, version: str = "1.30") -> None:
    update = world.aws.update_nodegroup_version(CLUSTER, "ng-a", version=version)
    while world.aws.describe_update(CLUSTER, update.id, nodegroup="ng-a").status.value != (
        "Successful"
    ):
        world.clock.sleep(60)


def roll_back(
    world: Sandbox, log: io.StringIO | None = None, confirm: bool = False, **options: object
) -> RollbackResult:
    return run_rollback(
        world.aws,
        world.kube(CLUSTER),
        world.clock,
        CLUSTER,
        RollbackOptions(**options),  # type: ignore[arg-type]
        reporter=PlainReporter(log or io.StringIO(), world.clock),
        confirm=lambda _: confirm,
    )


def kubelet_minors(world: Sandbox) -> set[str]:
    return {node.minor_version for node in world.kube(CLUSTER).list_nodes()}


def test_within_seven_days_the_control_plane_goes_back_one_minor(world: Sandbox) -> None:
    upgrade_control_plane(world)
    world.clock.sleep(6 * DAY)
    log = io.StringIO()

    result = roll_back(world, log, yes=True)

    cluster = world.aws.describe_cluster(CLUSTER)
    assert (cluster.version, cluster.status) == ("1.29", "ACTIVE")
    update = world.aws.describe_update(CLUSTER, result.update_id)
    assert (update.type, update.params["Version"]) == ("VersionRollback", "1.29")
    assert world.kube(CLUSTER).server_version().startswith("v1.29.")
    # Logged before it ran, then waited on in virtual time.
    text = log.getvalue()
    assert "-> eks:UpdateClusterVersion cluster=prod version=1.29 (rollback)" in text
    assert text.index("-> eks:UpdateClusterVersion") < text.index("waiting")
    assert "rolled back to 1.29" in result.summary()


def test_after_seven_days_it_is_refused_with_the_reason(world: Sandbox) -> None:
    upgrade_control_plane(world)
    world.clock.sleep(8 * DAY)
    updates = world.aws.list_updates(CLUSTER)

    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True)

    assert "within 7 days of an upgrade" in str(refused.value)
    assert "window closed around 2026-01-08" in str(refused.value)
    assert world.aws.list_updates(CLUSTER) == updates
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"


def test_a_cluster_created_at_its_version_is_refused(world: Sandbox) -> None:
    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True)

    assert "prod was created at 1.29" in str(refused.value)
    assert world.aws.list_updates(CLUSTER) == []


def test_two_minors_back_is_refused(world: Sandbox) -> None:
    upgrade_control_plane(world)

    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True, to="1.28")

    assert str(refused.value) == (
        "EKS rolls back one minor version only: prod can go from 1.30 to 1.29, not to 1.28"
    )
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"


def test_a_rollback_is_not_rolled_back_again(world: Sandbox) -> None:
    upgrade_control_plane(world)
    roll_back(world, yes=True)

    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True)

    assert "reached 1.29 by a rollback" in str(refused.value)


def test_dry_run_changes_nothing_and_says_what_it_would_call(world: Sandbox) -> None:
    upgrade_control_plane(world)
    upgrade_nodegroup(world)
    updates = world.aws.list_updates(CLUSTER)
    log = io.StringIO()

    result = roll_back(world, log, dry_run=True, nodegroups=True)

    assert result.dry_run
    assert "would roll back prod from 1.30 to 1.29; nothing changed" in result.summary()
    assert "would call eks:UpdateNodegroupVersion cluster=prod nodegroup=ng-a version=1.29" in (
        log.getvalue()
    )
    assert "would call eks:UpdateClusterVersion cluster=prod version=1.29" in log.getvalue()
    assert world.aws.list_updates(CLUSTER) == updates
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"
    assert world.aws.describe_nodegroup(CLUSTER, "ng-a").version == "1.30"


def test_not_confirmed_changes_nothing(world: Sandbox) -> None:
    upgrade_control_plane(world)

    with pytest.raises(RefusedError, match="not confirmed; nothing was changed"):
        roll_back(world, confirm=False)

    assert world.aws.describe_cluster(CLUSTER).version == "1.30"


def test_an_error_readiness_insight_refuses_unless_forced(world: Sandbox) -> None:
    upgrade_control_plane(world)
    eks_backend(world.region).add_insight(
        CLUSTER,
        "Deprecated APIs removed in Kubernetes v1.30",
        "ERROR",
        category="ROLLBACK_READINESS",
        recommendation="Stop using flowcontrol v1 before rolling back.",
    )

    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True)
    assert "insight 'Deprecated APIs removed in Kubernetes v1.30' is ERROR" in str(refused.value)
    assert "Stop using flowcontrol v1" in str(refused.value)
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"

    log = io.StringIO()
    roll_back(world, log, yes=True, force=True)
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"
    assert "--force: overriding ERROR insight" in log.getvalue()


def test_node_groups_ahead_block_unless_rolled_back_first(world: Sandbox) -> None:
    upgrade_control_plane(world)
    upgrade_nodegroup(world)
    assert kubelet_minors(world) == {"1.30"}

    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True)
    assert "node groups newer than 1.29 must be rolled back first: ng-a (1.30)" in str(
        refused.value
    )
    assert "--nodegroups" in str(refused.value)

    log = io.StringIO()
    result = roll_back(world, log, yes=True, nodegroups=True)

    assert result.nodegroups_rolled_back == ["ng-a"]
    assert world.aws.describe_nodegroup(CLUSTER, "ng-a").version == "1.29"
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"
    assert kubelet_minors(world) == {"1.29"}
    text = log.getvalue()
    assert text.index("UpdateNodegroupVersion") < text.index("UpdateClusterVersion")


def test_forced_with_node_groups_ahead_says_how_to_roll_them_back(world: Sandbox) -> None:
    upgrade_control_plane(world)
    upgrade_nodegroup(world)

    result = roll_back(world, yes=True, force=True, region="us-east-1")

    assert world.aws.describe_cluster(CLUSTER).version == "1.29"
    assert (
        "aws eks update-nodegroup-version --cluster-name prod --nodegroup-name ng-a "
        "--kubernetes-version 1.29 --region us-east-1"
    ) in result.summary()


def test_add_ons_not_built_for_the_older_version_are_listed(world: Sandbox) -> None:
    upgrade_control_plane(world)
    world.install_addons(CLUSTER, "1.30", ["kube-proxy", "vpc-cni"])
    world.clock.sleep(settings.addon_create_seconds)
    proxy = world.aws.describe_addon(CLUSTER, "kube-proxy").version
    default = next(
        v.version
        for v in world.aws.describe_addon_versions("1.29", "kube-proxy")
        if v.default_for("1.29")
    )

    result = roll_back(world, yes=True)

    summary = result.summary()
    assert f"add-on kube-proxy {proxy} does not support 1.29" in summary
    assert f"--addon-name kube-proxy --addon-version {default}" in summary
    assert "vpc-cni" not in summary  # its build supports both versions
    assert world.aws.describe_addon(CLUSTER, "kube-proxy").version == proxy  # untouched


def test_what_eks_itself_refuses_is_a_refusal(world: Sandbox) -> None:
    # The update history cannot tell an automatic upgrade at the end of extended support from
    # one a person made; EKS can, and refuses.
    eks_backend(world.region).auto_upgrade(CLUSTER, support_ended="extended")
    world.clock.sleep(settings.cluster_update_seconds)

    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True)

    assert "EKS refused the rollback, nothing was changed" in str(refused.value)
    assert "end of extended support" in str(refused.value)
    assert world.aws.describe_cluster(CLUSTER).version == "1.30"


def test_a_rollback_already_running_is_followed_not_issued_again(world: Sandbox) -> None:
    upgrade_control_plane(world)
    started = world.aws.update_cluster_version(CLUSTER, "1.29")  # a run that died waiting
    log = io.StringIO()

    result = roll_back(world, log, yes=True)

    assert result.update_id == started.id
    assert f"following rollback {started.id}" in log.getvalue()
    assert "-> eks:UpdateClusterVersion" not in log.getvalue()
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"


def test_self_managed_nodes_ahead_block_unless_forced(world: Sandbox) -> None:
    upgrade_control_plane(world)
    world.kube(CLUSTER).add_node(Node(name="worker-1", kubelet_version="v1.30.4-eks-1a2b3c4"))

    with pytest.raises(RefusedError) as refused:
        roll_back(world, yes=True)
    assert "nodes newer than 1.29 that EKS does not roll back: worker-1 (self-managed, 1.30)" in (
        str(refused.value)
    )

    result = roll_back(world, yes=True, force=True)
    assert world.aws.describe_cluster(CLUSTER).version == "1.29"
    assert "node worker-1 (self-managed, 1.30): replace it with one at 1.29" in result.summary()


class StandardPolicy:
    """The cluster as EKS describes it with upgradePolicy STANDARD (moto keeps no policy)."""

    def __init__(self, inner: ControlPlane) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def describe_cluster(self, name: str) -> EksCluster:
        return replace(self.inner.describe_cluster(name), support_type="STANDARD")


def test_back_into_extended_support_needs_the_extended_policy(world: Sandbox) -> None:
    upgrade_control_plane(world)  # 1.29 is in extended support in January 2026
    updates = world.aws.list_updates(CLUSTER)

    with pytest.raises(RefusedError) as refused:
        run_rollback(
            cast(ControlPlane, StandardPolicy(world.aws)),
            world.kube(CLUSTER),
            world.clock,
            CLUSTER,
            RollbackOptions(yes=True),
            reporter=PlainReporter(io.StringIO(), world.clock),
            confirm=lambda _: False,
        )

    assert "1.29 is in extended support and prod's upgrade policy is STANDARD" in str(refused.value)
    assert "--upgrade-policy supportType=EXTENDED" in str(refused.value)
    assert world.aws.list_updates(CLUSTER) == updates

    log = io.StringIO()
    roll_back(world, log, yes=True)  # the sandbox's clusters have EKS's default, EXTENDED
    assert "billed for extended support again" in log.getvalue()


def test_a_version_out_of_support_is_refused() -> None:
    with Sandbox() as world:
        world.create_cluster(CLUSTER, "1.28", SUBNETS)  # past extended support in 2026
        upgrade_control_plane(world, "1.29")

        with pytest.raises(RefusedError, match=r"1\.28 is past the end of EKS support"):
            roll_back(world, yes=True)
