"""The planner: hops, add-ons, the fewest node replacements, and steps filled from the runbook."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.plan.builders import (
    CLUSTER,
    REGION,
    autoscaler,
    fargate_nodes,
    node,
    pod,
    snapshot,
    upgraded,
)
from upgrader.core.aws import Addon
from upgrader.core.errors import UserError
from upgrader.core.kube import OwnerRef, PodPhase
from upgrader.plan.checks import CheckStatus, Finding, Severity
from upgrader.plan.document import Plan, StepKind, Verdict
from upgrader.plan.planner import (
    DEFAULT_TAINT,
    NodeUnit,
    green_name,
    make_plan,
    replacement_versions,
)
from upgrader.plan.runbooks import get_runbook
from upgrader.plan.snapshot import ClusterSnapshot, NodeOwnerKind
from upgrader.versions import KubeVersion, default_catalog


def _plan(snap: ClusterSnapshot, target: str, **kwargs: object) -> Plan:
    return make_plan(snap, target, region=REGION, **kwargs)  # type: ignore[arg-type]


def _ids(plan: Plan, kind: StepKind | None = None) -> list[str]:
    return [s.id for s in plan.steps if kind is None or s.kind is kind]


def _v(text: str) -> KubeVersion:
    return KubeVersion.parse(text)


# -- hops and order ------------------------------------------------------------------------------


def test_three_hops_in_order_with_addons_and_managed_groups_after_each() -> None:
    snap = snapshot("1.27", target="1.30", groups=[("general", ""), ("batch", "")])
    plan = _plan(snap, "1.30")

    assert plan.hops == ["1.28", "1.29", "1.30"]
    assert _ids(plan) == [
        "preflight",
        "approve-upgrade",
        "control-plane-1.28",
        "addons-1.28",
        "nodegroup-batch-1.28",
        "nodegroup-general-1.28",
        "control-plane-1.29",
        "addons-1.29",
        "nodegroup-batch-1.29",
        "nodegroup-general-1.29",
        "control-plane-1.30",
        "addons-1.30",
        "nodegroup-batch-1.30",
        "nodegroup-general-1.30",
        "verify",
    ]
    assert plan.node_replacements == 6
    assert all("managed node groups" in r for r in plan.replacement_reasons)


def test_blue_green_names_chain_from_hop_to_hop() -> None:
    plan = _plan(snapshot("1.27", target="1.30"), "1.30")
    chain = [
        (s.params.nodegroup, s.params.green_nodegroup)
        for s in plan.steps
        if s.kind is StepKind.NODEGROUP_BLUE_GREEN
    ]
    assert chain == [
        ("general", "general-1-28"),
        ("general-1-28", "general-1-29"),
        ("general-1-29", "general-1-30"),
    ]


def test_steps_are_filled_from_the_runbook_templates() -> None:
    plan = _plan(snapshot("1.29", target="1.30"), "1.30")
    runbook = get_runbook("eks-upgrade-blue-green")
    template = next(t for t in runbook.steps if t.kind is StepKind.NODEGROUP_BLUE_GREEN)
    step = plan.step("nodegroup-general-1.30")

    assert step.title == "Replace node group general by general-1-30 at 1.30"
    assert step.verifies == template.verifies
    assert len(step.commands) == len(template.actions)
    assert (
        f"aws eks create-nodegroup --region {REGION} --cluster-name {CLUSTER} "
        "--nodegroup-name general-1-30 --kubernetes-version 1.30" in step.commands[0]
    )
    assert f"kubectl taint nodes -l eks.amazonaws.com/nodegroup=general {DEFAULT_TAINT}" in (
        step.commands
    )
    assert any("--timeout=900s" in c for c in step.commands)
    assert any("delete-nodegroup" in r and "general-1-30" in r for r in step.rollback)
    assert step.params.drain_timeout_seconds == 900
    assert str(step.params.taint) == DEFAULT_TAINT
    control = plan.step("control-plane-1.30")
    assert control.commands == [
        f"aws eks update-cluster-version --region {REGION} --name {CLUSTER} "
        "--kubernetes-version 1.30"
    ]
    # Every placeholder was filled: nothing like {hop} is left for a human to guess.
    for s in plan.steps:
        for text in [s.title, s.description, *s.commands, *s.rollback, *s.verification]:
            assert not re.search(r"\{[a-z_]+\}", text), text


def test_step_ids_are_unique_and_stable() -> None:
    snap = snapshot("1.27", target="1.30", groups=[("a", ""), ("b", "")])
    first, second = _plan(snap, "1.30"), _plan(snap, "1.30", now=1e9)
    assert _ids(first) == _ids(second)
    assert len(set(_ids(first))) == len(first.steps)


def test_a_downgrade_and_an_unknown_version_are_user_errors() -> None:
    with pytest.raises(UserError, match="older than"):
        _plan(snapshot("1.30"), "1.29")
    with pytest.raises(UserError, match="not in eksup's version data"):
        _plan(snapshot("1.30"), "1.99")


# -- the fewest replacements ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "kubelet", "expected"),
    [
        # From 1.28 a kubelet may trail by three minors: 1.27 nodes survive three hops.
        ("1.27", "1.30", "1.27", ["1.30"]),
        # 1.27 allows two, 1.28 and 1.29 three: 1.26 nodes are still fine at 1.29.
        ("1.26", "1.29", "1.26", ["1.29"]),
        # At 1.30 a 1.26 kubelet would be four behind: move at 1.29 first, then at the end.
        ("1.26", "1.30", "1.26", ["1.29", "1.30"]),
        # Before 1.28 only two: 1.24 nodes cannot see 1.27, so they move at 1.26.
        ("1.24", "1.27", "1.24", ["1.26", "1.27"]),
        # Nodes already outside the skew of the first hop move before it.
        ("1.26", "1.27", "1.24", ["1.26", "1.27"]),
    ],
)
def test_self_managed_groups_trail_within_the_kubelet_skew(
    current: str, target: str, kubelet: str, expected: list[str]
) -> None:
    snap = snapshot(current, target=target, groups=[], self_managed_groups=[("legacy", kubelet)])
    plan = _plan(snap, target)
    steps = [s for s in plan.steps if s.kind is StepKind.SELF_MANAGED_GROUP]
    assert [s.hop for s in steps] == expected
    assert [s.id for s in steps] == [f"self-managed-legacy-{v}" for v in expected]
    assert plan.node_replacements == len(expected)
    # The rule agrees with the version data, not with constants in the test.
    unit = NodeUnit(NodeOwnerKind.SELF_MANAGED, "legacy", _v(kubelet))
    moves = replacement_versions(unit, _v(current), _v(target), default_catalog())
    assert [str(v) for v in moves] == expected


def test_the_last_self_managed_replacement_comes_after_the_last_hop() -> None:
    snap = snapshot("1.27", target="1.30", self_managed_groups=[("legacy", "")])
    ids = _ids(_plan(snap, "1.30"))
    assert ids.index("self-managed-legacy-1.30") > ids.index("control-plane-1.30")
    assert ids.index("self-managed-legacy-1.30") < ids.index("verify")


def test_reasons_say_why_each_group_moves() -> None:
    snap = snapshot(
        "1.26", target="1.30", groups=[("general", "")], self_managed_groups=[("legacy", "")]
    )
    plan = _plan(snap, "1.30")
    managed, own = plan.replacement_reasons
    assert managed.startswith("node group general (at 1.26): 4 replacements, at 1.27, 1.28, 1.29")
    assert "before its next upgrade" in managed
    assert own.startswith("self-managed group legacy (at 1.26): 2 replacements, at 1.29, 1.30")
    assert "outside the skew of 1.30 (3 minors)" in own
    assert plan.node_replacements == 6


def test_node_groups_already_at_a_version_are_skipped() -> None:
    snap = snapshot("1.29", target="1.30", groups=[("fresh", "1.29"), ("stale", "1.28")])
    plan = _plan(snap, "1.30")
    assert _ids(plan, StepKind.NODEGROUP_BLUE_GREEN) == [
        "nodegroup-stale-1.29",  # behind the control plane: must catch up before the hop
        "nodegroup-fresh-1.30",
        "nodegroup-stale-1.30",
    ]
    ids = _ids(plan)
    assert ids.index("nodegroup-stale-1.29") < ids.index("control-plane-1.30")


def test_a_cluster_whose_control_plane_is_done_only_replaces_nodes() -> None:
    snap = snapshot("1.30", groups=[("done", ""), ("behind", "1.29")])
    plan = _plan(snap, "1.30")
    assert plan.hops == []
    assert _ids(plan, StepKind.NODEGROUP_BLUE_GREEN) == ["nodegroup-behind-1.30"]
    assert not _ids(plan, StepKind.CONTROL_PLANE)


def test_replanning_an_upgraded_cluster_is_empty() -> None:
    before = snapshot(
        "1.27",
        target="1.30",
        groups=[("general", ""), ("batch", "")],
        self_managed_groups=[("legacy", "")],
        with_autoscaler=True,
    )
    plan = _plan(before, "1.30")
    after = upgraded(before, plan)
    again = _plan(after, "1.30")
    assert again.steps == []
    assert again.hops == []
    assert again.node_replacements == 0
    assert not [s for s in again.steps if s.mutating]


def test_fargate_pods_are_restarted_at_every_hop() -> None:
    nodes = fargate_nodes("1.28")
    pods = [
        pod("api-abc-1", nodes[0].name, namespace="serverless", owner="api-abc"),
        replace(
            pod("job-1", nodes[0].name, namespace="serverless"),
            owner=OwnerRef("Job", "nightly"),
            phase=PodPhase.RUNNING,
        ),
    ]
    snap = snapshot("1.28", target="1.30", groups=[], extra_nodes=nodes, pods=pods)
    plan = _plan(snap, "1.30")
    assert _ids(plan, StepKind.FARGATE_RESTART) == ["fargate-1.29", "fargate-1.30"]
    step = plan.step("fargate-1.29")
    assert step.params.workloads == ["Deployment/serverless/api"]
    assert "kubectl -n serverless rollout restart deployment/api" in step.commands
    assert plan.node_replacements == 2


def test_karpenter_pools_trail_like_self_managed_groups() -> None:
    snap = snapshot("1.27", target="1.30", groups=[], karpenter=[("default", "")])
    plan = _plan(snap, "1.30")
    assert _ids(plan, StepKind.KARPENTER_DRIFT) == ["karpenter-default-1.30"]
    assert "karpenter.sh/nodepool=default" in " ".join(
        plan.step("karpenter-default-1.30").verification
    )


# -- strategies, the autoscaler, runbooks ---------------------------------------------------------


def test_in_place_strategy_uses_in_place_steps() -> None:
    snap = snapshot("1.28", target="1.30")
    plan = _plan(snap, "1.30", node_strategy="in-place")
    assert plan.runbook == "eks-upgrade-in-place"
    assert plan.node_strategy == "in-place"
    steps = [s for s in plan.steps if s.kind is StepKind.NODEGROUP_IN_PLACE]
    assert [s.id for s in steps] == ["nodegroup-general-1.29", "nodegroup-general-1.30"]
    assert all(s.params.nodegroup == "general" for s in steps)
    assert "green_nodegroup" not in steps[0].params.model_dump()
    assert "update-nodegroup-version" in steps[0].commands[0]
    assert "1 at a time" in steps[0].description  # {max_unavailable} from the update config
    assert not _ids(plan, StepKind.NODEGROUP_BLUE_GREEN)


def test_a_runbook_for_another_strategy_is_refused() -> None:
    with pytest.raises(UserError, match="in-place"):
        _plan(snapshot("1.29"), "1.30", runbook=get_runbook("eks-upgrade-in-place"))


def test_cluster_autoscaler_is_paused_around_everything() -> None:
    plan = _plan(snapshot("1.28", target="1.30", with_autoscaler=True), "1.30")
    ids = _ids(plan)
    mutating = [s.id for s in plan.steps if s.mutating]
    assert mutating[0] == "pause-autoscaler"
    assert mutating[-1] == "resume-autoscaler"
    assert ids.index("pause-autoscaler") > ids.index("approve-upgrade")
    assert ids[-1] == "verify"
    pause = plan.step("pause-autoscaler")
    assert pause.params.deployments == ["kube-system/cluster-autoscaler"]
    assert pause.params.replicas == {"kube-system/cluster-autoscaler": "1"}


def test_no_autoscaler_no_pause() -> None:
    plan = _plan(snapshot("1.28", target="1.30"), "1.30")
    assert not _ids(plan, StepKind.PAUSE_AUTOSCALER)
    assert not _ids(plan, StepKind.RESUME_AUTOSCALER)
    assert autoscaler().name == "cluster-autoscaler"  # the builder the other test relies on


# -- add-ons -------------------------------------------------------------------------------------


def test_addons_move_to_each_hops_default() -> None:
    plan = _plan(snapshot("1.28", target="1.30"), "1.30")
    first = plan.step("addons-1.29")
    assert first.params.addon_versions == {
        "coredns": "v1.14.0-eksbuild.1",
        "kube-proxy": "v1.29.0-eksbuild.1",
        "vpc-cni": "v1.17.0-eksbuild.1",
    }
    second = plan.step("addons-1.30")
    by_name = {u.name: u for u in second.addon_updates}
    # Each hop starts from where the previous one left the add-on.
    assert by_name["kube-proxy"].current == "v1.29.0-eksbuild.1"
    assert by_name["kube-proxy"].target == "v1.30.0-eksbuild.1"
    assert (
        f"aws eks update-addon --region {REGION} --cluster-name {CLUSTER} --addon-name kube-proxy"
        " --addon-version v1.30.0-eksbuild.1 --resolve-conflicts PRESERVE" in second.commands
    )
    assert any("--addon-version v1.29.0-eksbuild.1" in r for r in second.rollback)


def test_vpc_cni_moves_one_minor_at_a_time() -> None:
    snap = snapshot("1.27", target="1.28")
    old = replace(snap, addons=(Addon("vpc-cni", "v1.14.0-eksbuild.1", "ACTIVE"),))
    step = _plan(old, "1.28").step("addons-1.28")
    (update,) = step.addon_updates
    assert update.path == ["v1.15.0-eksbuild.1", "v1.16.0-eksbuild.1"]
    updates = [c for c in step.commands if "update-addon" in c]
    assert [c.split("--addon-version ")[1].split()[0] for c in updates] == update.path


def test_addons_already_at_the_default_are_left_alone() -> None:
    snap = snapshot("1.28", target="1.29")
    ahead = replace(snap, addons=(Addon("kube-proxy", "v1.29.0-eksbuild.1", "ACTIVE"),))
    assert not _ids(_plan(ahead, "1.29"), StepKind.ADDONS)


def test_addon_versions_not_read_are_resolved_at_run_time() -> None:
    snap = replace(snapshot("1.28", target="1.29"), addon_versions={})
    (update,) = [
        u for u in _plan(snap, "1.29").step("addons-1.29").addon_updates if u.name == "coredns"
    ]
    assert update.target == ""
    assert update.path == []


# -- the alternative -----------------------------------------------------------------------------


def test_two_minors_or_more_price_a_new_cluster() -> None:
    plan = _plan(snapshot("1.28", target="1.30", groups=[("a", ""), ("b", "")]), "1.30")
    (alternative,) = plan.alternatives
    assert alternative.name == "new-cluster"
    assert (alternative.node_replacements, alternative.control_plane_updates) == (2, 0)
    assert plan.node_replacements == 4
    assert alternative.cheaper is True
    assert "Route 53" in alternative.summary


def test_the_new_cluster_is_not_cheaper_when_nodes_move_once_anyway() -> None:
    snap = snapshot("1.27", target="1.30", groups=[], self_managed_groups=[("legacy", "")])
    (alternative,) = _plan(snap, "1.30").alternatives
    assert alternative.node_replacements == 1
    assert alternative.cheaper is False


def test_one_minor_prices_no_alternative() -> None:
    assert _plan(snapshot("1.29", target="1.30"), "1.30").alternatives == []


# -- verdict and findings ------------------------------------------------------------------------


def _finding(severity: Severity, status: CheckStatus, suppressed: bool = False) -> Finding:
    return Finding(
        "some-check",
        severity,
        status,
        "something",
        ("obj/a",),
        suppressed_by="some-check: obj/* (known)" if suppressed else None,
    )


@pytest.mark.parametrize(
    ("findings", "verdict"),
    [
        ([], Verdict.READY),
        ([_finding(Severity.ERROR, CheckStatus.PASS)], Verdict.READY),
        ([_finding(Severity.INFO, CheckStatus.FAIL)], Verdict.READY),
        ([_finding(Severity.WARNING, CheckStatus.FAIL)], Verdict.READY_WITH_WARNINGS),
        ([_finding(Severity.ERROR, CheckStatus.FAIL)], Verdict.NOT_READY),
        ([_finding(Severity.ERROR, CheckStatus.FAIL, suppressed=True)], Verdict.READY),
    ],
)
def test_verdict(findings: list[Finding], verdict: Verdict) -> None:
    plan = _plan(snapshot("1.29", target="1.30"), "1.30", findings=findings)
    assert plan.verdict is verdict
    assert [f.suppressed for f in plan.findings] == [f.suppressed for f in findings]


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blue", "green"),
    [
        ("general", "general-1-30"),
        ("general-1-29", "general-1-30"),
        ("general_1_29", "general-1-30"),
        ("ng-v1-29", "ng-1-30"),
        ("pool-2024", "pool-2024-1-30"),
        ("x" * 70, "x" * 58 + "-1-30"),
    ],
)
def test_green_names(blue: str, green: str) -> None:
    assert green_name(blue, _v("1.30")) == green
    assert len(green) <= 63


def test_a_green_name_never_collides_with_an_existing_group() -> None:
    assert green_name("general", _v("1.30"), taken={"general-1-30"}) == "general-1-30-2"


def test_an_autoscaler_outside_kube_system_gets_its_own_commands() -> None:
    snap = replace(
        snapshot("1.29", target="1.30"), workloads=(autoscaler(namespace="autoscaling"),)
    )
    plan = _plan(snap, "1.30")
    assert plan.step("pause-autoscaler").commands == [
        "kubectl -n autoscaling scale deployment cluster-autoscaler --replicas=0"
    ]
    assert "-n autoscaling" in plan.step("resume-autoscaler").commands[0]


def test_a_runbook_condition_the_planner_does_not_know_is_refused() -> None:
    runbook = get_runbook("eks-upgrade-blue-green")
    steps = [
        s.model_copy(update={"when": "moon-is-full"}) if s.id == "pause-autoscaler" else s
        for s in runbook.steps
    ]
    odd = runbook.model_copy(update={"steps": steps})
    with pytest.raises(UserError, match="unknown condition when: 'moon-is-full'"):
        _plan(snapshot("1.29", target="1.30"), "1.30", runbook=odd)


def test_an_empty_self_managed_group_is_placed_by_its_image() -> None:
    snap = snapshot("1.27", target="1.30", groups=[], self_managed_groups=[("idle", "")])
    parameter = (
        "/aws/service/eks/optimized-ami/1.27/amazon-linux-2023/x86_64/standard/recommended/image_id"
    )
    placed = replace(snap, nodes=(), ami_ids={parameter: "ami-old"})
    plan = _plan(placed, "1.30")
    assert _ids(plan, StepKind.SELF_MANAGED_GROUP) == ["self-managed-idle-1.30"]
    assert plan.step("self-managed-idle-1.30").params.ami_type == "AL2023_x86_64_STANDARD"


def test_groups_eksup_cannot_place_or_replace_are_named_in_the_reasons() -> None:
    snap = snapshot("1.29", target="1.30", self_managed_groups=[("idle", "")])
    stray = node("hand-made", "1.29")
    odd = replace(snap, nodes=(*[n for n in snap.nodes if "idle" not in n.name], stray))
    reasons = _plan(odd, "1.30").replacement_reasons
    assert any("self-managed group idle" in r and "version unknown" in r for r in reasons)
    assert any("1 node(s) with no owner" in r for r in reasons)
