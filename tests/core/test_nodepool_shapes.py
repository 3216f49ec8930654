"""The nodes a Karpenter NodePool creates, as placement sees them.

Semantics from Karpenter's own documentation (aws/karpenter-provider-aws,
website/content/en/docs/concepts/scheduling.md and nodepools.md):
- "User-Defined Labels": a nodeSelector or required nodeAffinity on a label that is not
  well-known to Karpenter makes it "not launch nodes with these labels and pods will remain
  pending"; with the key in the NodePool's requirements under `Exists`, workloads "can specify
  the same key ... with custom values" and Karpenter labels the node with them;
- "Well-Known Labels" (zone, instance type, arch, os, capacity type, karpenter.k8s.aws/
  instance-*) are derived from the instance; NodePool requirements restrict them;
- "Node affinity": In / NotIn on the same key narrow each other;
- nodepools.md: "If Karpenter encounters a startup taint in the NodePool it will be applied to
  nodes that are provisioned, but pods do not need to tolerate the taint"; a taint the pod
  does not tolerate keeps the pool from being used for it.
"""

from __future__ import annotations

from upgrader.core.kube import (
    KARPENTER_NODEPOOL_LABEL,
    Node,
    NodeAffinity,
    NodePool,
    OwnerRef,
    Pod,
    PodPhase,
    PodSpec,
    SelectorRequirement,
    Taint,
    TaintEffect,
    Toleration,
    TopologySpread,
)
from upgrader.core.nodepool_shapes import drift_problems, moves_on_drift, nodepool_shape
from upgrader.core.placement import LabelRange, placement_problem

ZONE = "topology.kubernetes.io/zone"
GPU = Taint("nvidia.com/gpu", TaintEffect.NO_SCHEDULE, "true")


def req(key: str, operator: str, *values: str) -> SelectorRequirement:
    return SelectorRequirement(key, operator, values)


def pool(name: str = "general", **fields: object) -> NodePool:
    return NodePool(name, "default", **fields)  # type: ignore[arg-type]


def spec(**fields: object) -> PodSpec:
    return PodSpec(**fields)  # type: ignore[arg-type]


def affinity(*terms: tuple[SelectorRequirement, ...]) -> NodeAffinity:
    return NodeAffinity(tuple(terms))


def fits(pod_spec: PodSpec, node_pool: NodePool, live: tuple[Node, ...] = ()) -> bool:
    return placement_problem(pod_spec, [nodepool_shape(node_pool, live)]) is None


def live_node(**labels: str) -> Node:
    return Node(
        "ip-10-0-0-1.ec2.internal",
        labels={KARPENTER_NODEPOOL_LABEL: "general", ZONE: "us-east-1a", **labels},
    )


def test_a_label_put_on_the_live_nodes_by_hand_does_not_come_back() -> None:
    live = (live_node(team="blue"),)
    wants_team = spec(node_selector={"team": "blue"})
    problem = placement_problem(wants_team, [nodepool_shape(pool(), live)])
    assert problem == "nodeSelector team=blue (the node has no team label)"
    assert fits(wants_team, pool(labels={"team": "blue"}), live)


def test_in_with_several_values_meets_a_selector_on_any_of_them() -> None:
    tiers = pool(requirements=(req("tier", "In", "gold", "silver"),))
    assert fits(spec(node_selector={"tier": "silver"}), tiers)
    assert fits(spec(node_selector={"tier": "gold"}), tiers)
    problem = placement_problem(spec(node_selector={"tier": "bronze"}), [nodepool_shape(tiers)])
    assert (
        problem
        == "nodeSelector tier=bronze (the node may carry tier only where tier In (gold,silver))"
    )


def test_exists_meets_any_value_and_does_not_exist_none() -> None:
    # scheduling.md "User-Defined Labels": Exists lets workloads pick their own value.
    assert fits(
        spec(node_selector={"company.com/team": "a"}),
        pool(requirements=(req("company.com/team", "Exists"),)),
    )
    absent = pool(requirements=(req("company.com/team", "DoesNotExist"),))
    assert not fits(spec(node_selector={"company.com/team": "a"}), absent)
    keeps_away = affinity((req("company.com/team", "DoesNotExist"),))
    assert fits(spec(node_affinity=keeps_away), absent)
    # An Exists label always gets a value, so a pod that needs it absent cannot go there.
    assert not fits(
        spec(node_affinity=keeps_away), pool(requirements=(req("company.com/team", "Exists"),))
    )


def test_not_in_meets_every_other_value() -> None:
    no_b = pool(requirements=(req(ZONE, "NotIn", "us-east-1b"),))
    assert fits(spec(node_selector={ZONE: "us-east-1a"}), no_b)
    assert not fits(spec(node_selector={ZONE: "us-east-1b"}), no_b)


def test_well_known_labels_are_any_value_unless_requirements_restrict_them() -> None:
    anywhere = pool()
    for key, value in (
        (ZONE, "eu-west-1c"),
        ("node.kubernetes.io/instance-type", "c7g.large"),
        ("kubernetes.io/arch", "arm64"),
        ("karpenter.sh/capacity-type", "spot"),
        ("karpenter.k8s.aws/instance-family", "m7i"),
        ("beta.kubernetes.io/arch", "arm64"),  # Karpenter translates the deprecated aliases
    ):
        assert fits(spec(node_selector={key: value}), anywhere), key
    amd = pool(requirements=(req("kubernetes.io/arch", "In", "amd64"),))
    assert not fits(spec(node_selector={"kubernetes.io/arch": "arm64"}), amd)
    assert not fits(spec(node_selector={"beta.kubernetes.io/arch": "arm64"}), amd)
    assert fits(spec(node_selector={"kubernetes.io/arch": "amd64"}), amd)
    # The live node's zone is not the pool's: zone a live, pool allows b and c.
    bc = pool(requirements=(req(ZONE, "In", "us-east-1b", "us-east-1c"),))
    assert not fits(spec(node_selector={ZONE: "us-east-1a"}), bc, (live_node(),))


def test_the_pool_name_and_its_template_labels_are_on_every_node() -> None:
    shape = nodepool_shape(pool(labels={"team": "blue"}))
    assert shape.labels[KARPENTER_NODEPOOL_LABEL] == "general"
    assert shape.labels["team"] == "blue"
    assert not fits(spec(node_selector={KARPENTER_NODEPOOL_LABEL: "gpu"}), pool())


def test_affinity_terms_narrow_a_range_together_and_terms_are_ored() -> None:
    abc = pool(requirements=(req(ZONE, "In", "a", "b", "c"),))
    # scheduling.md "Node affinity": In (a, b) and NotIn (b) leaves a.
    only_a = affinity((req(ZONE, "In", "a", "b"), req(ZONE, "NotIn", "b")))
    assert fits(spec(node_affinity=only_a), abc)
    nothing = affinity((req(ZONE, "In", "a", "b"), req(ZONE, "NotIn", "a", "b")))
    assert not fits(spec(node_affinity=nothing), abc)
    outside = affinity((req(ZONE, "In", "d"),))
    assert not fits(spec(node_affinity=outside), abc)
    assert fits(spec(node_affinity=affinity(*outside.terms, *only_a.terms)), abc)
    # A nodeSelector and an affinity on the same ranged key must agree on one value.
    assert not fits(spec(node_selector={ZONE: "c"}, node_affinity=only_a), abc)


def test_gt_and_lt_on_instance_facts() -> None:
    cpus = pool(requirements=(req("karpenter.k8s.aws/instance-cpu", "In", "2", "4"),))
    assert fits(
        spec(node_affinity=affinity((req("karpenter.k8s.aws/instance-cpu", "Gt", "3"),))), cpus
    )
    assert not fits(
        spec(node_affinity=affinity((req("karpenter.k8s.aws/instance-cpu", "Gt", "8"),))), cpus
    )
    assert fits(
        spec(node_affinity=affinity((req("karpenter.k8s.aws/instance-cpu", "Gt", "8"),))), pool()
    )


def test_template_taints_block_and_startup_taints_do_not() -> None:
    tainted = pool(taints=(GPU,))
    problem = placement_problem(spec(), [nodepool_shape(tainted)])
    assert problem == "taint nvidia.com/gpu=true:NoSchedule (not tolerated)"
    tolerates = spec(tolerations=(Toleration("nvidia.com/gpu", "Exists"),))
    assert fits(tolerates, tainted)
    assert fits(spec(), pool(startup_taints=(GPU,)))


def test_a_zone_spread_needs_a_zone_label_which_every_new_node_has() -> None:
    spread = spec(topology_spread=(TopologySpread(ZONE),))
    assert fits(spread, pool())
    custom = spec(topology_spread=(TopologySpread("rack"),))
    assert not fits(custom, pool())
    assert fits(custom, pool(requirements=(req("rack", "Exists"),)))


def test_label_range_absence() -> None:
    assert LabelRange((req("k", "DoesNotExist"),)).allows(None)
    assert not LabelRange((req("k", "NotIn", "x"),)).allows(None)  # Karpenter gives it a value
    assert not LabelRange(always=True).allows(None)
    assert LabelRange().allows(None)


def _pod(name: str, node: str, **fields: object) -> Pod:
    return Pod(
        "shop",
        name,
        f"uid-{name}",
        owner=OwnerRef("ReplicaSet", "web-5d9f"),
        node_name=node,
        phase=PodPhase.RUNNING,
        spec=spec(**fields),
    )


def test_drift_problems_accept_a_pod_another_pool_takes() -> None:
    live = (live_node(team="blue"),)
    pod = _pod("web-1", live[0].name, node_selector={"team": "blue"})
    general = pool()
    assert drift_problems(general, [general], live, [pod], lambda p: p.key) == {
        "nodeSelector team=blue (the node has no team label)": {"shop/web-1"}
    }
    blue = pool("blue", labels={"team": "blue"})
    assert drift_problems(general, [general, blue], live, [pod], lambda p: p.key) == {}


def test_what_drift_moves() -> None:
    assert moves_on_drift(_pod("web-1", "n"))
    assert not moves_on_drift(Pod("shop", "bare", "u", node_name="n", phase=PodPhase.RUNNING))
    daemon = Pod("kube-system", "aws-node-x", "u", owner=OwnerRef("DaemonSet", "aws-node"))
    assert not moves_on_drift(daemon)
