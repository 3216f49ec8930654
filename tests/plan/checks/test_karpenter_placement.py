"""karpenter-placement: pods on Karpenter nodes against the nodes their NodePool creates now.

The rules are upgrader/core/nodepool_shapes.py's (tests/core/test_nodepool_shapes.py cites
Karpenter's docs for each); here: what the plan reports, and that it never passes blind.
"""

from __future__ import annotations

from tests.plan.checks.factories import context, node, pod, run, snapshot
from upgrader.core.kube import NodePool, SelectorRequirement, Taint, TaintEffect, Toleration
from upgrader.plan.checks import CheckStatus, Severity, run_checks, verdict
from upgrader.plan.checks.findings import Verdict
from upgrader.plan.snapshot import Read

CHECK = "karpenter-placement"


def _world(pool: NodePool, **pod_fields: object) -> object:
    nodes = (
        node("k1", group=None, karpenter_pool="general", labels={"team": "blue"}),
        node("k2", group=None, karpenter_pool="general", labels={"team": "blue"}),
    )
    pods = (
        pod("web-1", "shop", node="k1", **pod_fields),  # type: ignore[arg-type]
        pod("web-2", "shop", node="k2", **pod_fields),  # type: ignore[arg-type]
        pod("dns-1", "kube-system", node="k1", owner=("ReplicaSet", "coredns-7f")),
    )
    return snapshot(nodes=nodes, pods=pods, node_pools=(pool,))


def test_a_hand_set_label_the_nodepool_lacks_blocks_the_plan() -> None:
    snap = _world(NodePool("general", "default"), node_selector={"team": "blue"})
    findings = run(CHECK, snap)  # type: ignore[arg-type]
    (finding,) = findings
    assert finding.status is CheckStatus.FAIL
    assert finding.severity is Severity.ERROR
    assert "NodePool general" in finding.message
    assert "nodeSelector team=blue (the node has no team label)" in finding.message
    assert finding.objects == ("shop/web-5d9f", "nodepool/general")
    assert "spec.template.metadata.labels" in finding.remedy
    assert (
        "kubectl patch nodepool general --type merge -p "
        '\'{"spec": {"template": {"metadata": {"labels": {"team": "blue"}}}}}\''
    ) in finding.remedy
    assert "suppressing check karpenter-placement" in finding.remedy
    everything = run_checks(snap, context())  # type: ignore[arg-type]
    assert verdict(everything) is Verdict.NOT_READY


def test_the_label_in_the_template_or_an_exists_requirement_passes() -> None:
    labelled = NodePool("general", "default", labels={"team": "blue"})
    (finding,) = run(CHECK, _world(labelled, node_selector={"team": "blue"}))  # type: ignore[arg-type]
    assert finding.status is CheckStatus.PASS
    exists = NodePool("general", "default", requirements=(SelectorRequirement("team", "Exists"),))
    (finding,) = run(CHECK, _world(exists, node_selector={"team": "blue"}))  # type: ignore[arg-type]
    assert finding.status is CheckStatus.PASS


def test_a_template_taint_the_pods_do_not_tolerate_blocks() -> None:
    taint = Taint("dedicated", TaintEffect.NO_SCHEDULE, "batch")
    tainted = NodePool("general", "default", taints=(taint,))
    (finding,) = run(CHECK, _world(tainted))  # type: ignore[arg-type]
    assert finding.status is CheckStatus.FAIL
    assert "taint dedicated=batch:NoSchedule (not tolerated)" in finding.message
    assert "startupTaints" in finding.remedy
    # Both workloads lack the toleration: one finding names them both.
    assert finding.objects == ("kube-system/coredns-7f", "shop/web-5d9f", "nodepool/general")
    tolerated = _world(tainted, tolerations=(Toleration("dedicated", "Exists"),))
    (finding,) = run(CHECK, tolerated)  # type: ignore[arg-type]
    assert finding.objects == ("kube-system/coredns-7f", "nodepool/general")


def test_a_denied_nodepool_read_is_not_a_pass() -> None:
    snap = snapshot(
        nodes=(node("k1", group=None, karpenter_pool="general"),),
        pods=(pod("web-1", node="k1"),),
        not_assessed={Read.NODE_POOLS.value: "list nodepools.karpenter.sh"},
    )
    (finding,) = run(CHECK, snap)
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert "list nodepools.karpenter.sh" in finding.message


def test_without_karpenter_nodes_a_denied_read_does_not_matter() -> None:
    snap = snapshot(
        nodes=(node("n1"),),
        not_assessed={Read.NODE_POOLS.value: "list nodepools.karpenter.sh"},
    )
    (finding,) = run(CHECK, snap)
    assert finding.status is CheckStatus.PASS


def test_nodes_of_a_pool_with_no_v1_nodepool_are_a_warning() -> None:
    snap = snapshot(
        nodes=(node("k1", group=None, karpenter_pool="old"),), pods=(pod("web-1", node="k1"),)
    )
    (finding,) = run(CHECK, snap)
    assert finding.status is CheckStatus.NOT_ASSESSED
    assert finding.severity is Severity.WARNING
    assert finding.objects == ("nodepool/old",)


def test_a_pool_already_at_the_target_is_not_replaced_so_not_judged() -> None:
    at_target = (node("k1", group=None, karpenter_pool="general", kubelet="v1.34.2-eks-1"),)
    snap = snapshot(
        nodes=at_target,
        pods=(pod("web-1", "shop", node="k1", node_selector={"team": "blue"}),),
        node_pools=(NodePool("general", "default"),),
    )
    (finding,) = run(CHECK, snap, context("1.34"))
    assert finding.status is CheckStatus.PASS
    (finding,) = run(CHECK, snap, context("1.35"))
    assert finding.status is CheckStatus.FAIL
