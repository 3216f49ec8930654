"""The karpenter-drift step re-checks placement against the NodePools as read when it runs,
before it patches the EC2NodeClass, and refuses (nothing changed, exit 3) naming the workload
and what the NodePool's new nodes lack. The fake Karpenter launches nodes from the NodePool's
template (its labels) and, like Karpenter's scheduling simulation, keeps a drifted node whose
pods no NodePool's nodes would take."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

from tests.execute.steps.test_karpenter import (
    NODES,
    POOL,
    STEP,
    CountingCluster,
    KarpenterWorld,
    _build,
    _hand,
)
from tests.execute.worlds import Runner, _app
from upgrader.core.errors import PermissionDeniedError
from upgrader.core.exit_codes import ExitCode
from upgrader.core.kube import (
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    PodTemplate,
    WorkloadKind,
)
from upgrader.core.run.journal import Phase, parse_records
from upgrader.execute.engine import RunStatus
from upgrader.sandbox.cluster.actions import Action
from upgrader.sandbox.world import Sandbox


def _team_blue(kw: KarpenterWorld) -> None:
    """Someone labelled the pool's nodes by hand, and a Deployment selects the label."""
    for n in kw.kube.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}={POOL}"):
        kw.kube.label_node(n.name, {"team": "blue"})
    app = _app(WorkloadKind.DEPLOYMENT, "shop", "pinned", 2)
    spec = replace(app.template.spec, node_selector={"team": "blue"})
    kw.kube.add_workload(
        replace(app, template=PodTemplate(labels=app.template.labels, spec=spec)),
        startup_seconds=5,
    )
    kw.world.settle(60)


def _set_template_labels(kw: KarpenterWorld, labels: dict[str, str]) -> None:
    pool = next(p for p in kw.kube.list_node_pools() if p.name == POOL)
    kw.karpenter.add_node_pool(replace(pool, labels=labels), nodes=0)


def test_the_step_refuses_before_patching_when_a_pod_relies_on_a_hand_set_label(
    tmp_path: Path,
) -> None:
    with Sandbox() as world:
        kw = _build(world)
        _team_blue(kw)
        cluster = CountingCluster(kw.kube)
        runner = Runner(world, tmp_path)
        result = runner.run(_hand(), ports=runner.ports(cluster=cluster))

        assert result.status is RunStatus.REFUSED, runner.out.getvalue()
        assert result.exit_code == ExitCode.REFUSED == 3
        error = result.error or ""
        assert "refused before changing anything for NodePool general" in error
        assert "shop/pinned: nodeSelector team=blue (the node has no team label)" in error
        assert "spec.template.metadata.labels" in error
        assert cluster.calls == Counter()  # no patch
        assert kw.kube.get_node_class("default").ami_selector_terms == (
            AmiSelectorTerm(id=kw.images["1.29"]),
        )
        records = parse_records(runner.journal_path.read_text(), "journal")
        failed = [r for r in records if r.step == STEP and r.phase is Phase.FAILED]
        assert failed
        assert "team=blue" in failed[-1].detail

        # Once the NodePool's template carries the label, the same plan goes through, and
        # the new nodes carry it: the pods land.
        _set_template_labels(kw, {"team": "blue"})
        (tmp_path / "again").mkdir()
        again = Runner(world, tmp_path / "again").run(_hand())
        assert again.status is RunStatus.SUCCEEDED, (again.error, runner.out.getvalue())
        assert kw.minors() == ["1.30"] * NODES
        pinned = [p for p in kw.kube.list_pods("shop") if p.name.startswith("pinned-")]
        assert len(pinned) == 2
        assert all(p.ready for p in pinned)
        assert kw.kube.stats.lost_pods == ()


def test_a_nodepool_changed_after_the_plan_is_read_again_at_execute(tmp_path: Path) -> None:
    with Sandbox() as world:
        kw = _build(world)
        _set_template_labels(kw, {"team": "blue"})
        _team_blue(kw)
        plan = kw.plan()
        assert not plan.blocking, [f for f in plan.findings if f.check_id == "karpenter-placement"]
        _set_template_labels(kw, {})  # someone drops the label from the NodePool
        cluster = CountingCluster(kw.kube)
        runner = Runner(world, tmp_path)
        result = runner.run(plan, ports=runner.ports(cluster=cluster))

        assert result.status is RunStatus.REFUSED, runner.out.getvalue()
        assert "nodeSelector team=blue" in (result.error or "")
        assert cluster.calls == Counter()
        assert kw.kube.server_version().startswith("v1.29")  # not even the control plane


def test_karpenter_keeps_a_drifted_node_whose_pods_cannot_land(tmp_path: Path) -> None:
    """The fake's side: a patch made behind eksup's back drifts the pool, and the nodes whose
    pods no NodePool takes stay, as Karpenter's simulation keeps them."""
    with Sandbox() as world:
        kw = _build(world)
        _team_blue(kw)
        kw.kube.patch_node_class_ami_selector("default", [AmiSelectorTerm(id=kw.images["1.30"])])
        world.settle(3600)
        pinned = {p.node_name for p in kw.kube.list_pods("shop") if p.name.startswith("pinned-")}
        old = {
            n.name
            for n in kw.kube.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}={POOL}")
            if n.minor_version == "1.29"
        }
        assert pinned
        assert pinned <= old
        assert kw.kube.stats.lost_pods == ()
        assert all(p.ready for p in kw.kube.list_pods("shop") if p.name.startswith("pinned-"))


def test_a_denied_nodepool_read_refuses_rather_than_pass(tmp_path: Path) -> None:
    with Sandbox() as world:
        kw = _build(world)

        def deny(_: Action) -> None:
            raise PermissionDeniedError(
                'nodepools.karpenter.sh is forbidden: User "ci" cannot list resource',
                "list nodepools.karpenter.sh",
            )

        kw.kube.add_reactor("list", "nodepools", deny)
        cluster = CountingCluster(kw.kube)
        runner = Runner(world, tmp_path)
        result = runner.run(_hand(), ports=runner.ports(cluster=cluster))
        assert result.status is RunStatus.REFUSED
        error = result.error or ""
        assert "cannot read Karpenter NodePools" in error
        assert "grant list nodepools.karpenter.sh" in error
        assert cluster.calls == Counter()


def test_a_dry_run_reports_the_refusal_and_changes_nothing(tmp_path: Path) -> None:
    with Sandbox() as world:
        kw = _build(world)
        _team_blue(kw)
        runner = Runner(world, tmp_path)
        result = runner.run(_hand(), dry_run=True)
        assert result.status is RunStatus.WOULD_BLOCK
        assert result.exit_code == ExitCode.BLOCKED == 2
        assert any("nodeSelector team=blue" in b for b in result.blockers)
        assert kw.minors() == ["1.29"] * NODES
