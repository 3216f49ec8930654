"""The fingerprint changes with what a plan depends on, and only with that."""

from __future__ import annotations

from dataclasses import replace

from tests.plan.builders import pod, snapshot
from upgrader.plan.fingerprint import diff_facts, fingerprint, fingerprint_facts, matches
from upgrader.plan.planner import make_plan


def test_it_is_a_stable_sha256() -> None:
    snap = snapshot("1.29", groups=[("a", ""), ("b", "")])
    value = fingerprint(snap)
    assert value.startswith("sha256:")
    assert len(value) == len("sha256:") + 64
    assert fingerprint(snapshot("1.29", groups=[("a", ""), ("b", "")])) == value


def test_listing_order_does_not_matter() -> None:
    snap = snapshot("1.29", groups=[("a", ""), ("b", "")])
    shuffled = replace(
        snap, nodegroups=snap.nodegroups[::-1], nodes=snap.nodes[::-1], addons=snap.addons[::-1]
    )
    assert fingerprint(shuffled) == fingerprint(snap)


def test_a_node_group_version_change_changes_it() -> None:
    snap = snapshot("1.29", groups=[("a", "")])
    moved = replace(snap, nodegroups=(replace(snap.nodegroups[0], version="1.30"),))
    assert fingerprint(moved) != fingerprint(snap)


def test_control_plane_addon_and_kubelet_changes_change_it() -> None:
    snap = snapshot("1.29")
    changes = [
        replace(snap, cluster=replace(snap.cluster, version="1.30")),
        replace(snap, addons=(replace(snap.addons[0], version="v9.9.9-eksbuild.1"),)),
        replace(snap, nodes=(replace(snap.nodes[0], kubelet_version="v1.30.1"), *snap.nodes[1:])),
        replace(snap, nodes=snap.nodes[1:]),
    ]
    assert len({fingerprint(s) for s in changes} | {fingerprint(snap)}) == len(changes) + 1


def test_a_platform_version_eks_moved_by_itself_does_not_change_it() -> None:
    """EKS upgrades every cluster to the latest platform version of its minor on its own
    (docs.aws.amazon.com/eks/latest/userguide/platform-versions.html): an approved plan must not
    go stale because a few weeks passed."""
    snap = snapshot("1.29")
    moved = replace(snap, cluster=replace(snap.cluster, platform_version="eks.31"))
    assert fingerprint(moved) == fingerprint(snap)


def test_pods_do_not_change_it() -> None:
    snap = snapshot("1.29")
    busier = replace(snap, pods=(*snap.pods, pod("web-abc-1", snap.nodes[0].name)))
    assert fingerprint(busier) == fingerprint(snap)
    assert "pods" not in fingerprint_facts(snap)


def test_a_plan_carries_it_and_execute_can_compare() -> None:
    snap = snapshot("1.29", target="1.30")
    plan = make_plan(snap, "1.30")
    assert matches(plan.fingerprint, snap)
    stale = replace(snap, nodegroups=(replace(snap.nodegroups[0], status="UPDATING"),))
    assert not matches(plan.fingerprint, stale)


def test_the_diff_names_each_change_briefly() -> None:
    snap = snapshot("1.29", groups=[("a", ""), ("b", "")])
    moved = replace(
        snap,
        cluster=replace(snap.cluster, version="1.30"),
        nodegroups=(replace(snap.nodegroups[0], version="1.30", status="UPDATING"),),
        addons=(replace(snap.addons[0], version="v9.9.9-eksbuild.1"), *snap.addons[1:]),
        nodes=snap.nodes[1:],
    )
    changes = diff_facts(fingerprint_facts(snap), fingerprint_facts(moved))
    addon = snap.addons[0]
    assert changes == [
        "control plane now 1.30, plan made at 1.29",
        "managed node group removed: b",
        "managed node group a: version 1.29 -> 1.30, status ACTIVE -> UPDATING",
        f"add-on {addon.name}: version {addon.version} -> v9.9.9-eksbuild.1",
        f"node removed: {snap.nodes[0].name}",
    ]
    assert diff_facts(fingerprint_facts(snap), fingerprint_facts(snap)) == []


def test_the_diff_of_many_nodes_stays_one_line_each() -> None:
    before = {"nodes": [[f"n{i}", "v1.29.1"] for i in range(50)]}
    after = {"nodes": [[f"n{i}", "v1.30.1"] for i in range(40)] + [["m1", "v1.30.1"]]}
    assert diff_facts(before, after) == [
        "node added: m1",
        "10 nodes removed: n40, n41, n42 and 7 more",
        "40 nodes changed, e.g. node n0: kubelet v1.29.1 -> v1.30.1",
    ]
