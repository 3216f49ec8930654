"""`nodes-held-by-hand`: nodes someone cordoned or tainted are a finding of the plan, and they
change its fingerprint (a plan made before the cordon no longer describes the cluster)."""

from __future__ import annotations

from dataclasses import replace

from tests.plan.checks.factories import node, nodegroup, run, snapshot
from upgrader.core.aws import NodegroupTaint
from upgrader.core.kube import Taint, TaintEffect
from upgrader.plan.checks import CheckStatus, Severity
from upgrader.plan.fingerprint import diff_facts, fingerprint, fingerprint_facts

CHECK = "nodes-held-by-hand"


def test_a_clean_cluster_passes() -> None:
    snap = snapshot(nodes=(node("n1"), node("n2")), nodegroups=(nodegroup("ng-a"),))
    assert all(f.status is CheckStatus.PASS for f in run(CHECK, snap))


def test_cordoned_and_hand_tainted_nodes_are_named() -> None:
    held = replace(node("n1"), unschedulable=True)
    tainted = replace(
        node("n2"),
        taints=(
            Taint("incident", TaintEffect.NO_SCHEDULE, "db-migration"),
            Taint("dedicated", TaintEffect.NO_SCHEDULE, "batch"),  # the group's own
            Taint("node.kubernetes.io/unreachable", TaintEffect.NO_EXECUTE),  # the system's
        ),
    )
    group = replace(
        nodegroup("ng-a"), taints=(NodegroupTaint("dedicated", "batch", "NO_SCHEDULE"),)
    )
    findings = run(CHECK, snapshot(nodes=(held, tainted, node("n3")), nodegroups=(group,)))
    failed = [f for f in findings if f.status is CheckStatus.FAIL]
    assert [f.objects for f in failed] == [("node/n1",), ("node/n2",)]
    assert all(f.severity is Severity.WARNING for f in failed)
    assert "1 node is cordoned" in failed[0].message
    assert "incident=db-migration:NoSchedule" in failed[1].message
    assert "dedicated" not in failed[1].message
    assert "unreachable" not in failed[1].message


def test_a_cordon_or_a_taint_changes_the_fingerprint() -> None:
    snap = snapshot(nodes=(node("n1"), node("n2")), nodegroups=(nodegroup("ng-a"),))
    cordoned = replace(snap, nodes=(replace(snap.nodes[0], unschedulable=True), snap.nodes[1]))
    taint = Taint("incident", TaintEffect.NO_EXECUTE)
    tainted = replace(snap, nodes=(snap.nodes[0], replace(snap.nodes[1], taints=(taint,))))
    assert len({fingerprint(snap), fingerprint(cordoned), fingerprint(tainted)}) == 3
    changes = diff_facts(fingerprint_facts(snap), fingerprint_facts(cordoned))
    assert changes == ["cordoned or tainted node added: n1"]
