"""`eksup plan --sandbox` on a world with a Karpenter NodePool whose live nodes carry a label
someone added by hand (issue 11, item 1, for NodePools).

The world (registered for the test under `EKSUP_SANDBOX_WORLD=karpenter-hand-label`): a
Karpenter NodePool `general` whose EC2NodeClass pins an AMI id, three nodes labelled
`team=blue` by hand (the NodePool's template does not have it), and a Deployment selecting
`team=blue`. Karpenter would create the replacements from the template (Karpenter's
scheduling.md, "User-Defined Labels": a label not in the NodePool is not put on its nodes), so
the pods would have nowhere to go: the plan must be NOT READY and say what to add where.
With the label in the NodePool's spec.template.metadata.labels the same world plans READY.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import pytest
from typer.testing import CliRunner

from upgrader.cli import app
from upgrader.core.kube import (
    KARPENTER_NODEPOOL_LABEL,
    AmiSelectorTerm,
    LabelSelector,
    NodeClass,
    NodePool,
    PodSpec,
    PodTemplate,
    Resources,
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


def _world(template_labels: Mapping[str, str]) -> Callable[[Sandbox], None]:
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
        pool = NodePool("general", "default", labels=template_labels)
        for name in karpenter.add_node_pool(pool, nodes=3):
            kube.label_node(name, {"team": "blue"})  # by hand, not through the NodePool
        labels = {"app": "web"}
        spec = PodSpec(requests=Resources(100, 64 * MIB, 1), node_selector={"team": "blue"})
        kube.add_workload(
            Workload(
                WorkloadKind.DEPLOYMENT,
                "shop",
                "web",
                LabelSelector(labels),
                PodTemplate(labels, spec=spec),
                replicas=3,
                labels=labels,
            ),
            startup_seconds=5,
        )
        world.settle(120)
        assert kube.list_nodes(f"{KARPENTER_NODEPOOL_LABEL}=general")

    return build


@pytest.fixture(autouse=True)
def worlds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(mixed_world.WORLDS, "karpenter-hand-label", _world({}))
    monkeypatch.setitem(mixed_world.WORLDS, "karpenter-labelled", _world({"team": "blue"}))


def _plan(world: str, *extra: str) -> tuple[int, str, str]:
    env = {"COLUMNS": "250", "EKSUP_SANDBOX_WORLD": world}
    result = CliRunner().invoke(app, ["plan", "--sandbox", "--to", NEXT, *extra], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_the_plan_is_not_ready_and_names_the_workload_and_the_missing_label() -> None:
    code, out, err = _plan("karpenter-hand-label", "--format", "json")
    assert code == 2, err
    plan = json.loads(out)
    assert plan["verdict"] == "NOT READY"
    (finding,) = [
        f
        for f in plan["findings"]
        if f["check_id"] == "karpenter-placement" and f["status"] == "fail"
    ]
    assert finding["severity"] == "error"
    assert finding["objects"] == ["shop/web", "nodepool/general"]
    assert "NodePool general" in finding["message"]
    assert "nodeSelector team=blue (the node has no team label)" in finding["message"]
    assert "team=blue is on NodePool general's live nodes" in finding["remedy"]
    assert "kubectl patch nodepool general --type merge" in finding["remedy"]


def test_the_table_shows_the_finding_too() -> None:
    code, out, err = _plan("karpenter-hand-label")
    assert code == 2, err
    assert "karpenter-placement" in out + err
    assert "team=blue" in out + err


def test_with_the_label_in_the_nodepool_template_the_plan_passes_the_check() -> None:
    code, out, err = _plan("karpenter-labelled", "--format", "json")
    plan = json.loads(out)
    findings = [f for f in plan["findings"] if f["check_id"] == "karpenter-placement"]
    assert [f["status"] for f in findings] == ["pass"], findings
    assert code in (0, 2), err
    assert not [f for f in plan["findings"] if f["status"] == "fail" and f["severity"] == "error"]
