"""Typed step parameters: one shape per step kind, read when a plan is loaded.

The two files in data/ were written by eksup before the parameters were typed (commit
31f5f6b, from the snapshot `_snapshot()` builds): they prove the plan JSON did not change shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.plan.builders import snapshot
from upgrader.core.aws import UpdateConfig
from upgrader.core.errors import UserError
from upgrader.core.kube import Taint, TaintEffect, WorkloadKind
from upgrader.execute.integrity import seal, verify_digest
from upgrader.plan.document import Plan, Step, StepKind, load_plan, plan_json_schema
from upgrader.plan.planner import make_plan
from upgrader.plan.step_params import (
    PARAMS_FOR_KIND,
    AutoscalerParams,
    BlueGreenParams,
    FargateParams,
    InPlaceParams,
    ManagedGroupParams,
)

DATA = Path(__file__).parent / "data"
OLD_PLANS = {
    "blue-green": DATA / "plan_untyped_params_blue_green.json",
    "in-place": DATA / "plan_untyped_params_in_place.json",
}


def _snapshot() -> Any:
    return snapshot(
        "1.28",
        target="1.30",
        groups=[("general", ""), ("batch", "1.27")],
        self_managed_groups=[("legacy", "")],
        karpenter=[("default", "")],
        fargate="",
        with_autoscaler=True,
    )


@pytest.mark.parametrize("strategy", sorted(OLD_PLANS))
def test_a_plan_written_before_typed_params_loads_verifies_and_reads_the_same(
    strategy: str,
) -> None:
    path = OLD_PLANS[strategy]
    plan = load_plan(path)
    verify_digest(plan, str(path))  # the digest covers the params: their dump is unchanged
    assert plan.to_json() == path.read_text(encoding="utf-8")
    assert {s.kind.value for s in plan.steps} >= {
        "control-plane",
        "addons",
        "self-managed-group",
        "karpenter-drift",
        "fargate-restart",
        "pause-cluster-autoscaler",
        "verify",
    }
    for step in plan.steps:
        assert isinstance(step.params, PARAMS_FOR_KIND[step.kind.value])


@pytest.mark.parametrize("strategy", sorted(OLD_PLANS))
def test_the_planner_writes_the_same_params_as_before(strategy: str) -> None:
    old = json.loads(OLD_PLANS[strategy].read_text(encoding="utf-8"))
    new = make_plan(
        _snapshot(), "1.30", node_strategy=strategy, region="us-east-1", now=2_000_000_000.0
    )
    written = json.loads(seal(new).to_json())
    assert [(s["id"], s["params"]) for s in written["steps"]] == [
        (s["id"], s["params"]) for s in old["steps"]
    ]


def test_steps_read_typed_values() -> None:
    plan = load_plan(OLD_PLANS["blue-green"])
    green = plan.step("nodegroup-general-1.29").params_of(BlueGreenParams)
    assert (green.blue, green.green) == ("general", "general-1-29")
    assert green.taint == Taint("eksup.io/upgrade", TaintEffect.NO_SCHEDULE, "blue")
    assert green.drain_timeout_seconds == 900
    assert green.max_unavailable == UpdateConfig(1, None)
    pause = plan.step("pause-autoscaler").params_of(AutoscalerParams)
    assert pause.targets() == [("kube-system", "cluster-autoscaler")]
    assert pause.planned() == {("kube-system", "cluster-autoscaler"): 1}
    fargate = next(s for s in plan.steps if s.kind is StepKind.FARGATE_RESTART)
    for kind, _, _ in fargate.params_of(FargateParams).restarts():
        assert kind in (WorkloadKind.DEPLOYMENT, WorkloadKind.STATEFUL_SET)
    with pytest.raises(UserError, match="carries BlueGreenParams, not InPlaceParams"):
        plan.step("nodegroup-general-1.29").params_of(InPlaceParams)


def test_a_pinned_release_is_written_and_nothing_else_appears() -> None:
    plan = load_plan(OLD_PLANS["in-place"])
    step = next(s for s in plan.steps if isinstance(s.params, ManagedGroupParams))
    pinned = step.params.model_copy(update={"release_version": "1.30.8-20250101"})
    written = step.model_copy(update={"params": pinned}).model_dump(mode="json")["params"]
    assert written == {
        **step.model_dump(mode="json")["params"],
        "release_version": "1.30.8-20250101",
    }


def _edited(tmp_path: Path, step_id: str, **params: object) -> Path:
    document = json.loads(OLD_PLANS["blue-green"].read_text(encoding="utf-8"))
    step = next(s for s in document["steps"] if s["id"] == step_id)
    step["params"].update(params)
    for name, value in params.items():
        if value is _DROP:
            del step["params"][name]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


_DROP = object()


@pytest.mark.parametrize(
    ("step_id", "params", "expected"),
    [
        (
            "nodegroup-general-1.29",
            {"drain_timeout_seconds": -5},
            "step 'nodegroup-general-1.29' (nodegroup-blue-green): params: "
            "drain_timeout_seconds: Input should be greater than 0",
        ),
        (
            "nodegroup-general-1.29",
            {"taint": "no-effect"},
            "params: taint: Value error, taint 'no-effect': expected key=value:Effect",
        ),
        (
            "nodegroup-general-1.29",
            {"max_unavailable": "0"},
            'params: max_unavailable: Value error, must be a count "1"-"100"',
        ),
        (
            "nodegroup-general-1.29",
            {"green_nodegroup": _DROP},
            "params: green_nodegroup: Field required",
        ),
        (
            "control-plane-1.29",
            {"versoin": "1.29"},
            "step 'control-plane-1.29' (control-plane): params: versoin: Extra inputs are not "
            "permitted",
        ),
        ("control-plane-1.29", {"version": "latest"}, "params: version: String should match"),
        (
            "pause-autoscaler",
            {"replicas": {"kube-system/cluster-autoscaler": "one"}},
            "params: replicas.kube-system/cluster-autoscaler: String should match",
        ),
    ],
)
def test_a_hand_edited_param_is_one_line_naming_the_step_and_field(
    tmp_path: Path, step_id: str, params: dict[str, object], expected: str
) -> None:
    path = _edited(tmp_path, step_id, **params)
    with pytest.raises(UserError) as raised:
        load_plan(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: step ")
    assert expected in message
    assert message.endswith("re-run `eksup plan`")


def test_a_step_made_in_code_is_checked_like_one_read_from_a_file() -> None:
    with pytest.raises(ValueError, match="version: Field required"):
        Step(id="cp", kind=StepKind.CONTROL_PLANE, target="cluster/c", description="d")
    step = Step(id="m", kind=StepKind.MANUAL, target="cluster/c", description="d")
    assert step.model_dump(mode="json")["params"] == {}


def test_the_schema_ties_each_kind_to_its_params() -> None:
    schema = plan_json_schema()
    rules = schema["$defs"]["Step"]["allOf"]
    assert {r["if"]["properties"]["kind"]["const"] for r in rules} == {k.value for k in StepKind}
    plan = json.loads(OLD_PLANS["blue-green"].read_text(encoding="utf-8"))
    jsonschema.validate(plan, schema)
    cp = next(s for s in plan["steps"] if s["kind"] == "control-plane")
    cp["params"]["drain_timeout_seconds"] = 900  # not a control-plane parameter
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(plan, schema)
    Plan.model_validate(json.loads(OLD_PLANS["in-place"].read_text(encoding="utf-8")))
