"""The Argo engine: a fleet run rendered as one Argo Workflow for the management cluster.

Compile, don't schedule: the Workflow encodes the same semantics as the local engine, and every
leaf is `eksup fleet execute-cluster` (an `eksup execute <plan> --resume --yes` plus the fleet's
approval of the cluster gate and the control-plane soak), whose journal and Lease make Argo's
retries safe. The mapping (Argo's own features, docs: walk-through/dag.md, parallelism.md,
suspending.md, retries.md, fields.md):

- stages: tasks of the entry DAG, each depending on the one before (layers);
- groups: parallel tasks of a stage's DAG; clusters: tasks of a group's DAG;
- maxConcurrency: template-level `parallelism` of each group, and of the stage over its groups
  (see `group_shares` for how a stage ceiling is kept across groups);
- fail-fast: DAG `failFast` (Argo's default: no new task starts after a failure, running ones
  finish); maxAllowedFailures > 0: cluster tasks `continueOn: {failed: true}`, a `tolerate`
  task that fails the group when more of its clusters failed than allowed, and, when the groups
  together may tolerate more than their stage, a stage `tolerate` over the groups' counts. Each
  cluster's step first reads its own Workflow and asks the local engine's rules
  (`upgrader.fleet.policy`, see `argo_guard`): once its stage is over an allowance it does not
  start, as in the local engine. An upstream cluster's failure is never tolerated (its
  downstream clusters could not be upgraded after it), and a downstream step does not start
  before its upstream reached the target;
- skip: `eksup fleet skip` marks the cluster in its own cluster; its step reads the mark and
  ends `skipped` without changing anything (a failed one: after `eksup fleet retry`);
- approvals: `suspend: {}` tasks named after the gate, resumed by `eksup fleet approve`
  (PUT .../resume with a nodeFieldSelector on the task's displayName);
- soaks: `suspend: {duration}` (after a stage; per cluster between control plane and nodes);
- retries: `retryStrategy` OnError (the pod or node died, not the upgrade) with back-off; a
  failed upgrade is retried by a person, `eksup fleet retry` (PUT .../retry), on the same plan.
Each cluster's plan travels inside the Workflow as a raw input artifact, so the Workflow is the
whole run, reviewable in Git (mind Argo's ~1 MB object limit beyond ~50 clusters).
"""

from __future__ import annotations

import re
from typing import Any

from upgrader.fleet.run_doc import ClusterVerdict, FleetRun, RunCluster, RunGroup, RunStage

PLAN_PATH = "/work/plan.json"
FAILED_PATH = "/tmp/failed"  # the tolerate task writes its count here
OUTCOME_PATH = "/tmp/outcome"  # in the step container (argo_guard)
RUN_PATH = "/work/run.json"


def k8s_name(text: str) -> str:
    """A DNS-1123 label: Argo task names end up in node names and pod names."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "x"


def gate_task(gate: str) -> str:
    return k8s_name(f"gate-{gate.replace('/', '-')}")


def cluster_task(name: str) -> str:
    return k8s_name(f"cluster-{name}")


def _upstreams(run: FleetRun) -> set[str]:
    return {c.upstream for c in run.clusters if c.upstream}


def _leaf_args(phase: str) -> list[str]:
    script = (
        'aws eks update-kubeconfig --name "$CLUSTER" --region "$REGION" '
        '${ROLE_ARN:+--role-arn "$ROLE_ARN"} --alias "$CLUSTER" --kubeconfig /tmp/kubeconfig '
        "&& KUBECONFIG=/tmp/kubeconfig exec eksup fleet execute-cluster "
        f'{RUN_PATH} --plan {PLAN_PATH} --cluster "$CLUSTER" --context "$CLUSTER" '
        f'--phase {phase} --workflow "$WORKFLOW" --outcome-file {OUTCOME_PATH} --yes'
    )
    return [script]


def _cluster_container(
    run: FleetRun, cluster: RunCluster, phase: str, image: str
) -> dict[str, Any]:
    assert cluster.plan is not None
    env = [
        {"name": "CLUSTER", "value": cluster.name},
        {"name": "REGION", "value": cluster.region},
        {"name": "AWS_REGION", "value": cluster.region},
        # The step reads its own Workflow to apply the fleet's rules before it starts.
        {"name": "WORKFLOW", "value": "{{workflow.namespace}}/{{workflow.name}}"},
    ]
    if cluster.role_arn:
        env.append({"name": "ROLE_ARN", "value": cluster.role_arn})
    name = cluster_task(cluster.name) + ("" if phase == "all" else f"-{phase}")
    return {
        "name": name,
        "inputs": {
            "artifacts": [
                {"name": "plan", "path": PLAN_PATH, "raw": {"data": cluster.plan.to_json()}},
                {"name": "run", "path": RUN_PATH, "raw": {"data": _run_for_leaf(run, cluster)}},
            ]
        },
        "outputs": {
            "parameters": [{"name": "outcome", "valueFrom": {"path": OUTCOME_PATH, "default": ""}}]
        },
        "retryStrategy": {
            "limit": "2",
            "retryPolicy": "OnError",
            "backoff": {"duration": "30s", "factor": "2", "maxDuration": "10m"},
        },
        "container": {
            "image": image,
            "command": ["sh", "-c"],
            "args": _leaf_args(phase),
            "env": env,
        },
    }


def _run_for_leaf(run: FleetRun, cluster: RunCluster) -> str:
    """The run without the other clusters' plans: what one pod needs, and no more."""
    clusters = [
        c if c.name == cluster.name else c.model_copy(update={"plan": None}) for c in run.clusters
    ]
    return run.model_copy(update={"clusters": clusters}).to_json()


def _refused_template(cluster: RunCluster, image: str) -> dict[str, Any]:
    """A cluster blocked or unreachable at plan time fails its task at once, with the plan's
    reason, so it counts against maxAllowedFailures as in the local engine (the reason travels
    in an environment variable: never pasted into the shell line)."""
    return {
        "name": cluster_task(cluster.name),
        "container": {
            "image": image,
            "command": ["sh", "-c"],
            "args": ['echo "$REASON" >&2; exit 1'],
            "env": [
                {
                    "name": "REASON",
                    "value": f"{cluster.name}: {cluster.verdict.value} at plan time: "
                    f"{cluster.reason}",
                }
            ],
        },
    }


def _cluster_templates(run: FleetRun, cluster: RunCluster, image: str) -> list[dict[str, Any]]:
    if cluster.verdict in (ClusterVerdict.BLOCKED, ClusterVerdict.UNREACHABLE):
        return [_refused_template(cluster, image)]
    if not cluster.soak_after_control_plane_seconds:
        return [_cluster_container(run, cluster, "all", image)]
    base = cluster_task(cluster.name)
    cp = _cluster_container(run, cluster, "control-plane", image)
    nodes = _cluster_container(run, cluster, "nodes", image)
    soak = {
        "name": f"{base}-soak",
        "suspend": {"duration": f"{cluster.soak_after_control_plane_seconds}s"},
    }
    flow = {
        "name": base,
        "dag": {
            "tasks": [
                {"name": "control-plane", "template": cp["name"]},
                {"name": "soak", "template": soak["name"], "depends": "control-plane"},
                {"name": "nodes", "template": nodes["name"], "depends": "soak"},
            ]
        },
    }
    return [flow, cp, soak, nodes]


def _tolerate_task(
    name: str, members: list[str], allowed: int, depends: str, image: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A task that fails when more of `members` failed than `allowed`; `members` are Argo
    expressions that give a task status or a count of failures."""
    template = {
        "name": name,
        "inputs": {"parameters": [{"name": "statuses"}]},
        "outputs": {
            "parameters": [{"name": "failed", "valueFrom": {"path": FAILED_PATH, "default": "0"}}]
        },
        "container": {
            "image": image,
            "command": ["eksup", "fleet", "tolerate"],
            "args": [
                "--allowed",
                str(allowed),
                "--count-file",
                FAILED_PATH,
                "{{inputs.parameters.statuses}}",
            ],
        },
    }
    statuses = ",".join(members)
    task = {
        "name": "tolerate",
        "template": name,
        "depends": depends,
        "arguments": {"parameters": [{"name": "statuses", "value": statuses}]},
    }
    return template, task


def _gate_tasks(gates: list[str], depends: str | None) -> list[dict[str, Any]]:
    tasks = []
    for gate in gates:
        task: dict[str, Any] = {"name": gate_task(gate), "template": "approval"}
        if depends:
            task["depends"] = depends
        tasks.append(task)
    return tasks


def _all(names: list[str]) -> str | None:
    return " && ".join(names) if names else None


def _runnable(run: FleetRun, name: str) -> bool:
    return run.cluster(name).verdict is not ClusterVerdict.SKIPPED


def group_shares(stage: RunStage) -> dict[str, int]:
    """Each group's `parallelism`. Argo counts a template's parallelism over its own children
    only (workflow/controller/node_counters.go: `node.BoundaryID == boundaryID`), so a stage
    DAG's limit counts running groups, not the clusters inside them. A stage ceiling below the
    sum of its groups' limits is therefore split across the groups, in order, each at least 1
    (the stage template then lets at most `ceiling` groups run): never above the ceiling, though
    capacity a finished group leaves is not handed on as the local engine does."""
    shares = {g.name: 1 for g in stage.groups}
    spare = stage.max_concurrency - len(stage.groups)
    for group in stage.groups:
        extra = max(0, min(group.max_concurrency - 1, spare))
        shares[group.name] += extra
        spare -= extra
    return shares


def _group_template(
    run: FleetRun,
    stage: RunStage,
    group: RunGroup,
    image: str,
    templates: list[dict[str, Any]],
) -> dict[str, Any]:
    shares = group_shares(stage)
    upstreams = _upstreams(run)
    before = _gate_tasks(group.before_gates, None)
    tasks: list[dict[str, Any]] = list(before)
    members = [m for m in group.members if _runnable(run, m)]
    tolerated = group.allowed_failures > 0
    outputs: dict[str, Any] | None = None
    for name in members:
        task: dict[str, Any] = {"name": cluster_task(name), "template": cluster_task(name)}
        if before:
            task["depends"] = _all([t["name"] for t in before])
        if tolerated and name not in upstreams:
            task["continueOn"] = {"failed": True}
        tasks.append(task)
    ends = [cluster_task(m) for m in members] or [t["name"] for t in before]
    if tolerated and members:
        name = k8s_name(f"tolerate-{stage.name}-{group.name}")
        depends = " && ".join(f"({t}.Succeeded || {t}.Failed)" for t in ends)
        statuses = [f"{{{{tasks.{cluster_task(m)}.status}}}}" for m in members]
        template, task = _tolerate_task(name, statuses, group.allowed_failures, depends, image)
        templates.append(template)
        tasks.append(task)
        ends = ["tolerate"]
        outputs = {
            "parameters": [
                {
                    "name": "failed",
                    "valueFrom": {"parameter": "{{tasks.tolerate.outputs.parameters.failed}}"},
                }
            ]
        }
    tasks += _gate_tasks(group.after_gates, _all(ends))
    dag: dict[str, Any] = {"tasks": tasks or [{"name": "nothing", "template": "approval-free"}]}
    template = {
        "name": k8s_name(f"group-{stage.name}-{group.name}"),
        "parallelism": shares[group.name],
        "dag": dag,
    }
    if outputs is not None:
        template["outputs"] = outputs
    return template


def stage_wide_check(stage: RunStage) -> bool:
    """Whether a stage needs its own count across groups: only when its groups together may
    tolerate more failures than the stage does (otherwise the groups' checks are enough)."""
    tolerating = [g for g in stage.groups if g.allowed_failures > 0]
    return len(stage.groups) > 1 and (
        sum(min(g.allowed_failures, len(g.members)) for g in tolerating) > stage.allowed_failures
    )


def render_workflow(
    run: FleetRun,
    *,
    image: str,
    namespace: str = "argo",
    service_account: str = "eksup-fleet",
) -> dict[str, Any]:
    templates: list[dict[str, Any]] = [
        {"name": "approval", "suspend": {}},
        {"name": "approval-free", "suspend": {"duration": "0s"}},
    ]
    entry: list[dict[str, Any]] = []
    previous: str | None = None
    for stage in run.stages:
        sname = k8s_name(f"stage-{stage.name}")
        before = _gate_tasks(stage.before_gates, previous)
        entry += before
        stage_depends = _all([t["name"] for t in before]) or previous
        task: dict[str, Any] = {"name": sname, "template": sname}
        if stage_depends:
            task["depends"] = stage_depends
        entry.append(task)
        group_tasks = []
        counted = []
        for group in stage.groups:
            template = _group_template(run, stage, group, image, templates)
            templates.append(template)
            task_name = k8s_name(f"group-{group.name}")
            group_tasks.append({"name": task_name, "template": template["name"]})
            if "outputs" in template:
                counted.append(f"{{{{tasks.{task_name}.outputs.parameters.failed}}}}")
        if stage_wide_check(stage):
            # The stage's own allowance across its groups: each group reports its failures
            # (a group over its own allowance has failed the stage already, fail-fast).
            name = k8s_name(f"tolerate-{stage.name}")
            depends = " && ".join(t["name"] for t in group_tasks)
            template, task = _tolerate_task(name, counted, stage.allowed_failures, depends, image)
            templates.append(template)
            group_tasks.append(task)
        templates.append(
            {
                "name": sname,
                "parallelism": min(stage.max_concurrency, len(stage.groups)),
                "dag": {"tasks": group_tasks},
            }
        )
        after = []
        if stage.after_wait_seconds:
            soak = k8s_name(f"soak-{stage.name}")
            templates.append(
                {"name": soak, "suspend": {"duration": f"{stage.after_wait_seconds}s"}}
            )
            after.append({"name": soak, "template": soak, "depends": sname})
        after += _gate_tasks(stage.after_gates, sname)
        entry += after
        previous = _all([t["name"] for t in after]) or sname
    for cluster in run.clusters:
        if _runnable(run, cluster.name):
            templates += _cluster_templates(run, cluster, image)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": k8s_name(run.run_id),
            "namespace": namespace,
            "labels": {"eksup.io/fleet-run": k8s_name(run.run_id)},
            "annotations": {"eksup.io/target-version": run.target_version},
        },
        "spec": {
            "entrypoint": "fleet",
            "serviceAccountName": service_account,
            "templates": [{"name": "fleet", "dag": {"tasks": entry}}, *templates],
        },
    }


class WorkflowSchemaError(ValueError):
    pass


def schema_available() -> bool:
    try:
        import hera.workflows.models  # noqa: F401
    except ImportError:
        return False
    return True


def validate_workflow(document: dict[str, Any]) -> None:
    """Check a rendered Workflow against Argo's own schema: Hera's models are generated from
    Argo's OpenAPI spec; a field they do not know is dropped on the way through, so the round
    trip must give the document back unchanged."""
    from hera.workflows.models import Workflow
    from pydantic import ValidationError

    try:
        model = Workflow.model_validate(document)
    except ValidationError as error:
        raise WorkflowSchemaError(str(error)) from None
    again = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    if again != document:
        raise WorkflowSchemaError(f"fields Argo does not know: {_diff(document, again)}")


def _diff(a: Any, b: Any, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                return f"{path}.{key}"
            found = _diff(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return ""
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _diff(x, y, f"{path}[{index}]")
            if found:
                return found
        return "" if len(a) == len(b) else f"{path} (length)"
    return "" if a == b else f"{path} ({a!r} != {b!r})"
