"""The fake Karpenter: drift on a node class change or a control-plane update, replacement
within the NodePool's budget, evictions within PDBs, nothing lost."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import World
from upgrader.core.errors import NotFoundError
from upgrader.core.kube import (
    KARPENTER_DISRUPTED_TAINT,
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    DisruptionBudget,
    NodeClass,
    NodePool,
)
from upgrader.sandbox.cluster.karpenter import FakeKarpenter, install_karpenter

OLD, NEW = "ami-0old", "ami-0new"


def _karpenter(
    world: World, terms: AmiSelectorTerm, nodes: int = 4, budget: str = "1"
) -> FakeKarpenter:
    karpenter = install_karpenter(world.cluster, world.clock, images={OLD: "1.29", NEW: "1.30"})
    karpenter.add_node_class(NodeClass("default", (terms,), ami_family="AL2023"))
    karpenter.add_node_pool(
        NodePool("general", "default", (DisruptionBudget(nodes=budget),)), nodes=nodes
    )
    world.deployment("web", 8, cpu=500, startup=10.0)
    world.pdb("web-pdb", "web", max_unavailable=1)
    world.settle()
    return karpenter


def _minors(world: World) -> list[str]:
    nodes = world.cluster.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}=general")
    return sorted(n.minor_version for n in nodes)


def test_a_new_ami_id_drifts_every_claim_and_replaces_it_within_the_budget(world: World) -> None:
    karpenter = _karpenter(world, AmiSelectorTerm(id=OLD), nodes=4, budget="1")
    before = {n.name for n in world.cluster.list_nodes()}
    assert _minors(world) == ["1.29"] * 4
    assert not any(c.drifted for c in world.cluster.list_node_claims("general"))

    world.cluster.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=NEW)])
    world.sleep(1)
    claims = world.cluster.list_node_claims("general")
    assert sum(c.drifted for c in claims) >= 3  # one may already be disrupting
    world.settle()

    assert _minors(world) == ["1.30"] * 4
    assert not before & {n.name for n in world.cluster.list_nodes()}
    assert karpenter.max_disrupting["general"] == 1
    assert sorted(karpenter.replaced) == sorted(before)
    assert world.cluster.stats.lost_pods == ()
    assert world.cluster.stats.pdb_violations == ()
    assert len(world.ready("web")) == 8
    assert world.cluster.get_node_class("default").amis == (NEW,)


def test_a_percentage_budget_rounds_up_and_caps_concurrent_disruptions(world: World) -> None:
    karpenter = _karpenter(world, AmiSelectorTerm(id=OLD), nodes=5, budget="40%")
    world.cluster.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=NEW)])
    world.settle()
    assert _minors(world) == ["1.30"] * 5
    assert karpenter.max_disrupting["general"] == 2  # ceil(5 * 40%)


def test_an_alias_drifts_when_the_control_plane_moves(world: World) -> None:
    world.cluster.set_server_version("v1.29.8-eks-a737599")
    _karpenter(world, AmiSelectorTerm(alias="al2023@latest"), nodes=3)
    assert _minors(world) == ["1.29"] * 3
    world.cluster.set_server_version("v1.30.4-eks-a737599")
    world.settle()
    assert _minors(world) == ["1.30"] * 3
    assert world.cluster.stats.lost_pods == ()


def test_the_old_node_is_tainted_before_it_is_drained(world: World) -> None:
    _karpenter(world, AmiSelectorTerm(id=OLD), nodes=2)
    world.cluster.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=NEW)])
    world.sleep(1)
    tainted = [
        n
        for n in world.cluster.list_nodes()
        if KARPENTER_DISRUPTED_TAINT in n.taints and n.minor_version == "1.29"
    ]
    assert len(tainted) == 1
    assert world.cluster.list_pods(node_name=tainted[0].name)  # not drained before its
    world.settle()  # replacement is Ready
    assert _minors(world) == ["1.30", "1.30"]


def test_a_pdb_that_allows_nothing_holds_the_old_node(world: World) -> None:
    _karpenter(world, AmiSelectorTerm(id=OLD), nodes=2)
    world.deployment("solo", 1, cpu=100)
    world.pdb("solo-pdb", "solo", min_available=1)
    world.settle()
    world.cluster.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=NEW)])
    world.sleep(1800)
    assert "1.29" in _minors(world)  # the node with solo's pod cannot be drained
    assert world.cluster.stats.pdb_violations == ()
    assert world.cluster.stats.evictions_refused > 0


def test_without_karpenter_there_is_nothing_to_list_or_patch(world: World) -> None:
    assert world.cluster.list_node_pools() == []
    assert world.cluster.list_node_claims() == []
    with pytest.raises(NotFoundError, match="CRDs are not installed"):
        world.cluster.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=NEW)])
