"""The local engine's failure rules on the Argo engine: a stage-wide allowance across groups
(a stage `tolerate` over the groups' counts), the step's own check before its cluster starts
(the same `policy` functions the local engine asks, over the Workflow's node statuses), and
`fleet skip` through a mark in the member cluster. Argo's node phases and output parameters:
argo-workflows pkg/apis/workflow/v1alpha1/workflow_types.go (NodeStatus.outputs)."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.usecases.fleet.argo_double import ArgoDouble
from tests.usecases.fleet.builders import FLEET, engine, make_run
from tests.usecases.fleet.test_argo import IMAGE, _plan
from upgrader.adapters.argo_workflow import offloaded, unpacked
from upgrader.cli import app
from upgrader.fleet.journal import FleetJournal
from upgrader.fleet.policy import policy_failed
from upgrader.fleet.state import ClusterStatus
from upgrader.sandbox.clock import VirtualClock
from upgrader.sandbox.cluster.fake_cluster import FakeCluster
from upgrader.usecases.fleet.engines.argo import cluster_task, render_workflow, validate_workflow
from upgrader.usecases.fleet.engines.argo_guard import (
    GO,
    judge,
    read_skip_marker,
    write_skip_marker,
)
from upgrader.usecases.fleet.engines.argo_status import workflow_state
from upgrader.usecases.fleet.engines.argo_step import argo_step

# dev in two groups that each tolerate one failure; the stage tolerates one in all.
TWO_GROUPS = (
    FLEET.replace("{allowed}", "1")
    .replace(
        "    selector: env=dev\n",
        "    selector: env=dev\n    groups:\n"
        "      - {name: a, selector: 'tier in (a)', maxConcurrency: 1, maxAllowedFailures: 1}\n"
        "      - {name: b, selector: 'tier in (b)', maxConcurrency: 1, maxAllowedFailures: 1}\n",
    )
    .replace("maxConcurrency: 2\n", "maxConcurrency: 1\n")
    .replace(
        '{name: dev-a, account: "222222222222", region: eu-west-1, labels: {env: dev}',
        '{name: dev-a, account: "222222222222", region: eu-west-1, labels: {env: dev, tier: a}',
    )
    .replace(
        '{name: dev-b, account: "222222222222", region: eu-west-1, labels: {env: dev}',
        '{name: dev-b, account: "222222222222", region: eu-west-1, labels: {env: dev, tier: b}',
    )
    .replace(
        '{name: dev-c, account: "222222222222", region: eu-west-1, labels: {env: dev}',
        '{name: dev-c, account: "222222222222", region: eu-west-1, labels: {env: dev, tier: b}',
    )
)


def _run(tmp_path: Path, text: str = TWO_GROUPS) -> tuple[Any, Path]:
    run, run_file = make_run(tmp_path, text)
    run = run.model_copy(
        update={"clusters": [c.model_copy(update={"plan": _plan(c.name)}) for c in run.clusters]}
    )
    run_file.write_text(run.to_json())
    return run, run_file


def _node(display: str, phase: str, kind: str = "Pod", outcome: str | None = None) -> Any:
    node: dict[str, Any] = {
        "id": display,
        "displayName": display,
        "templateName": display,
        "type": kind,
        "phase": phase,
    }
    if outcome is not None:
        node["outputs"] = {"parameters": [{"name": "outcome", "value": outcome}]}
    return node


def _workflow(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"status": {"phase": "Running", "nodes": {n["id"]: n for n in nodes}}}


def _templates(wf: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in wf["spec"]["templates"]}


def test_a_stage_allowance_across_groups_is_a_stage_tolerate_over_the_groups_counts(
    tmp_path: Path,
) -> None:
    run, _ = _run(tmp_path)
    dev = run.stage("dev")
    assert [g.allowed_failures for g in dev.groups] == [1, 1]
    assert dev.allowed_failures == 1
    workflow = render_workflow(run, image=IMAGE)
    validate_workflow(workflow)
    templates = _templates(workflow)
    stage_tasks = {t["name"]: t for t in templates["stage-dev"]["dag"]["tasks"]}
    tolerate = stage_tasks["tolerate"]
    assert tolerate["depends"] == "group-a && group-b"
    counts = tolerate["arguments"]["parameters"][0]["value"]
    assert counts == (
        "{{tasks.group-a.outputs.parameters.failed}},{{tasks.group-b.outputs.parameters.failed}}"
    )
    assert templates["tolerate-dev"]["container"]["args"][:2] == ["--allowed", "1"]
    group_a = templates["group-dev-a"]
    assert group_a["outputs"]["parameters"][0]["valueFrom"] == {
        "parameter": "{{tasks.tolerate.outputs.parameters.failed}}"
    }
    # A stage whose groups cannot tolerate more than it does needs no count of its own.
    assert "tolerate" not in {t["name"] for t in templates["stage-management"]["dag"]["tasks"]}


def test_tolerate_adds_group_counts_and_writes_its_own(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "failed"
    result = runner.invoke(
        app, ["fleet", "tolerate", "--allowed", "1", "--count-file", str(out), "1,1"]
    )
    assert result.exit_code == 1, result.output
    assert "2 failed, more than maxAllowedFailures 1" in result.output
    assert out.read_text() == "2"
    ok = runner.invoke(
        app, ["fleet", "tolerate", "--allowed", "1", "--count-file", str(out), "Failed,Succeeded"]
    )
    assert ok.exit_code == 0
    assert out.read_text() == "1"


def test_the_step_stops_starting_clusters_where_the_local_engine_does(tmp_path: Path) -> None:
    run, run_file = _run(tmp_path)
    # Local: dev-a (group a) fails, then dev-b (group b) fails: 2 > the stage's 1, so dev-c,
    # which each group alone would still allow, never starts.
    clock = VirtualClock()
    eng, leaf = engine(
        run,
        run_file,
        clock,
        {"dev-a": ClusterStatus.FAILED, "dev-b": ClusterStatus.FAILED},
    )
    outcome = eng.execute()
    assert outcome.status == "failed"
    assert "2 failed cluster(s), more than maxAllowedFailures 1" in outcome.reason
    assert "dev-c" not in [name for name, _, _ in leaf.started]
    local = FleetJournal(run_file).state()
    _, local_why = policy_failed(run, run.stage("dev"), local)

    # Argo: the same statuses in the Workflow; dev-c's step reads them and does not start.
    workflow = _workflow(
        _node(cluster_task("mgmt"), "Succeeded"),
        _node(cluster_task("dev-a"), "Failed"),
        _node(cluster_task("dev-b"), "Failed"),
        _node(cluster_task("dev-c"), "Running"),
    )
    verdict = judge(run, "dev-c", workflow)
    assert verdict.status is ClusterStatus.PENDING
    assert verdict.reason == f"stage dev failed: {local_why} (fail-fast)"
    assert verdict.outcome.startswith("not-started: stage dev failed")
    # Within the allowance it goes on.
    ok = _workflow(
        _node(cluster_task("mgmt"), "Succeeded"),
        _node(cluster_task("dev-a"), "Failed"),
        _node(cluster_task("dev-c"), "Running"),
    )
    assert judge(run, "dev-c", ok) == GO
    # Its upstream not at the target: it fails, as the local engine records it.
    early = _workflow(
        _node(cluster_task("mgmt"), "Failed"), _node(cluster_task("dev-c"), "Running")
    )
    refused = judge(run, "dev-c", early)
    assert refused.status is ClusterStatus.FAILED
    assert "its upstream mgmt did not reach 1.31" in refused.reason


def test_status_reads_the_steps_outcome_and_compressed_nodes(tmp_path: Path) -> None:
    run, _ = _run(tmp_path)
    nodes = {
        "a": _node(cluster_task("dev-c"), "Succeeded", outcome="not-started: stage dev failed"),
        "b": _node(cluster_task("dev-a"), "Succeeded", outcome="skipped: decommissioned"),
    }
    packed = base64.b64encode(gzip.compress(json.dumps(nodes).encode())).decode()
    workflow = unpacked({"status": {"phase": "Failed", "compressedNodes": packed}})
    state = workflow_state(run, workflow)
    assert state.cluster("dev-c").status is ClusterStatus.PENDING
    assert (state.cluster("dev-a").status, state.cluster("dev-a").reason) == (
        ClusterStatus.SKIPPED,
        "decommissioned",
    )
    assert offloaded({"status": {"offloadNodeStatusVersion": "abc"}})
    assert not offloaded(workflow)


def test_a_marked_cluster_is_skipped_by_its_step_before_anything_runs(tmp_path: Path) -> None:
    run, _ = _run(tmp_path)
    kube = FakeCluster(VirtualClock())
    assert read_skip_marker(kube, run, "dev-a") is None
    write_skip_marker(kube, run, "dev-a", "decommissioned (skipped by sre)")
    other = run.model_copy(update={"run_id": "another-run"})
    assert read_skip_marker(kube, other, "dev-a") is None  # another run's mark is not ours
    target = SimpleNamespace(kube=kube)

    def no_workflow() -> dict[str, Any]:
        raise AssertionError("a skipped cluster needs nothing else")

    verdict = argo_step(
        run,
        run.cluster("dev-a"),
        tmp_path / "dev-a.plan.json",
        target,  # type: ignore[arg-type]
        soak_done=False,
        read_workflow=no_workflow,
        log=print,
    )
    assert verdict.outcome == "skipped: decommissioned (skipped by sre)"
    assert not (tmp_path / "dev-a.plan.json").exists()  # nothing ran


def test_fleet_skip_on_an_argo_run_marks_the_cluster_and_status_says_so(
    tmp_path: Path, argo: tuple[ArgoDouble, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from upgrader.cli import fleet_control

    double, url = argo
    run, run_file = _run(tmp_path)
    kubes = {c.name: FakeCluster(VirtualClock()) for c in run.clusters}

    @contextmanager
    def members(_sandbox: bool) -> Iterator[Any]:
        @contextmanager
        def opener(cluster: Any) -> Iterator[Any]:
            yield SimpleNamespace(kube=kubes[cluster.name])

        yield opener

    monkeypatch.setattr(fleet_control, "_members", members)
    runner = CliRunner()
    submitted = runner.invoke(
        app,
        [
            "fleet",
            "run",
            str(run_file),
            "--engine",
            "argo",
            "--yes",
            "--image",
            IMAGE,
            "--server",
            url,
        ],
    )
    assert submitted.exit_code == 0, submitted.output
    double.set_node(run.run_id, cluster_task("mgmt"), "Succeeded")
    double.set_node(run.run_id, cluster_task("dev-a"), "Failed", message="preflight refused")

    late = runner.invoke(
        app, ["fleet", "skip", str(run_file), "--cluster", "mgmt", "--reason", "x"]
    )
    assert late.exit_code == 3
    assert "too late to skip" in late.output
    skipped = runner.invoke(
        app, ["fleet", "skip", str(run_file), "--group", "dev.b", "--reason", "decommissioned"]
    )
    assert skipped.exit_code == 0, skipped.output
    assert read_skip_marker(kubes["dev-b"], run, "dev-b") is not None
    assert read_skip_marker(kubes["dev-c"], run, "dev-c") is not None
    failed = runner.invoke(
        app, ["fleet", "skip", str(run_file), "--cluster", "dev-a", "--reason", "broken disk"]
    )
    assert failed.exit_code == 0, failed.output
    status = runner.invoke(app, ["fleet", "status", str(run_file), "--format", "json"])
    rows = {r["cluster"]: r for r in json.loads(status.output)["clusters"]}
    assert rows["dev-b"]["status"] == "skipped"
    assert rows["dev-b"]["reason"].startswith("decommissioned (skipped by")
    assert rows["dev-a"]["status"] == "failed"
    assert "skip requested (broken disk" in rows["dev-a"]["reason"]
    assert "`eksup fleet retry` applies it" in rows["dev-a"]["reason"]
