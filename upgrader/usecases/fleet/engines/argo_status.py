"""A submitted fleet Workflow's status, read back as the fleet's own state (`eksup fleet status`).

Argo node phases (argo-workflows `pkg/apis/workflow/v1alpha1/workflow_types.go` NodePhase):
Pending, Running, Succeeded, Skipped, Failed, Error, Omitted. A suspend node that is Running is
a gate waiting for approval (or a soak under way); a workflow with `spec.suspend` is stopped:
nothing new starts, running pods finish.
"""

from __future__ import annotations

from typing import Any

from upgrader.fleet.run_doc import FleetRun
from upgrader.fleet.state import ClusterStatus, FleetState
from upgrader.usecases.fleet.engines.argo import cluster_task, gate_task, k8s_name

_PHASES = {
    "Succeeded": ClusterStatus.SUCCEEDED,
    "Failed": ClusterStatus.FAILED,
    "Error": ClusterStatus.FAILED,
    "Running": ClusterStatus.RUNNING,
    "Pending": ClusterStatus.RUNNING,
    "Skipped": ClusterStatus.SKIPPED,
    "Omitted": ClusterStatus.SKIPPED,
}


_OUTCOMES = {
    "skipped": ClusterStatus.SKIPPED,
    "not-started": ClusterStatus.PENDING,
    "failed": ClusterStatus.FAILED,
}


def _outcome(nodes: list[dict[str, Any]], task: str) -> str | None:
    """The `outcome` output of a cluster's step (its control-plane step when it soaks), when
    the step set one that changes what Argo's phase says."""
    steps = (task, f"{task}-control-plane", f"{task}-nodes")
    for node in nodes:
        if node.get("templateName") not in steps or node.get("type") != "Pod":
            continue
        for parameter in (node.get("outputs") or {}).get("parameters") or []:
            value = str(parameter.get("value") or "")
            if parameter.get("name") == "outcome" and value.split(": ", 1)[0] in _OUTCOMES:
                return value
    return None


def with_requested_skips(state: FleetState, journal: FleetState) -> FleetState:
    """`eksup fleet skip` on an Argo run is marked in the cluster and applied by its step when
    it starts: until then, say so."""
    for name, local in journal.clusters.items():
        if local.status is not ClusterStatus.SKIPPED:
            continue
        current = state.cluster(name)
        if current.status is ClusterStatus.PENDING:
            current.status, current.reason = ClusterStatus.SKIPPED, local.reason
        elif current.status is ClusterStatus.FAILED:
            current.reason += f"; skip requested ({local.reason}): `eksup fleet retry` applies it"
    return state


def workflow_state(run: FleetRun, workflow: dict[str, Any]) -> FleetState:
    status = workflow.get("status") or {}
    nodes = list((status.get("nodes") or {}).values())
    by_name: dict[str, dict[str, Any]] = {}
    for node in nodes:
        # A retried pod shows as "name(0)", "name(1)" under a Retry node named "name".
        by_name.setdefault(node.get("displayName", ""), node)
    state = FleetState()
    for cluster in run.clusters:
        node = by_name.get(cluster_task(cluster.name))
        current = state.cluster(cluster.name)
        if node is None:
            if cluster.verdict.value == "skipped":
                current.status, current.reason = ClusterStatus.SKIPPED, cluster.reason
            continue
        current.status = _PHASES.get(node.get("phase", ""), ClusterStatus.PENDING)
        current.reason = node.get("message", "")
        outcome = _outcome(nodes, cluster_task(cluster.name))
        if outcome is not None:
            # What the step itself said (argo_guard): skipped, not started, refused.
            word, _, why = outcome.partition(": ")
            current.status = _OUTCOMES.get(word, current.status)
            current.reason = why
        current.attempts = (
            sum(
                1
                for n in nodes
                if n.get("displayName", "").startswith(f"{cluster_task(cluster.name)}(")
            )
            or 1
        )
    for gate in run.gates:
        node = by_name.get(gate_task(gate))
        if node is None:
            continue
        if node.get("phase") == "Running":
            state.waiting_gates.append(gate)
        elif node.get("phase") == "Succeeded":
            state.approved[gate] = "resumed in Argo"
    for stage in run.stages:
        node = by_name.get(k8s_name(f"stage-{stage.name}"))
        if node is not None and node.get("phase") in ("Succeeded", "Failed", "Error"):
            state.stage_outcomes[stage.name] = (
                "completed" if node["phase"] == "Succeeded" else "failed"
            )
    phase = status.get("phase", "Pending")
    suspended = bool((workflow.get("spec") or {}).get("suspend"))
    state.status = {
        "Succeeded": "completed",
        "Failed": "failed",
        "Error": "failed",
    }.get(phase, "stopped" if suspended else "running")
    state.reason = status.get("message", "") or (
        "suspended: nothing new starts" if suspended else ""
    )
    if suspended:
        state.stop_requested = "argo suspend"
    return state
