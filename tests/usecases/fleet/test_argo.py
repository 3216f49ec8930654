"""The distributed path without an Argo install: the rendered Workflow against Argo's schema
(Hera's models, generated from argo-workflows' OpenAPI spec), the same DAG as the local engine,
and submission/status/approval/stop/resume/retry through a test double of the Argo Server's
REST API (argo-workflows api/openapi-spec/swagger.json, WorkflowService:
POST /api/v1/workflows/{namespace}, GET .../{name}, PUT .../{name}/resume|suspend|stop|retry)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.usecases.fleet.argo_double import ArgoDouble
from tests.usecases.fleet.builders import FLEET, make_run
from upgrader.cli import app
from upgrader.fleet.run_doc import ClusterVerdict
from upgrader.fleet.state import ClusterStatus
from upgrader.plan.document import Plan, Verdict
from upgrader.usecases.fleet.engines.argo import (
    WorkflowSchemaError,
    cluster_task,
    gate_task,
    render_workflow,
    validate_workflow,
)
from upgrader.usecases.fleet.engines.argo_status import workflow_state

IMAGE = "registry.example/eksup:test"
TEXT = (
    FLEET.replace("{allowed}", "1")
    .replace("selector: env=prod", "selector: env=prod\n    beforeGates: [{name: cab}]")
    .replace("labels: {env: mgmt}}", "labels: {env: mgmt}, soakAfterControlPlane: 3h}")
)


def _plan(name: str) -> Plan:
    return Plan(
        eksup_version="test",
        created_at="2026-01-01T00:00:00Z",
        cluster=name,
        region="eu-west-1",
        current_version="1.30",
        target_version="1.31",
        node_strategy="blue-green",
        runbook="eks-upgrade-blue-green",
        fingerprint="f",
        verdict=Verdict.READY,
        hops=["1.31"],
        node_replacements=1,
    )


def _run(tmp_path: Path) -> Any:
    run, run_file = make_run(tmp_path, TEXT)
    run = run.model_copy(
        update={"clusters": [c.model_copy(update={"plan": _plan(c.name)}) for c in run.clusters]}
    )
    run_file.write_text(run.to_json())
    return run, run_file


def _templates(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in wf["spec"]["templates"]}


def test_the_rendered_workflow_validates_against_argos_schema(tmp_path: Path) -> None:
    run, _ = _run(tmp_path)
    workflow = render_workflow(run, image=IMAGE)
    validate_workflow(workflow)
    broken = json.loads(json.dumps(workflow))
    broken["spec"]["templates"][0]["parallelizm"] = 2  # a field Argo does not have
    with pytest.raises(WorkflowSchemaError, match="parallelizm"):
        validate_workflow(broken)
    wrong_type = json.loads(json.dumps(workflow))
    wrong_type["spec"]["templates"][1]["suspend"] = "yes"
    with pytest.raises(WorkflowSchemaError):
        validate_workflow(wrong_type)


def test_local_engine_and_workflow_encode_the_same_dag(tmp_path: Path) -> None:
    run, _ = _run(tmp_path)
    workflow = render_workflow(run, image=IMAGE)
    templates = _templates(workflow)
    entry = templates["fleet"]["dag"]["tasks"]
    depends = {t["name"]: t.get("depends") for t in entry}
    # Stage order: each stage after the previous stage's soak / gates.
    assert depends["stage-management"] is None
    assert depends["stage-dev"] == "stage-management"
    assert depends["soak-dev"] == "stage-dev"
    assert depends[gate_task("prod/before/cab")] == "soak-dev"
    assert depends["stage-prod"] == gate_task("prod/before/cab")
    assert templates["soak-dev"]["suspend"] == {
        "duration": f"{run.stage('dev').after_wait_seconds}s"
    }
    assert (
        next(t for t in entry if t["name"] == gate_task("prod/before/cab"))["template"]
        == "approval"
    )
    assert templates["approval"]["suspend"] == {}
    for stage in run.stages:
        for group in stage.groups:
            tpl = templates[f"group-{stage.name}-{group.name}"]
            assert tpl["parallelism"] == group.max_concurrency
            names = [t["name"] for t in tpl["dag"]["tasks"] if t["name"].startswith("cluster-")]
            assert names == [cluster_task(m) for m in group.members]
    dev = templates["group-dev-dev"]["dag"]["tasks"]
    assert all(
        t.get("continueOn") == {"failed": True} for t in dev if t["name"].startswith("cluster-")
    )
    tolerate = next(t for t in dev if t["name"] == "tolerate")
    assert "{{tasks.cluster-dev-a.status}}" in tolerate["arguments"]["parameters"][0]["value"]
    # The management cluster is an upstream: its failure is never tolerated.
    assert "continueOn" not in templates["group-management-management"]["dag"]["tasks"][0]
    # Its control-plane soak: control plane, a timed suspend, then the nodes.
    mgmt = templates[cluster_task("mgmt")]["dag"]["tasks"]
    assert [t["name"] for t in mgmt] == ["control-plane", "soak", "nodes"]
    assert templates[f"{cluster_task('mgmt')}-soak"]["suspend"] == {"duration": "10800s"}
    leaf = templates[cluster_task("dev-a")]
    assert leaf["retryStrategy"]["retryPolicy"] == "OnError"
    assert "eksup fleet execute-cluster" in leaf["container"]["args"][0]
    assert json.loads(leaf["inputs"]["artifacts"][0]["raw"]["data"])["cluster"] == "dev-a"


def test_tolerate_counts_failed_tasks() -> None:
    runner = CliRunner()
    assert (
        runner.invoke(app, ["fleet", "tolerate", "--allowed", "1", "Succeeded,Failed"]).exit_code
        == 0
    )
    assert (
        runner.invoke(app, ["fleet", "tolerate", "--allowed", "1", "Failed,Error"]).exit_code == 1
    )


def test_submit_status_approve_stop_resume_retry_through_the_argo_server(
    tmp_path: Path, argo: tuple[ArgoDouble, str]
) -> None:
    double, url = argo
    run, run_file = _run(tmp_path)
    runner = CliRunner()
    fleet = ["fleet"]
    result = runner.invoke(
        app,
        [
            *fleet,
            "run",
            str(run_file),
            "--engine",
            "argo",
            "--server",
            url,
            "--yes",
            "--image",
            IMAGE,
        ],
    )
    assert result.exit_code == 0, result.output
    name = run.run_id
    assert ("argo", name) in double.workflows
    double.set_node(name, cluster_task("mgmt"), "Succeeded")
    double.set_node(name, cluster_task("dev-a"), "Failed", message="preflight: drain refused")
    double.set_node(name, cluster_task("dev-b"), "Running")
    double.set_node(name, gate_task("prod/before/cab"), "Running", kind="Suspend")
    double.set_node(name, "stage-management", "Succeeded", kind="DAG")
    double.set_node(name, "stage-dev", "Succeeded", kind="DAG")
    status = runner.invoke(app, [*fleet, "status", str(run_file), "--format", "json"])
    assert status.exit_code == 0, status.output
    shown = {row["cluster"]: row for row in json.loads(status.output)["clusters"]}
    assert shown["mgmt"]["status"] == "succeeded"
    assert shown["dev-a"]["status"] == "failed"
    assert "drain refused" in shown["dev-a"]["reason"]
    assert shown["prod"]["reason"] == "waits for approval prod/before/cab"
    assert json.loads(status.output)["waiting_gates"] == ["prod/before/cab"]

    approved = runner.invoke(
        app, [*fleet, "approve", str(run_file), "--gate", "prod/before/cab", "--by", "cab"]
    )
    assert approved.exit_code == 0, approved.output
    assert double.calls[-1][1].endswith(f"/{name}/resume")
    assert double.calls[-1][2]["nodeFieldSelector"] == f"displayName={gate_task('prod/before/cab')}"

    assert runner.invoke(app, [*fleet, "stop", str(run_file)]).exit_code == 0
    assert double.calls[-1][1].endswith("/suspend")
    state = workflow_state(run, double.workflows[("argo", name)])
    assert state.status == "stopped"
    assert runner.invoke(app, [*fleet, "resume", str(run_file)]).exit_code == 0
    assert "suspend" not in double.workflows[("argo", name)]["spec"]

    assert runner.invoke(app, [*fleet, "retry", str(run_file)]).exit_code == 0
    state = workflow_state(run, double.workflows[("argo", name)])
    assert state.cluster("dev-a").status is ClusterStatus.RUNNING
    assert runner.invoke(app, [*fleet, "stop", str(run_file), "--hard"]).exit_code == 0
    assert workflow_state(run, double.workflows[("argo", name)]).status == "failed"


def test_argo_out_writes_a_workflow_that_validates(tmp_path: Path) -> None:
    _, run_file = _run(tmp_path)
    out = tmp_path / "wf.yaml"
    result = CliRunner().invoke(
        app,
        ["fleet", "run", str(run_file), "--engine", "argo", "--out", str(out), "--image", IMAGE],
    )
    assert result.exit_code == 0, result.output
    validate_workflow(yaml.safe_load(out.read_text()))


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    _, run_file = _run(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "fleet",
            "run",
            str(run_file),
            "--engine",
            "argo",
            "--server",
            "http://127.0.0.1:9",
            "--yes",
            "--image",
            IMAGE,
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach the Argo Server" in result.output


def test_clusters_blocked_or_unreachable_at_plan_time_fail_their_task(tmp_path: Path) -> None:
    run, _ = _run(tmp_path)
    clusters = [
        c.model_copy(update={"verdict": ClusterVerdict.UNREACHABLE, "plan": None, "reason": "x"})
        if c.name == "dev-b"
        else c.model_copy(update={"verdict": ClusterVerdict.SKIPPED})
        if c.name == "dev-c"
        else c
        for c in run.clusters
    ]
    workflow = render_workflow(run.model_copy(update={"clusters": clusters}), image=IMAGE)
    validate_workflow(workflow)
    templates = _templates(workflow)
    refused = templates[cluster_task("dev-b")]["container"]
    assert refused["args"] == ['echo "$REASON" >&2; exit 1']
    assert refused["env"][0]["value"] == "dev-b: unreachable at plan time: x"
    names = [t["name"] for t in templates["group-dev-dev"]["dag"]["tasks"]]
    assert cluster_task("dev-b") in names  # it counts, as in the local engine
    assert cluster_task("dev-c") not in names  # at target: skipped, as in the local engine


def test_a_stage_ceiling_is_kept_across_its_groups(tmp_path: Path) -> None:
    # Argo counts a template's parallelism over its direct children: a stage DAG's limit
    # counts groups (argo-workflows workflow/controller/node_counters.go), so the rendering
    # splits the stage's ceiling over its groups.
    text = TEXT.replace(
        "    selector: env=dev\n",
        "    selector: env=dev\n    groups:\n"
        "      - {name: a, selector: 'tier in (a)', maxConcurrency: 2}\n"
        "      - {name: b, selector: 'tier in (b)', maxConcurrency: 2}\n",
    ).replace("labels: {env: dev}, upstream: mgmt}", "labels: {env: dev, tier: a}, upstream: mgmt}")
    text = text.replace(
        '{name: dev-c, account: "222222222222", region: eu-west-1, labels: {env: dev, tier: a}',
        '{name: dev-c, account: "222222222222", region: eu-west-1, labels: {env: dev, tier: b}',
    )
    run, _ = make_run(tmp_path, text)
    run = run.model_copy(
        update={"clusters": [c.model_copy(update={"plan": _plan(c.name)}) for c in run.clusters]}
    )
    dev = run.stage("dev")
    assert dev.max_concurrency == 2
    assert [len(g.members) for g in dev.groups] == [2, 1]
    templates = _templates(render_workflow(run, image=IMAGE))
    shares = [templates[f"group-dev-{g}"]["parallelism"] for g in ("a", "b")]
    assert shares == [1, 1]  # 1 + 1 = the stage's 2, though each group alone allows 2
    assert templates["stage-dev"]["parallelism"] == 2


def _argo_sequence(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    """The entry DAG in dependency order, as (kind, name) steps."""
    tasks = {t["name"]: t for t in _templates(workflow)["fleet"]["dag"]["tasks"]}
    order: list[str] = []
    while len(order) < len(tasks):
        ready = [
            n
            for n, t in tasks.items()
            if n not in order
            and all(d in order for d in (t.get("depends") or "").split(" && ") if d)
        ]
        order += sorted(ready)
    steps = []
    for name in order:
        if name.startswith("stage-"):
            steps.append(("stage", name.removeprefix("stage-")))
        elif name.startswith("soak-"):
            steps.append(("soak", name.removeprefix("soak-")))
        else:
            steps.append(("gate", name))
    return steps


def test_the_local_engine_walks_the_same_dag_as_the_workflow(tmp_path: Path) -> None:
    from tests.usecases.fleet.builders import engine
    from upgrader.core.run.records import Phase
    from upgrader.fleet.journal import FleetJournal
    from upgrader.fleet.records import gate_step
    from upgrader.sandbox.clock import VirtualClock

    run, run_file = _run(tmp_path)
    clock = VirtualClock()
    eng, leaf = engine(run, run_file, clock)
    assert eng.execute().status == "stopped"  # at the change board's gate
    FleetJournal(run_file).approve(clock.now(), gate_step("prod/before/cab"), "cab")
    eng2, leaf2 = engine(run, run_file, clock)
    assert eng2.execute().status == "completed"
    local: list[tuple[str, str]] = []
    for record in FleetJournal(run_file).records():
        kind, _, name = (record.step or "").partition("/")
        if record.phase is Phase.STARTED and kind == "cluster":
            step = ("stage", run.cluster(name).stage)
        elif record.phase is Phase.MEMO and kind == "stage":
            step = ("soak", name)
        elif record.phase is Phase.WAITING and kind == "gate":
            step = ("gate", gate_task(name))
        else:
            continue
        if step not in local:
            local.append(step)
    workflow = render_workflow(run, image=IMAGE)
    assert local == _argo_sequence(workflow)
    # The same concurrency: what the local pool reached is what each group template allows.
    templates = _templates(workflow)
    for stage in run.stages:
        (group,) = stage.groups
        assert templates[f"group-{stage.name}-{group.name}"]["parallelism"] == max(
            leaf.max_running.get(stage.name, 0), leaf2.max_running.get(stage.name, 0)
        )
