"""The PodTopologySpread rule replayed over a drain (upgrader/core/spread.py).

Each case follows kubernetes pkg/scheduler/framework/plugins/podtopologyspread/filtering.go
(`Filter`: `matchNum + selfMatchNum - minMatchNum <= maxSkew`; `minMatchNum`: 0 while there
are fewer domains than minDomains) and common.go (`filterTopologySpreadConstraints`: minDomains
defaults to 1, nodeAffinityPolicy to Honor, nodeTaintsPolicy to Ignore; `countPodsMatchSelector`
skips terminating pods and other namespaces; `nodeLabelsMatchSpreadConstraints`).
"""

from __future__ import annotations

from dataclasses import replace

from upgrader.core.kube import (
    LabelSelector,
    OwnerRef,
    Pod,
    PodPhase,
    PodSpec,
    Taint,
    TaintEffect,
    TopologySpread,
)
from upgrader.core.placement import NodeShape
from upgrader.core.spread import Placed, spread_problem

ZONE = "topology.kubernetes.io/zone"
APP = {"app": "web"}


def _spread(**changes: object) -> TopologySpread:
    base = TopologySpread(ZONE, 1, "DoNotSchedule", label_selector=LabelSelector(APP))
    return replace(base, **changes)  # type: ignore[arg-type]


def _pod(name: str, spread: TopologySpread | None = None, **changes: object) -> Pod:
    pod = Pod(
        "shop",
        name,
        name,
        labels=APP,
        owner=OwnerRef("ReplicaSet", "web-1"),
        phase=PodPhase.RUNNING,
        ready=True,
        spec=PodSpec(topology_spread=(spread or _spread(),)),
    )
    return replace(pod, **changes)  # type: ignore[arg-type]


def _node(name: str, zone: str, **labels: str) -> NodeShape:
    return NodeShape(name, {ZONE: zone, **labels})


def _blue(
    spread: TopologySpread | None = None, zones: str = "abc"
) -> tuple[list[Pod], list[Placed]]:
    pods = [_pod(f"web-{z}", spread) for z in zones]
    placed = [
        Placed(_node(f"blue-{z}", z), (p,), takes_pods=False)
        for z, p in zip(zones, pods, strict=True)
    ]
    return pods, placed


def test_green_in_every_zone_takes_the_pods_back() -> None:
    pods, blue = _blue()
    green = [_node("green", z) for z in "abc"]
    assert spread_problem(pods, blue, [], green) is None


def test_a_zone_only_blue_covers_stops_the_last_replacement() -> None:
    """The cordoned blue node in zone c stays a domain (nodeTaintsPolicy Ignore): once its pod
    is evicted it holds 0, and a and b (1 each) may not take a second pod at maxSkew 1."""
    pods, blue = _blue()
    problem = spread_problem(pods, blue, [], [_node("green", z) for z in "ab"])
    assert problem is not None
    assert "after 2 of 3 pods move" in problem
    assert "a 1, b 1, c 0 (blue only)" in problem
    assert "no node that can take them is in c" in problem


def test_a_larger_max_skew_lets_them_through() -> None:
    spread = _spread(max_skew=2)
    pods, blue = _blue(spread)
    assert spread_problem(pods, blue, [], [_node("green", z) for z in "ab"]) is None


def test_schedule_anyway_and_hostname_spreads_are_not_replayed() -> None:
    for spread in (
        _spread(when_unsatisfiable="ScheduleAnyway"),
        _spread(topology_key="kubernetes.io/hostname"),
    ):
        pods, blue = _blue(spread)
        assert spread_problem(pods, blue, [], [_node("green", "a")]) is None


def test_min_domains_above_green_zones_counts_the_minimum_as_zero() -> None:
    """minMatchNum is 0 while the domains are fewer than minDomains: each zone holds at most
    maxSkew matching pods. Here blue itself has only zone a's domain (plus green's b)."""
    spread = _spread(min_domains=3)
    pods = [_pod(f"web-{i}", spread) for i in range(3)]
    blue = [Placed(_node("blue-a", "a"), tuple(pods), takes_pods=False)]
    problem = spread_problem(pods, blue, [], [_node("green", z) for z in "ab"])
    assert problem is not None
    assert "fewer topology.kubernetes.io/zone domains (2) than minDomains 3" in problem


def test_a_pod_not_matched_by_its_own_selector_adds_nothing() -> None:
    """selfMatchNum is 0 when the constraint's selector does not match the pod itself."""
    spread = _spread(label_selector=LabelSelector({"app": "other"}))
    pods, blue = _blue(spread)
    assert spread_problem(pods, blue, [], [_node("green", z) for z in "ab"]) is None


def test_a_null_selector_matches_no_pod() -> None:
    spread = _spread(label_selector=None)
    pods, blue = _blue(spread)
    assert spread_problem(pods, blue, [], [_node("green", "a")]) is None


def test_pods_elsewhere_count_and_other_namespaces_and_terminating_pods_do_not() -> None:
    """Matching pods on nodes that stay count in their zone; a pod of another namespace and a
    terminating one do not (countPodsMatchSelector)."""
    pods, blue = _blue(zones="ab")
    ignored = (_pod("y1", namespace="else"), _pod("y2", deletion_timestamp=1.0))
    elsewhere = [
        Placed(_node("other-a", "a"), (_pod("x1"), _pod("x2")), takes_pods=False),
        Placed(_node("other-b", "b"), ignored, takes_pods=False),
    ]
    # a holds 3, b 1: both pods can go to green's b, which stays within 1 of a.
    assert spread_problem(pods, blue, elsewhere, [_node("green", "b")]) is None
    crowded = [Placed(_node("other-b", "b"), (_pod("z1"), _pod("z2")), takes_pods=False)]
    # b holds 3, a 1: b may take nothing more, and a, once empty, holds everyone at 0.
    assert spread_problem(pods, blue, crowded, [_node("green", "b")]) is not None


def _two_per_zone(spread: TopologySpread, **labels: str) -> tuple[list[Pod], list[Placed]]:
    pods = [
        replace(_pod(f"web-{z}{i}", spread), spec=replace(_pod("x", spread).spec, **labels))  # type: ignore[arg-type]
        for z in "ab"
        for i in range(2)
    ]
    blue = [
        Placed(_node(f"blue-{z}", z, pool="web"), tuple(pods[2 * n : 2 * n + 2]), takes_pods=False)
        for n, z in enumerate("ab")
    ]
    return pods, blue


def test_node_affinity_policy_honor_leaves_unselected_nodes_out() -> None:
    """A node the pod's nodeSelector refuses is no domain under Honor (the default), so its
    zone's 0 does not hold the others back; under Ignore it does."""
    batch = [Placed(_node("batch-c", "c", pool="batch"))]
    green = [_node("green", z, pool="web") for z in "ab"]
    for policy, stuck in (("Honor", False), ("Ignore", True)):
        spread = _spread(node_affinity_policy=policy)
        pods, blue = _two_per_zone(spread, node_selector={"pool": "web"})
        problem = spread_problem(pods, blue, batch, green)
        assert (problem is not None) is stuck, policy


def test_node_taints_policy_honor_leaves_untolerated_nodes_out() -> None:
    """Under Honor a tainted blue node the pod does not tolerate is no domain: zone c drops out
    instead of holding everyone at 0."""
    tainted = Taint("eksup.io/draining", TaintEffect.NO_SCHEDULE)
    for policy, stuck in (("Ignore", True), ("Honor", False)):
        spread = _spread(node_taints_policy=policy)
        pods, _ = _blue(spread)
        blue = [
            Placed(NodeShape(f"blue-{z}", {ZONE: z}, (tainted,)), (p,), takes_pods=False)
            for z, p in zip("abc", pods, strict=True)
        ]
        problem = spread_problem(pods, blue, [], [_node("green", z) for z in "ab"])
        assert (problem is not None) is stuck, policy


def test_match_label_keys_narrow_the_count_to_the_pods_own_values() -> None:
    """matchLabelKeys adds the pod's own values to the selector: the old revision's pod in zone
    c no longer counts, so c holds 0 and the others may not grow past 1."""
    old = {**APP, "pod-template-hash": "old"}
    for keys, stuck in (((), False), (("pod-template-hash",), True)):
        spread = _spread(match_label_keys=keys)
        pods, blue = _two_per_zone(spread)
        pods = [replace(p, labels={**APP, "pod-template-hash": "new"}) for p in pods]
        blue = [replace(b, pods=tuple(pods[2 * n : 2 * n + 2])) for n, b in enumerate(blue)]
        others = [Placed(_node("old-c", "c"), (_pod("web-old", spread, labels=old),), False)]
        problem = spread_problem(pods, blue, others, [_node("green", z) for z in "ab"])
        assert (problem is not None) is stuck, keys


def test_under_honor_blue_drops_out_once_cordoned_even_if_read_before_the_cordon() -> None:
    """The plan reads blue before eksup cordons it; the cordon's node.kubernetes.io/unschedulable
    taint will be there during the drain, so under Honor blue is no domain then."""
    spread = _spread(node_taints_policy="Honor")
    pods, blue = _blue(spread)  # untainted blue nodes, as the plan sees them
    assert spread_problem(pods, blue, [], [_node("green", z) for z in "ab"]) is None
