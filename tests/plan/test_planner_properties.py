"""Properties of every plan: hops go +1 to the target, the skew rules hold at each step, every
group ends on the target, and planning the result again is empty."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.plan.builders import REGION, snapshot, upgraded
from upgrader.plan.document import Plan, StepKind
from upgrader.plan.planner import make_plan
from upgrader.plan.snapshot import ClusterSnapshot
from upgrader.versions import KubeVersion, default_catalog

CATALOG = default_catalog()
AVAILABLE = [v for v in CATALOG.known_versions() if CATALOG.get(v).available_on_eks]
_MANAGED = (StepKind.NODEGROUP_BLUE_GREEN, StepKind.NODEGROUP_IN_PLACE)


@st.composite
def clusters(draw: st.DrawFn) -> tuple[ClusterSnapshot, str]:
    first = draw(st.integers(0, len(AVAILABLE) - 2))
    last = draw(st.integers(first + 1, len(AVAILABLE) - 1))
    current, target = KubeVersion.parse(AVAILABLE[first]), AVAILABLE[last]
    # Groups on the control plane's minor or behind it within what the skew allows today.
    limit = CATALOG.max_kubelet_skew(current)
    lag = st.integers(0, limit).map(lambda behind: str(current - behind))
    managed = draw(st.lists(lag, max_size=3))
    own = draw(st.lists(lag, max_size=2))
    snap = snapshot(
        str(current),
        target=target,
        groups=[(f"ng{i}", v) for i, v in enumerate(managed)],
        self_managed_groups=[(f"asg{i}", v) for i, v in enumerate(own)],
        with_autoscaler=draw(st.booleans()),
    )
    return snap, target


def _walk(snap: ClusterSnapshot, plan: Plan) -> tuple[KubeVersion, dict[str, KubeVersion]]:
    """Run the plan on paper, asserting AWS's and upstream's rules before every hop."""
    plane = KubeVersion.parse(snap.cluster.version)
    managed = {g.name: KubeVersion.parse(g.version) for g in snap.nodegroups}
    trailing = {
        g.name: min(KubeVersion.parse(n.kubelet_version) for n in nodes)
        for owner, nodes in snap.nodes_by_owner.items()
        for g in snap.self_managed_groups
        if owner.name == g.name
    }
    for step in plan.steps:
        if step.kind is StepKind.CONTROL_PLANE:
            hop = KubeVersion.parse(str(step.params.version))
            assert hop == plane + 1
            assert all(v == plane for v in managed.values()), (step.id, managed)
            assert all(CATALOG.kubelet_skew_ok(v, hop) for v in trailing.values()), step.id
            plane = hop
        elif step.kind in _MANAGED:
            assert step.params.version == str(plane)  # never newer than the control plane
            managed[str(step.params.original_nodegroup)] = plane
        elif step.kind is StepKind.SELF_MANAGED_GROUP:
            assert step.params.version == str(plane)
            trailing[str(step.params.nodegroup)] = plane
    return plane, {**managed, **trailing}


@settings(max_examples=60, deadline=None)
@given(clusters())
def test_every_plan_reaches_its_target_one_minor_at_a_time(
    case: tuple[ClusterSnapshot, str],
) -> None:
    snap, target = case
    plan = make_plan(snap, target, region=REGION)
    hops = [s.hop for s in plan.steps if s.kind is StepKind.CONTROL_PLANE]
    assert hops == plan.hops
    start = KubeVersion.parse(snap.cluster.version)
    assert hops == [str(start + i) for i in range(1, len(hops) + 1)]
    assert hops[-1] == target
    plane, groups = _walk(snap, plan)
    assert plane == KubeVersion.parse(target)
    assert all(str(v) == target for v in groups.values())
    assert plan.node_replacements == sum(
        1 for s in plan.steps if s.kind in (*_MANAGED, StepKind.SELF_MANAGED_GROUP)
    )


@settings(max_examples=30, deadline=None)
@given(clusters())
def test_replanning_the_result_is_empty(case: tuple[ClusterSnapshot, str]) -> None:
    snap, target = case
    plan = make_plan(snap, target, region=REGION)
    assert make_plan(upgraded(snap, plan), target, region=REGION).steps == []
