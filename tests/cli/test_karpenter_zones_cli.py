"""`eksup plan --sandbox` on a world where a pod on a Karpenter node uses an EBS volume in a zone
its NodePool no longer allows (issue 11, item 1, volume node affinity for NodePools).

The world (registered for the test under `EKSUP_SANDBOX_WORLD=karpenter-volume-zone`): a
Karpenter NodePool `general` whose EC2NodeClass pins an AMI id, three nodes over three zones, and
a Deployment whose claim is bound to a volume in the first node's zone; the pool's
`topology.kubernetes.io/zone` requirement was then narrowed to the other zones. When drift
replaces that node, Karpenter may launch only in the pool's zones (Karpenter's scheduling.md:
"Persistent Volume Topology", and "if the NodePool sets limits that allow only a particular zone
to be used, and a pod asks for a different zone, it will not be scheduled"), and the scheduler's
VolumeBinding filter refuses every node outside the volume's zone (kubernetes
pkg/scheduler/framework/plugins/volumebinding/binder.go, `checkBoundClaims`): the plan must be
NOT READY and name the workload, the volume, its zone and what the NodePool allows. With the
zone allowed again the same world plans without that finding. A third world leaves the pool
without a zone requirement and narrows its EC2NodeClass's subnets instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.kube import (
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    LabelSelector,
    NodeAffinity,
    NodeClass,
    NodePool,
    PersistentVolume,
    PodSpec,
    PodTemplate,
    Resources,
    SelectorRequirement,
    Volume,
    Workload,
    WorkloadKind,
)
from upgrader.sandbox import mixed_world
from upgrader.sandbox.cluster.karpenter import install_karpenter, public_image_minors
from upgrader.sandbox.demo_world import DEMO_CLUSTER, DEMO_VERSION
from upgrader.sandbox.world import Sandbox
from upgrader.versions import default_catalog

MIB = 2**20
NEXT = f"1.{int(DEMO_VERSION.split('.')[1]) + 1}"
ZONE = "topology.kubernetes.io/zone"


def _world(*, narrowed: bool, subnets: bool = False) -> Callable[[Sandbox], None]:
    def build(world: Sandbox) -> None:
        world.create_cluster(DEMO_CLUSTER, DEMO_VERSION, world.create_network())
        world.install_addons(DEMO_CLUSTER, DEMO_VERSION, ("vpc-cni", "coredns", "kube-proxy"))
        kube = world.kube(DEMO_CLUSTER)
        catalog = default_catalog()
        parameters = {
            v: catalog.ami_parameter(v, "AL2023_x86_64_STANDARD") for v in (DEMO_VERSION, NEXT)
        }
        minors = public_image_minors(world.aws, {v: p for v, p in parameters.items() if p})
        current = next(ami for ami, minor in minors.items() if minor == DEMO_VERSION)
        karpenter = install_karpenter(kube, world.clock, images=minors)
        karpenter.add_node_class(NodeClass("default", (AmiSelectorTerm(id=current),), "AL2023"))
        pool = NodePool("general", "default")
        karpenter.add_node_pool(pool, nodes=3)
        zones = tuple(
            sorted({n.labels[ZONE] for n in kube.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}")})
        )
        assert len(zones) == 3
        affinity = NodeAffinity(((SelectorRequirement(ZONE, "In", (zones[0],)),),))
        kube.add_persistent_volume(
            PersistentVolume("pv-ledger", "shop/data-ledger", affinity, "ebs.csi.aws.com")
        )
        labels = {"app": "ledger"}
        spec = PodSpec(
            requests=Resources(100, 64 * MIB, 1),
            volumes=(Volume("data", persistent_claim="data-ledger"),),
        )
        kube.add_workload(
            Workload(
                WorkloadKind.DEPLOYMENT,
                "shop",
                "ledger",
                LabelSelector(labels),
                PodTemplate(labels, spec=spec),
                replicas=1,
                labels=labels,
            ),
            startup_seconds=5,
        )
        world.settle(120)
        if subnets:
            # The EC2NodeClass's subnets (status.subnets) lost the volume's zone; the pool has
            # no zone requirement.
            karpenter.add_node_class(
                NodeClass("default", (AmiSelectorTerm(id=current),), "AL2023", zones=zones[1:])
            )
            return
        allowed = tuple(zones[1:]) if narrowed else tuple(zones)
        requirement = SelectorRequirement(ZONE, "In", allowed)
        karpenter.add_node_pool(
            NodePool("general", "default", requirements=(requirement,)), nodes=0
        )

    return build


@pytest.fixture(autouse=True)
def worlds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(mixed_world.WORLDS, "karpenter-volume-zone", _world(narrowed=True))
    monkeypatch.setitem(mixed_world.WORLDS, "karpenter-all-zones", _world(narrowed=False))
    monkeypatch.setitem(
        mixed_world.WORLDS, "karpenter-subnet-zone", _world(narrowed=False, subnets=True)
    )


def _plan(world: str) -> tuple[int, dict[str, object], str]:
    env = {"COLUMNS": "250", "EKSUP_SANDBOX_WORLD": world}
    result = CliRunner().invoke(
        app, ["plan", "--sandbox", "--to", NEXT, "--format", "json"], env=env
    )
    return result.exit_code, json.loads(result.stdout), result.stderr


def _karpenter(plan: dict[str, object]) -> list[dict[str, object]]:
    findings = plan["findings"]
    assert isinstance(findings, list)
    return [f for f in findings if f["check_id"] == "karpenter-placement"]


def test_the_plan_is_not_ready_and_names_the_volume_its_zone_and_the_pools_zones() -> None:
    code, plan, err = _plan("karpenter-volume-zone")
    assert code == 2, err
    assert plan["verdict"] == "NOT READY"
    (finding,) = [f for f in _karpenter(plan) if f["status"] == "fail"]
    assert finding["severity"] == "error"
    assert finding["objects"] == ["shop/ledger", "nodepool/general"]
    message = str(finding["message"])
    assert "cannot follow their EBS volume" in message
    assert "PersistentVolume pv-ledger (claim shop/data-ledger)" in message
    assert f"{ZONE} In (us-east-1" in message
    assert f"NodePool general allows {ZONE} us-east-1" in message
    assert "topology.kubernetes.io/zone requirement" in str(finding["remedy"])


def test_with_the_volume_zone_allowed_the_check_passes() -> None:
    _, plan, _ = _plan("karpenter-all-zones")
    assert [f["status"] for f in _karpenter(plan)] == ["pass"]


def test_the_ec2nodeclass_subnets_are_read_for_a_pool_without_a_zone_requirement() -> None:
    """Discovery reads the EC2NodeClasses (status.subnets' zones; nodeclasses.md,
    "status.subnets") when NodePools exist: Karpenter launches only into those subnets."""
    code, plan, err = _plan("karpenter-subnet-zone")
    assert code == 2, err
    (finding,) = [f for f in _karpenter(plan) if f["status"] == "fail"]
    message = str(finding["message"])
    assert "PersistentVolume pv-ledger (claim shop/data-ledger)" in message
    assert f"NodePool general has no {ZONE} requirement; its EC2NodeClass default's subnets" in (
        message
    )
